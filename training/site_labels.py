"""The site's own labels: moderator decisions (and compatibility-API feedback) as training rows.

``export_labels`` reads them from the service's database and writes JSON lines; nothing personal
leaves the database (no e-mail, IP or name: the store's label table does not hold them).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from moderation.labels import LABEL_TARGETS


def label_to_heads(label: str) -> dict[str, int | None] | None:
    """Head labels for a moderator label, or None for labels that teach nothing (e.g. "other")."""
    return LABEL_TARGETS.get(label)


async def _read_labels(database_url: str) -> list[dict[str, Any]]:
    from moderation.store import open_store

    store = open_store(database_url)
    await store.migrate()
    try:
        rows: list[dict[str, Any]] = []
        since = 0
        while True:
            batch = await store.list_training_labels(since_id=since, limit=5_000)
            if not batch:
                return rows
            rows.extend(batch)
            since = batch[-1]["id"]
    finally:
        await store.close()


def export_labels(database_url: str, out: Path) -> int:
    """Write every label as one JSON line (oldest first); returns how many rows were written."""
    return asyncio.run(export_labels_async(database_url, out))


async def export_labels_async(database_url: str, out: Path) -> int:
    rows = await _read_labels(database_url)
    out.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with open(out, "w", encoding="utf-8") as fh:
        for row in rows:
            heads = label_to_heads(row["label"])
            if heads is None:
                continue
            fh.write(json.dumps({
                "text": row["text"],
                "label": row["label"],
                "labels": heads,
                "site": row["site_id"],
                "source": row["source"],
                "decided_at": row["decided_at"],
                "model_version": row["model_version"],
                "model_scores": row["scores"],
            }, ensure_ascii=False) + "\n")
            written += 1
    return written


def read_label_file(path: Path) -> list[dict[str, Any]]:
    """Rows written by ``export_labels``, in decision order (oldest first)."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: not JSON: {exc}") from None
            if not isinstance(row.get("text"), str) or not isinstance(row.get("labels"), dict):
                raise ValueError(f"{path}:{number}: needs 'text' and 'labels'")
            rows.append(row)
    rows.sort(key=lambda r: r.get("decided_at") or "")
    return rows


def time_split(rows: Iterable[dict[str, Any]], holdout_fraction: float = 0.25,
               min_holdout: int = 20) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Oldest rows to train on, the newest to judge the candidate: never trained on, like tomorrow's traffic."""
    ordered = sorted(rows, key=lambda r: r.get("decided_at") or "")
    n_holdout = max(min_holdout, int(round(len(ordered) * holdout_fraction)))
    n_holdout = min(n_holdout, len(ordered) // 2) if len(ordered) < 2 * min_holdout else n_holdout
    cut = len(ordered) - n_holdout
    return ordered[:cut], ordered[cut:]
