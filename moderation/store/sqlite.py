"""SQLite backend: the embedded default (one replica).

All work runs on one dedicated thread with one connection, and every public method is a single
synchronous function on that thread. That makes each method one transaction that no other
coroutine can interleave with, without locks. WAL mode lets readers (e.g. ``sqlite3`` shell,
backups) work beside the writer; ``synchronous=FULL`` because a 201 promises the comment is on disk.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from ..domain import ApiKey, Comment, Decision, Evidence, Role, Status
from ..errors import DuplicateComment, IdempotencyConflict, TooManyRequests
from . import IdempotentResponse, NewComment, RenderResponse, TrainingLabel

T = TypeVar("T")


def to_ts(moment: datetime) -> str:
    """A fixed-width UTC timestamp, so text comparison is time comparison."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def migration_files(dialect: str) -> list[tuple[int, str, str]]:
    """(version, name, sql) for every migration of a dialect, in order."""
    folder = resources.files("moderation.store") / "migrations" / dialect
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


COMMENT_COLUMNS = (
    "id, site_id, article_id, parent_id, author_name, author_email, author_url, content, status, decision, "
    "reasons, scores, model_version, revision, created_at, updated_at, lang"
)


def comment_from_row(row: Any) -> Comment:
    return Comment(
        id=row[0],
        site_id=row[1],
        article_id=row[2],
        parent_id=row[3],
        author_name=row[4],
        author_email=row[5],
        author_url=row[6],
        content=row[7],
        status=Status(row[8]),
        decision=Decision(row[9]),
        reasons=tuple(Evidence.from_json(r) for r in json.loads(row[10])),
        scores=json.loads(row[11]),
        model_version=row[12],
        revision=row[13],
        created_at=row[14] if isinstance(row[14], datetime) else from_ts(row[14]),
        updated_at=row[15] if isinstance(row[15], datetime) else from_ts(row[15]),
        lang=row[16],
    )


class SQLiteStore:
    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._conn: sqlite3.Connection | None = None

    # -- plumbing -------------------------------------------------------------------------
    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn)

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            self._conn = conn
        return fn(self._conn)

    @staticmethod
    def _transaction(conn: sqlite3.Connection, body: Callable[[sqlite3.Connection], T]) -> T:
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = body(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    async def migrate(self) -> None:
        def apply(conn: sqlite3.Connection) -> None:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                "applied_at TEXT NOT NULL)"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for version, name, sql in migration_files("sqlite"):
                if version in done:
                    continue
                stamp = to_ts(datetime.now(timezone.utc))
                # executescript commits first, so the migration and its record form one script.
                script = (
                    f"BEGIN IMMEDIATE;\n{sql}\n;INSERT INTO schema_migrations VALUES ({version}, "
                    f"'{name}', '{stamp}');\nCOMMIT;"
                )
                try:
                    conn.executescript(script)
                except sqlite3.Error:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise

        await self._run(apply)

    async def close(self) -> None:
        def close(conn: sqlite3.Connection) -> None:
            conn.close()

        if self._conn is not None:
            await self._run(close)
            self._conn = None
        self._executor.shutdown(wait=True)

    async def ping(self) -> None:
        await self._run(lambda conn: conn.execute("SELECT 1").fetchone())

    # -- sites and keys -----------------------------------------------------------------------
    async def ensure_site(self, site_id: str, now: datetime) -> None:
        await self._run(
            lambda conn: conn.execute(
                "INSERT OR IGNORE INTO sites (id, created_at) VALUES (?, ?)", (site_id, to_ts(now))
            )
        )

    async def create_api_key(self, *, site_id: str, role: Role, key_hash: str, prefix: str, now: datetime) -> ApiKey:
        def create(conn: sqlite3.Connection) -> ApiKey:
            conn.execute("INSERT OR IGNORE INTO sites (id, created_at) VALUES (?, ?)", (site_id, to_ts(now)))
            cur = conn.execute(
                "INSERT INTO api_keys (key_hash, prefix, role, site_id, created_at) VALUES (?, ?, ?, ?, ?)",
                (key_hash, prefix, role.value, site_id, to_ts(now)),
            )
            return ApiKey(id=int(cur.lastrowid or 0), site_id=site_id, role=role, prefix=prefix, created_at=now)

        return await self._run(lambda conn: self._transaction(conn, create))

    async def find_api_key(self, key_hash: str) -> ApiKey | None:
        def find(conn: sqlite3.Connection) -> ApiKey | None:
            row = conn.execute(
                "SELECT id, site_id, role, prefix, created_at, revoked_at FROM api_keys WHERE key_hash = ?",
                (key_hash,),
            ).fetchone()
            if row is None:
                return None
            return ApiKey(
                id=row[0],
                site_id=row[1],
                role=Role(row[2]),
                prefix=row[3],
                created_at=from_ts(row[4]),
                revoked_at=from_ts(row[5]) if row[5] else None,
            )

        return await self._run(find)

    # -- comments -------------------------------------------------------------------------
    async def get_comment(self, site_id: str, comment_id: int) -> Comment | None:
        def get(conn: sqlite3.Connection) -> Comment | None:
            row = conn.execute(
                f"SELECT {COMMENT_COLUMNS} FROM comments WHERE site_id = ? AND id = ?", (site_id, comment_id)
            ).fetchone()
            return comment_from_row(row) if row else None

        return await self._run(get)

    async def parent_exists(self, site_id: str, article_id: str, parent_id: int) -> bool:
        row = await self._run(
            lambda conn: conn.execute(
                "SELECT 1 FROM comments WHERE site_id = ? AND article_id = ? AND id = ?",
                (site_id, article_id, parent_id),
            ).fetchone()
        )
        return row is not None

    async def find_idempotent(self, site_id: str, key: str) -> IdempotentResponse | None:
        def find(conn: sqlite3.Connection) -> IdempotentResponse | None:
            row = conn.execute(
                "SELECT request_hash, comment_id, response_status, response_body FROM idempotency_keys "
                "WHERE site_id = ? AND key = ?",
                (site_id, key),
            ).fetchone()
            if row is None:
                return None
            return IdempotentResponse(row[0], row[1], row[2], json.loads(row[3]))

        return await self._run(find)

    async def insert_comment(
        self,
        new: NewComment,
        *,
        now: datetime,
        flood_interval: float,
        idempotency: tuple[str, str] | None,
        render: RenderResponse,
    ) -> tuple[Comment, dict[str, Any], bool]:
        sub = new.submission

        def insert(conn: sqlite3.Connection) -> tuple[Comment, dict[str, Any], bool]:
            if idempotency is not None:
                key, request_hash = idempotency
                row = conn.execute(
                    "SELECT request_hash, comment_id, response_body FROM idempotency_keys WHERE site_id = ? AND key = ?",
                    (new.site_id, key),
                ).fetchone()
                if row is not None:
                    if row[0] != request_hash:
                        raise IdempotencyConflict()
                    existing = conn.execute(
                        f"SELECT {COMMENT_COLUMNS} FROM comments WHERE id = ?", (row[1],)
                    ).fetchone()
                    return comment_from_row(existing), json.loads(row[2]), True

            # Duplicate before flood, as WordPress does: a double-click gets "duplicate", not "slow down".
            dup = conn.execute(
                "SELECT id FROM comments WHERE site_id = ? AND article_id = ? AND author_email = ? "
                "AND content_hash = ? ORDER BY id LIMIT 1",
                (new.site_id, sub.article_id, sub.author_email, new.content_hash),
            ).fetchone()
            if dup is not None:
                raise DuplicateComment(existing_id=dup[0])

            if flood_interval > 0:
                since = to_ts(now - timedelta(seconds=flood_interval))
                last = conn.execute(
                    "SELECT MAX(created_at) FROM comments WHERE site_id = ? AND created_at > ? AND "
                    "(author_email = ? OR (author_ip IS NOT NULL AND author_ip = ?))",
                    (new.site_id, since, sub.author_email, sub.author_ip),
                ).fetchone()[0]
                if last is not None:
                    wait = flood_interval - (now - from_ts(last)).total_seconds()
                    raise TooManyRequests(retry_after=max(1, int(wait + 0.999)))

            verdict = new.verdict
            reasons_json = json.dumps([r.to_json() for r in verdict.reasons], ensure_ascii=False)
            stamp = to_ts(now)
            cur = conn.execute(
                "INSERT INTO comments (site_id, article_id, parent_id, author_name, author_email, author_url, "
                "author_ip, user_agent, referrer, content, content_hash, lang, signals, status, decision, reasons, "
                "scores, model_version, revision, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
                (
                    new.site_id, sub.article_id, sub.parent_id, sub.author_name, sub.author_email, sub.author_url,
                    sub.author_ip, sub.user_agent, sub.referrer, sub.content, new.content_hash, sub.lang,
                    json.dumps(new.signals), verdict.status.value, verdict.decision.value, reasons_json,
                    json.dumps(verdict.scores), verdict.model_version, stamp, stamp,
                ),
            )
            comment_id = int(cur.lastrowid or 0)
            conn.execute(
                "INSERT INTO comment_events (comment_id, site_id, at, actor, action, from_status, to_status, "
                "reasons, model_version) VALUES (?, ?, ?, 'system', 'submitted', NULL, ?, ?, ?)",
                (comment_id, new.site_id, stamp, verdict.status.value, reasons_json, verdict.model_version),
            )
            row = conn.execute(f"SELECT {COMMENT_COLUMNS} FROM comments WHERE id = ?", (comment_id,)).fetchone()
            comment = comment_from_row(row)
            body = render(comment)
            if idempotency is not None:
                conn.execute(
                    "INSERT INTO idempotency_keys (site_id, key, request_hash, comment_id, response_status, "
                    "response_body, created_at) VALUES (?, ?, ?, ?, 201, ?, ?)",
                    (new.site_id, idempotency[0], idempotency[1], comment_id, json.dumps(body), stamp),
                )
            return comment, body, False

        return await self._run(lambda conn: self._transaction(conn, insert))

    # -- labels for retraining --------------------------------------------------------------------
    async def add_training_label(self, label: TrainingLabel, now: datetime) -> int:
        def add(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "INSERT INTO training_labels (site_id, comment_id, text, label, source, actor, model_version, "
                "scores, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    label.site_id, label.comment_id, label.text, label.label, label.source, label.actor,
                    label.model_version, json.dumps(label.scores) if label.scores is not None else None, to_ts(now),
                ),
            )
            return int(cur.lastrowid or 0)

        return await self._run(add)

    async def list_training_labels(self, *, since_id: int = 0, limit: int = 10_000) -> list[dict[str, Any]]:
        def list_(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute(
                "SELECT id, site_id, comment_id, text, label, source, model_version, scores, created_at "
                "FROM training_labels WHERE id > ? ORDER BY id LIMIT ?",
                (since_id, limit),
            ).fetchall()
            return [
                {
                    "id": r[0], "site_id": r[1], "comment_id": r[2], "text": r[3], "label": r[4], "source": r[5],
                    "model_version": r[6], "scores": json.loads(r[7]) if r[7] else None, "decided_at": r[8],
                }
                for r in rows
            ]

        return await self._run(list_)

    # -- model quality in production ----------------------------------------------------------------
    async def model_stats(self, site_id: str | None = None) -> list[dict[str, Any]]:
        """Per model version: automatic decisions and how often moderators overturned them."""

        def stats(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            where, params = ("WHERE site_id = ?", (site_id,)) if site_id else ("", ())
            rows = conn.execute(
                "SELECT COALESCE(model_version, ''), COUNT(*), "
                "SUM(decision = 'publish'), SUM(decision = 'hold'), "
                "SUM(decision = 'hold' AND status = 'published'), SUM(decision = 'hold' AND status = 'rejected'), "
                "SUM(decision = 'publish' AND status IN ('removed', 'rejected')) "
                f"FROM comments {where} GROUP BY 1 ORDER BY 1",
                params,
            ).fetchall()
            return [model_stats_row(r) for r in rows]

        return await self._run(stats)


def model_stats_row(row: Any) -> dict[str, Any]:
    version, total, published, held, held_approved, held_rejected, published_removed = (int(x or 0) if i else x
                                                                                          for i, x in enumerate(row))
    return {
        "model_version": version or None,
        "comments": total,
        "auto_published": published,
        "auto_held": held,
        "held_then_approved": held_approved,
        "held_then_rejected": held_rejected,
        "published_then_removed": published_removed,
        # Of the held comments a moderator has decided, the share they approved (false holds).
        "hold_overturn_rate": round(held_approved / (held_approved + held_rejected), 4)
        if held_approved + held_rejected else None,
        "publish_overturn_rate": round(published_removed / published, 4) if published else None,
    }
