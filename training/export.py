"""Write a TextModel as a versioned, hashed artefact of data files (``moderation.artefacts``' format, no pickle).

``out_dir/<version>/{model.npz, model.json, vocab.txt, manifest.json}``; the manifest records the sha256 of
each file, the format and the provenance (libraries, data sources, metrics, git sha).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform
import subprocess
from pathlib import Path

import numpy as np
import sklearn

from moderation.artefacts import MANIFEST_FILE, model_files
from moderation.model import MODEL_FORMAT, TextModel
from moderation.registry import write_atomically, write_current

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
    extra: dict | None = None,
) -> str:
    """Write ``model``'s files and manifest; update ``out_dir/CURRENT`` when ``set_current``; return the version.

    ``extra`` adds top-level manifest entries (e.g. ``converted_from``); it cannot replace the ones written here.
    """
    if not isinstance(model, TextModel):
        raise TypeError(f"expected a TextModel, got {type(model).__name__}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    version = version or new_version(out_dir)
    vdir = out_dir / version
    if vdir.exists() and any(vdir.iterdir()):
        raise FileExistsError(f"model version {version} already exists in {out_dir}")
    vdir.mkdir(parents=True, exist_ok=True)
    files = model_files(model)
    for name, data in files.items():
        write_atomically(vdir / name, data)
    th = {h: 0.5 for h in model.heads}
    th.update({h: float(v) for h, v in (thresholds or {}).items()})
    manifest = {
        "version": version,
        "model_format": MODEL_FORMAT,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "files": {name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)} for name, data in files.items()},
        # provenance only: loading checks no library version (the files are plain data)
        "libraries": {
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
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
    for key, value in (extra or {}).items():
        if key in manifest:
            raise ValueError(f"extra manifest entry {key!r} would replace a written one")
        manifest[key] = value
    # the manifest goes last: a version directory without one is not listed, so a crash leaves no half version
    write_atomically(vdir / MANIFEST_FILE,
                   (json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=False) + "\n").encode("utf-8"))
    if set_current:
        write_current(out_dir, version)
    return version
