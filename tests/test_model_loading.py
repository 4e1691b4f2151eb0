"""write_model -> load_model round trip and the integrity checks that run before unpickling."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import pytest

from moderation import model as model_mod
from moderation.model import (
    LoadedModel,
    ModelIntegrityError,
    ModelNotFoundError,
    TextModel,
    list_versions,
    load_model,
    read_manifest,
)
from training.export import write_model
from training.pipelines import fit_text_model

TEXTS = ["slot gacor maxwin", "situs gacor wd cepat", "dasar goblok", "anjing lu", "berita bagus", "semoga sehat"]
LABELS = {"spam": [1, 1, 0, 0, 0, 0], "toxic": [0, 0, 1, 1, 0, 0]}


@pytest.fixture(scope="module")
def tiny() -> TextModel:
    return fit_text_model(TEXTS, LABELS, seed=0)


def test_round_trip(tmp_path: Path, tiny: TextModel) -> None:
    v = write_model(tiny, tmp_path, version="2026.01.01-01", thresholds={"spam": 0.7}, metrics={"x": 1},
                    sources=[{"name": "s", "licence": "MIT"}])
    assert v == "2026.01.01-01"
    assert (tmp_path / "CURRENT").read_text().strip() == v
    loaded = load_model(tmp_path)
    assert isinstance(loaded, LoadedModel) and loaded.version == v
    assert loaded.thresholds == {"spam": 0.7, "toxic": 0.5}
    [got], [want] = loaded.model.predict_scores(["slot gacor"]), tiny.predict_scores(["slot gacor"])
    assert got.keys() == want.keys() and got == pytest.approx(want)
    man = read_manifest(tmp_path, v)
    assert man["heads"] == ["spam", "toxic"] and len(man["files"]["model.joblib"]["sha256"]) == 64
    assert {"scikit-learn", "numpy", "python"} <= set(man["libraries"])
    assert man["data_sources"][0]["licence"] == "MIT" and "created_at" in man


def test_versions_sort_and_current(tmp_path: Path, tiny: TextModel) -> None:
    a = write_model(tiny, tmp_path)
    b = write_model(tiny, tmp_path, set_current=False)
    assert list_versions(tmp_path) == sorted([a, b]) and a < b
    assert load_model(tmp_path).version == a
    assert load_model(tmp_path, b).version == b


def test_missing_current(tmp_path: Path, tiny: TextModel) -> None:
    write_model(tiny, tmp_path, version="2026.01.01-01", set_current=False)
    with pytest.raises(ModelNotFoundError):
        load_model(tmp_path)
    with pytest.raises(ModelNotFoundError):
        load_model(tmp_path / "nope")
    with pytest.raises(ModelNotFoundError):
        load_model(tmp_path, "2099.01.01-01")
    with pytest.raises(ModelNotFoundError):
        load_model(tmp_path, "../etc")


def test_tampered_file_refused_before_unpickling(tmp_path: Path, tiny: TextModel, monkeypatch: pytest.MonkeyPatch) -> None:
    v = write_model(tiny, tmp_path, version="2026.01.01-01")
    path = tmp_path / v / "model.joblib"
    joblib.dump({"evil": True}, path)  # a different pickle under the same name

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("joblib.load must not be called for a tampered file")

    monkeypatch.setattr(joblib, "load", boom)
    with pytest.raises(ModelIntegrityError, match="sha256"):
        load_model(tmp_path)


def _edit_manifest(tmp_path: Path, v: str, fn) -> None:  # noqa: ANN001
    p = tmp_path / v / "manifest.json"
    m = json.loads(p.read_text())
    fn(m)
    p.write_text(json.dumps(m))


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m["libraries"].update({"scikit-learn": "0.24.2"}),
        lambda m: m["libraries"].update({"numpy": "1.0.0"}),
        lambda m: m.pop("libraries"),
        lambda m: m.update({"version": "other"}),
        lambda m: m.update({"files": {}}),
        lambda m: m["thresholds"].update({"spam": 3}),
        lambda m: m.update({"heads": ["spam"]}),
    ],
)
def test_manifest_mismatch_refused(tmp_path: Path, tiny: TextModel, edit) -> None:  # noqa: ANN001
    v = write_model(tiny, tmp_path, version="2026.01.01-01")
    _edit_manifest(tmp_path, v, edit)
    with pytest.raises(ModelIntegrityError):
        load_model(tmp_path)


def test_malformed_manifest(tmp_path: Path, tiny: TextModel) -> None:
    v = write_model(tiny, tmp_path, version="2026.01.01-01")
    (tmp_path / v / "manifest.json").write_text("{not json")
    with pytest.raises(ModelIntegrityError):
        load_model(tmp_path)


def test_wrong_object_type_refused(tmp_path: Path, tiny: TextModel) -> None:
    v = write_model(tiny, tmp_path, version="2026.01.01-01")
    path = tmp_path / v / "model.joblib"
    joblib.dump({"not": "a model"}, path)
    _edit_manifest(tmp_path, v, lambda m: m["files"]["model.joblib"].update({"sha256": model_mod._sha256(path)}))
    with pytest.raises(ModelIntegrityError, match="TextModel"):
        load_model(tmp_path)


def test_inconsistent_version_warning_becomes_integrity_error(tmp_path: Path, tiny: TextModel,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from sklearn.exceptions import InconsistentVersionWarning

    v = write_model(tiny, tmp_path, version="2026.01.01-01")
    real = joblib.load

    def warn_then_load(*a: object, **k: object) -> object:
        import warnings

        warnings.warn(InconsistentVersionWarning(estimator_name="X", current_sklearn_version="9", original_sklearn_version="1"))
        return real(*a, **k)

    monkeypatch.setattr(joblib, "load", warn_then_load)
    with pytest.raises(ModelIntegrityError):
        load_model(tmp_path)


def test_write_model_refuses_overwrite(tmp_path: Path, tiny: TextModel) -> None:
    write_model(tiny, tmp_path, version="2026.01.01-01")
    with pytest.raises(FileExistsError):
        write_model(tiny, tmp_path, version="2026.01.01-01")
