"""Erasure and retention on SQLite: plain functions on a connection, run inside one store write.

Both start from a set of comment ids (an author's, or those past their retention) and touch exactly
the rows that hold personal data or point at a purged comment; ``tests/test_privacy_lifecycle.py``
checks on both backends that nothing else changes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import datetime

from .rows import to_ts

# Tables whose rows belong to one comment and go with it when retention removes the comment.
DEPENDENT_TABLES = ("comment_reason_kinds", "comment_reports", "idempotency_keys", "campaign_votes")
# Refused, taken down, or rejected outright as spam (the Spam tab): removed entirely after retention.
GONE_STATUSES = ("rejected", "removed", "spam")


def _count(conn: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> int:
    return int(conn.execute(sql, params).fetchone()[0])


def _record(conn: sqlite3.Connection, site_id: str, action: str, actor: str, now: datetime,
            counts: dict[str, int]) -> None:
    conn.execute("INSERT INTO privacy_events (site_id, at, actor, action, counts) VALUES (?, ?, ?, ?, ?)",
                 (site_id, to_ts(now), actor, action, json.dumps(counts, sort_keys=True)))


def erase_author(conn: sqlite3.Connection, site_id: str, email: str, *, actor: str, now: datetime) -> dict[str, int]:
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS erase_ids (id INTEGER PRIMARY KEY)")
    conn.execute("DELETE FROM erase_ids")
    conn.execute("INSERT INTO erase_ids SELECT id FROM comments WHERE site_id = ? AND author_email = ?",
                 (site_id, email))
    counts = {"comments": _count(conn, "SELECT COUNT(*) FROM erase_ids", ())}
    if counts["comments"]:
        counts["training_labels_unlinked"] = conn.execute(
            "UPDATE training_labels SET comment_id = NULL WHERE comment_id IN (SELECT id FROM erase_ids)").rowcount
        # A stored first answer holds the public view, author name included.
        counts["idempotency_records"] = conn.execute(
            "DELETE FROM idempotency_keys WHERE comment_id IN (SELECT id FROM erase_ids)").rowcount
        conn.execute(
            "UPDATE comments SET author_name = '', author_email = '', author_url = NULL, author_ip = NULL, "
            "user_agent = NULL, referrer = NULL, author_email_hash = NULL, author_ip_hash = NULL "
            "WHERE id IN (SELECT id FROM erase_ids)")
    else:
        counts.update(training_labels_unlinked=0, idempotency_records=0)
    conn.execute("DELETE FROM erase_ids")
    _record(conn, site_id, "erasure", actor, now, counts)
    return counts


def purge_site(conn: sqlite3.Connection, site_id: str, *, ip_before: datetime | None,
               rejected_before: datetime | None, apply: bool, actor: str, now: datetime) -> dict[str, int]:
    counts = {"addresses": 0, "comments": 0, "training_labels_unlinked": 0}
    if ip_before is not None:
        where = ("site_id = ? AND created_at < ? AND (author_ip IS NOT NULL OR user_agent IS NOT NULL)",
                 (site_id, to_ts(ip_before)))
        counts["addresses"] = (conn.execute(f"UPDATE comments SET author_ip = NULL, user_agent = NULL WHERE {where[0]}",
                                            where[1]).rowcount
                               if apply else _count(conn, f"SELECT COUNT(*) FROM comments WHERE {where[0]}", where[1]))
    if rejected_before is not None:
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS purge_ids (id INTEGER PRIMARY KEY)")
        conn.execute("DELETE FROM purge_ids")
        conn.execute("INSERT INTO purge_ids SELECT id FROM comments WHERE site_id = ? AND status IN (?, ?, ?) "
                     "AND updated_at < ?", (site_id, *GONE_STATUSES, to_ts(rejected_before)))
        counts["comments"] = _count(conn, "SELECT COUNT(*) FROM purge_ids", ())
        linked = "comment_id IN (SELECT id FROM purge_ids)"
        if apply and counts["comments"]:
            # Labels keep their text and label; only the link to the removed comment goes.
            counts["training_labels_unlinked"] = conn.execute(
                f"UPDATE training_labels SET comment_id = NULL WHERE {linked}").rowcount
            conn.execute("UPDATE comments SET parent_id = NULL WHERE parent_id IN (SELECT id FROM purge_ids)")
            for table in DEPENDENT_TABLES:
                conn.execute(f"DELETE FROM {table} WHERE {linked}")
            conn.execute("DELETE FROM comments WHERE id IN (SELECT id FROM purge_ids)")
        else:
            counts["training_labels_unlinked"] = _count(conn, f"SELECT COUNT(*) FROM training_labels WHERE {linked}", ())
        conn.execute("DELETE FROM purge_ids")
    if apply and any(counts.values()):
        _record(conn, site_id, "purge", actor, now, counts)
    return counts


def backfill_author_hashes(conn: sqlite3.Connection, hash_email: Callable[[str], str],
                           hash_ip: Callable[[str | None], str | None]) -> int:
    """Hash the authors of comments stored before the hashes existed (erased ones stay without)."""
    rows = conn.execute("SELECT id, author_email, author_ip FROM comments "
                        "WHERE author_email_hash IS NULL AND author_email != ''").fetchall()
    conn.executemany("UPDATE comments SET author_email_hash = ?, author_ip_hash = ? WHERE id = ?",
                     [(hash_email(email), hash_ip(ip), cid) for cid, email, ip in rows])
    return len(rows)


def site_ids(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT id FROM sites ORDER BY id")]
