"""The model registry: versions in the models directory, one ``CURRENT`` pointer, a promotion history.

    models/
      CURRENT                 the version the service serves (one line)
      HISTORY                 one line per promotion: "<utc time> <version>" (rollback walks it back)
      <version>/manifest.json version, model_format, file hashes, data sources, metrics, thresholds, gate
      <version>/model.npz, model.json, vocab.txt   the model as data (moderation.artefacts' format)

Promotion only moves the pointer; a running service switches on ``POST /v1/admin/models/reload``
or SIGHUP. With a database, promotions are recorded there and every replica follows them
(``moderation.fleet``); the pointer is then kept in step for replicas started without one. Every load re-verifies the manifest (``moderation.artefacts.load_model``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .artefacts import CURRENT_FILE, ModelError, load_model, read_current, read_manifest

HISTORY = "HISTORY"


class RegistryError(Exception):
    """A promotion or rollback cannot be done; the message says why."""


@dataclass(frozen=True)
class VersionInfo:
    version: str
    created_at: str | None
    current: bool
    gate: dict[str, Any] | None  # the gate's verdict for a retrained candidate, if it had one
    metrics: dict[str, Any]


def current_version(models_dir: Path) -> str | None:
    return read_current(models_dir)


def list_versions(models_dir: Path) -> list[VersionInfo]:
    """Every version with a manifest, oldest first (version strings sort chronologically)."""
    current = current_version(models_dir)
    found: list[VersionInfo] = []
    if not models_dir.is_dir():
        return found
    for entry in sorted(models_dir.iterdir()):
        if not (entry / "manifest.json").is_file():
            continue
        try:
            manifest = read_manifest(models_dir, entry.name)
        except ModelError:
            continue
        found.append(
            VersionInfo(
                version=entry.name,
                created_at=manifest.get("created_at"),
                current=entry.name == current,
                gate=manifest.get("gate"),
                metrics=manifest.get("metrics") or {},
            )
        )
    return found


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``path`` durably: readers see the old or the new file, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_current(models_dir: Path, version: str) -> None:
    """Point ``CURRENT`` at ``version``: the one writer of the pointer (promote, rollback, training's export)."""
    write_atomically(models_dir / CURRENT_FILE, (version + "\n").encode("utf-8"))


def _history(models_dir: Path) -> list[str]:
    """The promotion stack, oldest first: lines "<utc time> <version>"."""
    try:
        lines = (models_dir / HISTORY).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [line for line in lines if line.strip()]


def _write_history(models_dir: Path, history: list[str]) -> None:
    write_atomically(models_dir / HISTORY, ("\n".join(history) + "\n").encode("utf-8"))


def _stamp(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def promote(models_dir: Path, version: str, *, now: datetime | None = None) -> str:
    """Point CURRENT at ``version`` (``latest`` = newest candidate whose gate passed), after verifying it."""
    if version == "latest":
        passed = [v for v in list_versions(models_dir) if v.gate and v.gate.get("decision") == "promote"]
        if not passed:
            raise RegistryError("no candidate has passed its gate; run `python -m training retrain` first")
        version = passed[-1].version
    if not (models_dir / version / "manifest.json").is_file():
        raise RegistryError(f"no such model version: {version}")
    load_model(models_dir, version)  # refuse to promote anything that would not load
    previous = current_version(models_dir)
    if previous == version:
        return version
    history = _history(models_dir)
    if previous and not history:
        history.append(f"{_stamp(now)} {previous}")  # remember where we came from, for rollback
    history.append(f"{_stamp(now)} {version}")
    _write_history(models_dir, history)
    write_current(models_dir, version)
    return version


def promote_pointer(models_dir: Path, version: str) -> None:
    """Point CURRENT at an already verified version (the database's promotion record is the history)."""
    if current_version(models_dir) != version:
        write_current(models_dir, version)


def rollback(models_dir: Path) -> str:
    """Pop the current version off the promotion stack and point CURRENT at the one before it."""
    history = _history(models_dir)
    current = current_version(models_dir)
    if history and history[-1].split()[-1] == current:
        history.pop()
    if not history:
        raise RegistryError("nothing to roll back to: no earlier promotion is recorded in HISTORY")
    target = history[-1].split()[-1]
    load_model(models_dir, target)  # the old version must still verify
    _write_history(models_dir, history)
    write_current(models_dir, target)
    return target
