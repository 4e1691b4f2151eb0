"""write_model -> load_model round trip, and the checks that run before (and while) an artefact is parsed."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from moderation import artefacts as model_mod
from moderation.artefacts import (
    FORMAT_ARRAYS,
    MODEL_FILE,
    VOCAB_FILE,
    ArraySpec,
    LoadedModel,
    ModelIntegrityError,
    ModelNotFoundError,
    load_arrays,
    load_model,
    read_manifest,
    save_arrays,
)
from moderation.model import TextModel
from moderation.registry import list_versions
from training.export import write_model
from training.pipelines import fit_text_model

TEXTS = ["slot gacor maxwin", "situs gacor wd cepat", "dasar goblok", "anjing lu", "berita bagus", "semoga sehat"]
LABELS = {"spam": [1, 1, 0, 0, 0, 0], "toxic": [0, 0, 1, 1, 0, 0]}
V = "2026.01.01-01"


@pytest.fixture(scope="module")
def tiny() -> TextModel:
    return fit_text_model(TEXTS, LABELS, seed=0)


def test_round_trip(tmp_path: Path, tiny: TextModel) -> None:
    v = write_model(tiny, tmp_path, version=V, thresholds={"spam": 0.7}, metrics={"x": 1},
                    sources=[{"name": "s", "licence": "MIT"}])
    assert v == V
    assert (tmp_path / "CURRENT").read_text().strip() == v
    loaded = load_model(tmp_path)
    assert isinstance(loaded, LoadedModel) and loaded.version == v
    assert loaded.thresholds == {"spam": 0.7, "toxic": 0.5}
    texts = ["slot gacor", "dasar goblok sekali", "berita bagus hari ini"]
    assert loaded.model.predict_scores(texts) == tiny.predict_scores(texts)  # the same arrays: exactly equal
    assert loaded.model.vocab == tiny.vocab and loaded.model.info == tiny.info
    for name in ("idf", "coef", "intercept", "calibration"):
        assert np.array_equal(getattr(loaded.model, name), getattr(tiny, name))
    man = read_manifest(tmp_path, v)
    assert man["model_format"] == 2 and man["heads"] == ["spam", "toxic"]
    assert set(man["files"]) == {"model.npz", "model.json", "vocab.txt"}
    for name, meta in man["files"].items():
        assert meta["sha256"] == hashlib.sha256((tmp_path / v / name).read_bytes()).hexdigest()
    assert {"scikit-learn", "numpy", "python"} <= set(man["libraries"])
    assert man["data_sources"][0]["licence"] == "MIT" and "created_at" in man


def test_same_model_gives_same_bytes(tmp_path: Path, tiny: TextModel) -> None:
    write_model(tiny, tmp_path, version="a")
    write_model(tiny, tmp_path, version="b")
    for name in ("model.npz", "model.json", "vocab.txt"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_versions_sort_and_current(tmp_path: Path, tiny: TextModel) -> None:
    a = write_model(tiny, tmp_path)
    b = write_model(tiny, tmp_path, set_current=False)
    assert [v.version for v in list_versions(tmp_path)] == sorted([a, b]) and a < b
    assert load_model(tmp_path).version == a
    assert load_model(tmp_path, b).version == b


def test_missing_current(tmp_path: Path, tiny: TextModel) -> None:
    write_model(tiny, tmp_path, version=V, set_current=False)
    with pytest.raises(ModelNotFoundError):
        load_model(tmp_path)
    with pytest.raises(ModelNotFoundError):
        load_model(tmp_path / "nope")
    with pytest.raises(ModelNotFoundError):
        load_model(tmp_path, "2099.01.01-01")
    with pytest.raises(ModelNotFoundError):
        load_model(tmp_path, "../etc")


@pytest.mark.parametrize("name", ["model.npz", "model.json", "vocab.txt"])
def test_tampered_file_refused_before_parsing(tmp_path: Path, tiny: TextModel, monkeypatch: pytest.MonkeyPatch,
                                              name: str) -> None:
    v = write_model(tiny, tmp_path, version=V)
    path = tmp_path / v / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit
    path.write_bytes(bytes(data))

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("nothing may be parsed from a file whose hash does not match")

    monkeypatch.setattr(model_mod, "parse_model_files", boom)
    monkeypatch.setattr(np, "load", boom)
    with pytest.raises(ModelIntegrityError, match="sha256"):
        load_model(tmp_path)


def _edit_manifest(tmp_path: Path, v: str, fn) -> None:
    p = tmp_path / v / "manifest.json"
    m = json.loads(p.read_text())
    fn(m)
    p.write_text(json.dumps(m))


def _replace_file(tmp_path: Path, v: str, name: str, data: bytes) -> None:
    """Swap a file and rewrite its hash in the manifest: what an attacker who can write both would do."""
    (tmp_path / v / name).write_bytes(data)
    _edit_manifest(tmp_path, v, lambda m: m["files"].update({name: {"sha256": hashlib.sha256(data).hexdigest()}}))


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m.update({"version": "other"}),
        lambda m: m.update({"files": {}}),
        lambda m: m["files"].pop("vocab.txt"),
        lambda m: m["files"].update({"../x": {"sha256": "0" * 64}}),
        lambda m: m["files"]["model.json"].update({"sha256": "short"}),
        lambda m: m["thresholds"].update({"spam": 3}),
        lambda m: m.update({"heads": ["spam"]}),
        lambda m: m.update({"heads": "spam"}),
        lambda m: m.update({"model_format": 1}),
        lambda m: m.update({"model_format": 3}),
        lambda m: m.update({"model_format": True}),
        lambda m: m.pop("model_format"),
    ],
)
def test_manifest_mismatch_refused(tmp_path: Path, tiny: TextModel, edit) -> None:
    v = write_model(tiny, tmp_path, version=V)
    _edit_manifest(tmp_path, v, edit)
    with pytest.raises((ModelIntegrityError, ModelNotFoundError)):
        load_model(tmp_path)


def test_format_1_names_the_converter(tmp_path: Path, tiny: TextModel) -> None:
    v = write_model(tiny, tmp_path, version=V)
    _edit_manifest(tmp_path, v, lambda m: m.update({"model_format": 1}))
    with pytest.raises(ModelIntegrityError, match="python -m training convert"):
        load_model(tmp_path)


def test_library_versions_do_not_matter(tmp_path: Path, tiny: TextModel) -> None:
    """The artefact is plain data: another scikit-learn or numpy (or none recorded) still loads it."""
    v = write_model(tiny, tmp_path, version=V)
    _edit_manifest(tmp_path, v, lambda m: m.update({"libraries": {"scikit-learn": "0.24.2", "numpy": "1.0.0"}}))
    assert load_model(tmp_path).model.heads == ("spam", "toxic")
    _edit_manifest(tmp_path, v, lambda m: m.pop("libraries"))
    assert load_model(tmp_path).model.heads == ("spam", "toxic")


def test_malformed_manifest(tmp_path: Path, tiny: TextModel) -> None:
    v = write_model(tiny, tmp_path, version=V)
    (tmp_path / v / "manifest.json").write_text("{not json")
    with pytest.raises(ModelIntegrityError):
        load_model(tmp_path)


class _Trap:
    """Unpickling this would run ``_sprung``: the loader must never get that far."""

    sprung: ClassVar[list[str]] = []

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (_Trap.sprung.append, ("code ran",))


def _npz_bytes(**arrays: Any) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # np.savez pickles object arrays (allow_pickle defaults to True when saving)
    return buf.getvalue()


def test_object_array_with_matching_hash_is_refused(tmp_path: Path, tiny: TextModel) -> None:
    v = write_model(tiny, tmp_path, version=V)
    evil = np.empty(len(tiny.vocab), dtype=object)
    evil[0] = _Trap()
    data = _npz_bytes(idf=evil, coef=tiny.coef, intercept=tiny.intercept, calibration=tiny.calibration)
    _replace_file(tmp_path, v, MODEL_FILE, data)
    _Trap.sprung.clear()
    with pytest.raises(ModelIntegrityError, match="could not be read"):
        load_model(tmp_path)
    assert _Trap.sprung == []


def test_pickle_or_bare_npy_in_place_of_npz_is_refused(tmp_path: Path, tiny: TextModel) -> None:
    import pickle

    v = write_model(tiny, tmp_path, version=V)
    _Trap.sprung.clear()
    for data in (pickle.dumps(_Trap()), b"\x93NUMPY" + b"\x00" * 20):
        _replace_file(tmp_path, v, MODEL_FILE, data)
        with pytest.raises(ModelIntegrityError, match="not an .npz"):
            load_model(tmp_path)
    assert _Trap.sprung == []


def _arrays(m: TextModel) -> dict[str, np.ndarray]:
    return {"idf": m.idf, "coef": m.coef, "intercept": m.intercept, "calibration": m.calibration}


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda a: a.pop("calibration"), "expected"),
        (lambda a: a.update(extra=np.zeros(3)), "expected"),
        (lambda a: a.update(idf=a["idf"].astype(np.float64)), "float64"),
        (lambda a: a.update(coef=a["coef"][:-1]), "shape"),
        (lambda a: a.update(intercept=np.array([np.nan, 0.0])), "NaN"),
        (lambda a: a.update(calibration=a["calibration"].ravel()), "1-d"),
    ],
)
def test_arrays_that_do_not_fit_are_refused(tmp_path: Path, tiny: TextModel, change, match: str) -> None:
    v = write_model(tiny, tmp_path, version=V)
    arrays = dict(_arrays(tiny))
    change(arrays)
    _replace_file(tmp_path, v, MODEL_FILE, _npz_bytes(**arrays))
    with pytest.raises(ModelIntegrityError, match=match):
        load_model(tmp_path)


@pytest.mark.parametrize(
    ("name", "data", "match"),
    [
        ("vocab.txt", b"w a\nw a\n", "repeated"),
        ("vocab.txt", b"w a\n\nw b\n", "empty"),
        ("vocab.txt", b"w a\nw b", "newline"),
        ("vocab.txt", b"\xff\xfe\n", "malformed"),
        ("model.json", b'{"heads": ["spam", "spam"], "info": {}}', "heads"),
        ("model.json", b'{"heads": [], "info": {}}', "heads"),
        ("model.json", b'["spam"]', "object"),
        ("model.json", b"{", "malformed"),
    ],
)
def test_bad_json_or_vocabulary_refused(tmp_path: Path, tiny: TextModel, name: str, data: bytes, match: str) -> None:
    v = write_model(tiny, tmp_path, version=V)
    _replace_file(tmp_path, v, name, data)
    with pytest.raises(ModelIntegrityError, match=match):
        load_model(tmp_path)


def test_vocabulary_size_must_match_arrays(tmp_path: Path, tiny: TextModel) -> None:
    v = write_model(tiny, tmp_path, version=V)
    words = (tmp_path / v / VOCAB_FILE).read_text(encoding="utf-8").split("\n")[:-1]
    _replace_file(tmp_path, v, VOCAB_FILE, "".join(w + "\n" for w in words[:-1]).encode())
    with pytest.raises(ModelIntegrityError, match="shape"):
        load_model(tmp_path)


def test_save_and_load_arrays_follow_the_declared_list() -> None:
    specs = (ArraySpec("block", "float32", 2), ArraySpec("ids", "int64", 1))
    arrays = {"block": np.arange(6, dtype=np.float32).reshape(2, 3), "ids": np.array([3, 1], dtype=np.int64)}
    data = save_arrays(arrays, specs)
    assert zipfile.ZipFile(io.BytesIO(data)).namelist() == ["block.npy", "ids.npy"]
    back = load_arrays(data, specs)
    assert set(back) == {"block", "ids"} and all(np.array_equal(back[k], arrays[k]) for k in arrays)
    with pytest.raises(ValueError, match="declared"):
        save_arrays({"block": arrays["block"]}, specs)
    with pytest.raises(ModelIntegrityError, match="int32"):
        save_arrays({**arrays, "ids": arrays["ids"].astype(np.int32)}, specs)
    with pytest.raises(ModelIntegrityError, match="expected"):
        load_arrays(data, specs[:1])
    assert [s.name for s in FORMAT_ARRAYS[2]] == ["idf", "coef", "intercept", "calibration"]


def test_write_model_refuses_overwrite(tmp_path: Path, tiny: TextModel) -> None:
    write_model(tiny, tmp_path, version=V)
    with pytest.raises(FileExistsError):
        write_model(tiny, tmp_path, version=V)


def test_serving_imports_neither_scikit_learn_nor_joblib(tmp_path: Path, tiny: TextModel) -> None:
    write_model(tiny, tmp_path, version=V)
    code = (
        "import sys; from pathlib import Path; from moderation.app import create_app; "
        "from moderation.artefacts import load_model; "
        f"m = load_model(Path({str(tmp_path)!r})); m.model.predict_scores(['slot gacor', 'x']); "
        "m.model.explain('slot gacor', 'spam'); "
        "print(sorted(k for k in sys.modules if k.split('.')[0] in ('sklearn', 'joblib', 'training')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout


def test_arrays_larger_than_the_cap_are_refused_before_unpacking(tmp_path: Path, tiny: TextModel,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    v = write_model(tiny, tmp_path, version=V)
    monkeypatch.setattr(model_mod, "_MAX_ARRAY_BYTES", 1000)  # the tiny model's arrays are larger than this

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("np.load must not run on an oversized artefact")

    monkeypatch.setattr(np, "load", boom)
    with pytest.raises(ModelIntegrityError, match="unpacks to more than"):
        load_model(tmp_path, v)
