"""Erasure and retention on PostgreSQL: the same rows as privacy_sqlite.py, in one transaction each."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .privacy_sqlite import DEPENDENT_TABLES, GONE_STATUSES


def _affected(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1]) if status and status[-1].isdigit() else 0


async def _record(conn: Any, site_id: str, action: str, actor: str, now: datetime, counts: dict[str, int]) -> None:
    await conn.execute("INSERT INTO privacy_events (site_id, at, actor, action, counts) VALUES ($1, $2, $3, $4, $5::jsonb)",
                       site_id, now, actor, action, json.dumps(counts, sort_keys=True))


async def erase_author(conn: Any, site_id: str, email: str, *, actor: str, now: datetime) -> dict[str, int]:
    ids = [r[0] for r in await conn.fetch(
        "SELECT id FROM comments WHERE site_id = $1 AND author_email = $2 FOR UPDATE", site_id, email)]
    counts = {"comments": len(ids), "training_labels_unlinked": 0, "idempotency_records": 0}
    if ids:
        counts["training_labels_unlinked"] = _affected(await conn.execute(
            "UPDATE training_labels SET comment_id = NULL WHERE comment_id = ANY($1::bigint[])", ids))
        # A stored first answer holds the public view, author name included.
        counts["idempotency_records"] = _affected(await conn.execute(
            "DELETE FROM idempotency_keys WHERE comment_id = ANY($1::bigint[])", ids))
        await conn.execute(
            "UPDATE comments SET author_name = '', author_email = '', author_url = NULL, author_ip = NULL, "
            "user_agent = NULL, referrer = NULL, author_email_hash = NULL, author_ip_hash = NULL "
            "WHERE id = ANY($1::bigint[])", ids)
    await _record(conn, site_id, "erasure", actor, now, counts)
    return counts


async def purge_site(conn: Any, site_id: str, *, ip_before: datetime | None, rejected_before: datetime | None,
                     apply: bool, actor: str, now: datetime) -> dict[str, int]:
    counts = {"addresses": 0, "comments": 0, "training_labels_unlinked": 0}
    if ip_before is not None:
        where = "site_id = $1 AND created_at < $2 AND (author_ip IS NOT NULL OR user_agent IS NOT NULL)"
        if apply:
            counts["addresses"] = _affected(await conn.execute(
                f"UPDATE comments SET author_ip = NULL, user_agent = NULL WHERE {where}", site_id, ip_before))
        else:
            counts["addresses"] = int(await conn.fetchval(f"SELECT COUNT(*) FROM comments WHERE {where}",
                                                          site_id, ip_before))
    if rejected_before is not None:
        ids = [r[0] for r in await conn.fetch(
            "SELECT id FROM comments WHERE site_id = $1 AND status = ANY($2::text[]) AND updated_at < $3 "
            + ("FOR UPDATE" if apply else ""), site_id, list(GONE_STATUSES), rejected_before)]
        counts["comments"] = len(ids)
        if apply and ids:
            # Labels keep their text and label; only the link to the removed comment goes.
            counts["training_labels_unlinked"] = _affected(await conn.execute(
                "UPDATE training_labels SET comment_id = NULL WHERE comment_id = ANY($1::bigint[])", ids))
            await conn.execute("UPDATE comments SET parent_id = NULL WHERE parent_id = ANY($1::bigint[])", ids)
            for table in DEPENDENT_TABLES:
                await conn.execute(f"DELETE FROM {table} WHERE comment_id = ANY($1::bigint[])", ids)
            await conn.execute("DELETE FROM comments WHERE id = ANY($1::bigint[])", ids)
        elif ids:
            counts["training_labels_unlinked"] = int(await conn.fetchval(
                "SELECT COUNT(*) FROM training_labels WHERE comment_id = ANY($1::bigint[])", ids))
    if apply and any(counts.values()):
        await _record(conn, site_id, "purge", actor, now, counts)
    return counts


async def backfill_author_hashes(conn: Any, hash_email: Callable[[str], str],
                                 hash_ip: Callable[[str | None], str | None]) -> int:
    """Hash the authors of comments stored before the hashes existed (erased ones stay without)."""
    rows = await conn.fetch("SELECT id, author_email, author_ip FROM comments "
                            "WHERE author_email_hash IS NULL AND author_email <> '' FOR UPDATE")
    await conn.executemany("UPDATE comments SET author_email_hash = $1, author_ip_hash = $2 WHERE id = $3",
                           [(hash_email(r[1]), hash_ip(r[2]), r[0]) for r in rows])
    return len(rows)
