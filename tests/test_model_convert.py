"""`python -m training convert`: a model_format 1 (joblib) version becomes an exact model_format 2 copy."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import joblib
import pytest

from moderation.artefacts import ModelIntegrityError, load_model
from moderation.model import TextModel
from training.__main__ import main as training_main
from training.pipelines import fit_text_model

TEXTS = ["slot gacor maxwin", "situs gacor wd cepat", "dasar goblok", "anjing lu", "berita bagus", "semoga sehat"]
LABELS = {"spam": [1, 1, 0, 0, 0, 0], "toxic": [0, 0, 1, 1, 0, 0]}


def _format1(models: Path, version: str, model: TextModel) -> Path:
    """What training/export.py wrote before format 2: a pickled TextModel whose vocabulary was one NUL-joined string."""
    old = copy.copy(model)
    old.__dict__ = {k: v for k, v in model.__dict__.items() if k != "_chunk_cache"}
    old.vocab = "\x00".join(sorted(model.vocab, key=model.vocab.__getitem__))  # type: ignore[assignment]
    vdir = models / version
    vdir.mkdir(parents=True)
    joblib.dump(old, vdir / "model.joblib", compress=3)
    sha = hashlib.sha256((vdir / "model.joblib").read_bytes()).hexdigest()
    manifest = {"version": version, "model_format": 1, "files": {"model.joblib": {"sha256": sha}},
                "libraries": {"scikit-learn": "1.9.1"}, "heads": list(model.heads),
                "thresholds": {"spam": 0.6, "toxic": 0.5}, "metrics": {"validation": {"spam": {"f1": 0.9}}},
                "data_sources": [{"name": "s", "licence": "MIT"}], "gate": {"decision": "promote"}}
    (vdir / "manifest.json").write_text(json.dumps(manifest))
    return vdir


def test_convert_is_exact_and_keeps_the_record(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = fit_text_model(TEXTS, LABELS, seed=0)
    _format1(tmp_path, "2026.01.01-01", model)
    with pytest.raises(ModelIntegrityError, match="model_format 1"):
        load_model(tmp_path, "2026.01.01-01")
    assert training_main(["convert", "--models", str(tmp_path), "--from", "2026.01.01-01",
                          "--to", "2026.01.01-02"]) == 0
    assert "2026.01.01-02" in capsys.readouterr().out
    assert not (tmp_path / "CURRENT").exists()  # converting does not promote
    loaded = load_model(tmp_path, "2026.01.01-02")
    texts = TEXTS + ["slot gacor dasar goblok", "tidak ada kata yang dikenal"]
    assert loaded.model.predict_scores(texts) == model.predict_scores(texts)
    assert loaded.thresholds == {"spam": 0.6, "toxic": 0.5}
    man = loaded.manifest
    assert man["model_format"] == 2 and man["converted_from"]["version"] == "2026.01.01-01"
    assert man["gate"] == {"decision": "promote"} and man["data_sources"][0]["licence"] == "MIT"
    assert man["metrics"]["validation"]["spam"]["f1"] == 0.9


def test_convert_refuses_a_tampered_pickle(tmp_path: Path) -> None:
    vdir = _format1(tmp_path, "2026.01.01-01", fit_text_model(TEXTS, LABELS, seed=0))
    joblib.dump({"evil": True}, vdir / "model.joblib")
    with pytest.raises(ModelIntegrityError, match="sha256"):
        training_main(["convert", "--models", str(tmp_path), "--from", "2026.01.01-01", "--to", "2026.01.01-02"])
    assert not (tmp_path / "2026.01.01-02").exists()
