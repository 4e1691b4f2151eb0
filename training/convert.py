"""Convert a model_format 1 version (a joblib pickle) into a new model_format 2 version (data files only).

Unpickling runs code, so this reads only artefacts you made yourself, and only after their manifest's sha256
matches; the service itself no longer unpickles anything. The new version keeps the old one's thresholds,
training record, metrics, data sources and gate verdict, and the conversion is checked to be exact: every
array, the vocabulary and the heads must come back from the new files unchanged.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from moderation.artefacts import MANIFEST_FILE, ModelIntegrityError, load_model
from moderation.model import TextModel

from .export import write_model

__all__ = ["convert_joblib_version"]

_OLD_FILE = "model.joblib"


def _read_format1(vdir: Path) -> tuple[dict[str, Any], TextModel]:
    manifest = json.loads((vdir / MANIFEST_FILE).read_text(encoding="utf-8"))
    if manifest.get("model_format") not in (None, 1):
        raise ModelIntegrityError(f"{vdir.name} is model_format {manifest.get('model_format')!r}, not 1")
    expected = manifest["files"][_OLD_FILE]["sha256"]
    data = (vdir / _OLD_FILE).read_bytes()
    if hashlib.sha256(data).hexdigest() != expected:
        raise ModelIntegrityError(f"sha256 mismatch for {vdir / _OLD_FILE}: refusing to unpickle it")
    import io

    import joblib

    obj = joblib.load(io.BytesIO(data))  # trusted: hash-checked, and made by our own training
    if not isinstance(obj, TextModel):
        raise ModelIntegrityError(f"{_OLD_FILE} holds {type(obj).__name__}, not TextModel")
    if isinstance(obj.vocab, str):  # format 1 pickled the vocabulary as one NUL-joined string
        keys = obj.vocab.split("\x00") if obj.vocab else []
        obj.vocab = dict(zip(keys, range(len(keys))))
    obj.__dict__.pop("_chunk_cache", None)
    return manifest, obj


def convert_joblib_version(models_dir: Path, old: str, new: str) -> str:
    """Write ``new`` (format 2) from ``old`` (format 1) in ``models_dir``; CURRENT is not moved."""
    models_dir = Path(models_dir)
    manifest, model = _read_format1(models_dir / old)
    extra: dict[str, Any] = {
        "converted_from": {
            "version": old,
            "model_format": manifest.get("model_format", 1),
            "sha256": manifest["files"][_OLD_FILE]["sha256"],
            "created_at": manifest.get("created_at"),
            "libraries": manifest.get("libraries"),
            "git_sha": manifest.get("git_sha"),
        }
    }
    if "gate" in manifest:
        extra["gate"] = manifest["gate"]
    version = write_model(model, models_dir, version=new, thresholds=manifest.get("thresholds"),
                          metrics=manifest.get("metrics"), sources=manifest.get("data_sources"),
                          set_current=False, extra=extra)
    back = load_model(models_dir, version).model
    same = (back.heads == model.heads and back.vocab == model.vocab and back.info == model.info
            and all(np.array_equal(getattr(back, a), getattr(model, a))
                    and getattr(back, a).dtype == getattr(model, a).dtype
                    for a in ("idf", "coef", "intercept", "calibration")))
    if not same:
        raise ModelIntegrityError(f"converted version {version} does not reproduce {old} exactly")
    return version
