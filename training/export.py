"""Write a TextModel as a versioned, hashed artefact: ``out_dir/<version>/{model.joblib,manifest.json}``."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from pathlib import Path

import joblib
import numpy as np
import sklearn

from moderation.model import MANIFEST_FILE, MODEL_FILE, TextModel, _sha256

__all__ = ["write_model", "new_version"]


def _git_sha(start: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=start, capture_output=True, text=True, timeout=5, check=False
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def new_version(out_dir: Path, now: dt.datetime | None = None) -> str:
    """``YYYY.MM.DD-N`` (N = 1 + number of versions already written that day); sorts chronologically per day."""
    now = now or dt.datetime.now(dt.timezone.utc)
    day = now.strftime("%Y.%m.%d")
    existing = [p.name for p in Path(out_dir).glob(f"{day}-*") if p.is_dir()]
    nums = [int(n.rsplit("-", 1)[1]) for n in existing if n.rsplit("-", 1)[1].isdigit()]
    n = max(nums, default=0) + 1
    return f"{day}-{n:02d}"


def write_model(
    model: TextModel,
    out_dir: Path,
    *,
    version: str | None = None,
    thresholds: dict[str, float] | None = None,
    metrics: dict | None = None,
    sources: list[dict] | None = None,
    set_current: bool = True,
) -> str:
    """Dump ``model`` and its manifest; update ``out_dir/CURRENT`` when ``set_current``; return the version."""
    if not isinstance(model, TextModel):
        raise TypeError(f"expected a TextModel, got {type(model).__name__}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    version = version or new_version(out_dir)
    vdir = out_dir / version
    if vdir.exists() and any(vdir.iterdir()):
        raise FileExistsError(f"model version {version} already exists in {out_dir}")
    vdir.mkdir(parents=True, exist_ok=True)
    path = vdir / MODEL_FILE
    joblib.dump(model, path, compress=3)
    th = {h: 0.5 for h in model.heads}
    th.update({h: float(v) for h, v in (thresholds or {}).items()})
    manifest = {
        "version": version,
        "model_format": TextModel.format_version,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "files": {MODEL_FILE: {"sha256": _sha256(path), "bytes": path.stat().st_size}},
        "libraries": {
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "joblib": joblib.__version__,
            "python": platform.python_version(),
        },
        "heads": list(model.heads),
        "thresholds": th,
        "featurisation": {"n_features": model.n_features, "normaliser": "moderation.textnorm.normalize"},
        "training": model.info,
        "data_sources": sources or [],
        "metrics": metrics or {},
        "git_sha": _git_sha(Path(__file__).resolve().parent),
    }
    tmp = vdir / (MANIFEST_FILE + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, vdir / MANIFEST_FILE)
    if set_current:
        cur = out_dir / "CURRENT.tmp"
        cur.write_text(version + "\n", encoding="utf-8")
        os.replace(cur, out_dir / "CURRENT")
    return version
