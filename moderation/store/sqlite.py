"""SQLite backend: the embedded default (one replica).

All work runs on one dedicated thread with one connection, and every public method is a single
synchronous function on that thread, so no other coroutine can interleave statements with it,
without locks. WAL mode lets readers (the ``sqlite3`` shell, backups, other worker processes) work
beside the writer; ``synchronous=FULL`` because a 201 promises the comment is on disk.

Writes use *group commit*: every write that arrives while the previous commit is on disk joins the
next transaction, each inside its own savepoint (a write that fails is rolled back alone and its
caller gets its error), and all of them share one COMMIT and one fsync. No caller is answered before
the COMMIT that holds its rows has returned, so durability is what it was with one transaction per
write; a lone write is committed at once (nothing waits to fill a batch). With several worker
processes each has its own connection and batches; ``BEGIN IMMEDIATE`` plus the busy timeout makes
them take turns.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from .. import workflow
from ..domain import ApiKey, Comment, Role, Status
from ..errors import NotFound
from ..labels import reason_kind
from . import (
    AuditEvent,
    AuthorBlockOutcome,
    AuthorHistory,
    CampaignSignature,
    ClusterSummary,
    DecisionOutcome,
    DeliveryRecord,
    IdempotentResponse,
    IndexEntry,
    ModeratorSession,
    NewComment,
    OutboxItem,
    QueueOrder,
    QueuePage,
    QueueQuery,
    RenderResponse,
    ReportOutcome,
    ShadowRows,
    SignatureKey,
    SignatureVote,
    WebhookTarget,
    privacy_sqlite,
)
from .rows import (
    COMMENT_COLUMNS,
    DELIVERIES_SELECT,
    EVENTS_SELECT,
    OPERATOR_KEY_SELECT,
    SIGNATURE_COLUMNS,
    api_key_from_row,
    audit_event_from_row,
    author_history_from_rows,
    author_match,
    author_standing_from_rows,
    cluster_from_row,
    comment_from_row,
    delivery_from_row,
    from_ts,
    migration_files,
    model_stats_row,
    newest_first,
    outbox_item_from_row,
    queue_counts_json,
    queue_item_from_row,
    session_from_row,
    signature_from_row,
    to_ts,
    training_label_json,
    vote_from_row,
)

T = TypeVar("T")

# Bounds the time one batch holds the write lock (and so the latency it adds to the next one).
MAX_BATCH = 128


def create_private_file(path: Path) -> None:
    """Create the database file (and its directory) readable by this user only.

    The file holds e-mails, IPs and webhook secrets. SQLite gives its -wal and -shm files the database
    file's permissions, so creating the file 0600 before the first connect covers all three.
    """
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


# Every submission reads its author's standing. Without statistics SQLite's planner prefers an index that
# serves the GROUP BY (comments_queue_risk: every comment of the site) over the author's own rows, which
# made each submission scan the whole site (bench/RESULTS.md, 2026-12-02 16:31): name the index.
AUTHOR_STANDING_SQL = ("SELECT status, COUNT(*) FROM comments INDEXED BY comments_by_email_hash "
                       "WHERE site_id = ? AND author_email_hash = ? GROUP BY status")

class SQLiteStore:
    def __init__(self, path: str, *, on_commit: Callable[[int], None] | None = None) -> None:
        self.path = Path(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._conn: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None  # the event loop's read-only connection (_read_here)
        self._pending: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._on_commit = on_commit  # told each commit's batch size (a metric)

    # -- plumbing -------------------------------------------------------------------------
    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn)

    def _read_here(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run one small indexed read on the event loop's own read-only connection, not the store thread.

        For reads every request makes (API keys, the author's block): the trip to the store thread costs more
        than the read, and there it would queue behind a group commit's fsync. In WAL mode this connection
        never waits for the writer and sees every committed change (a revocation or a block holds at once).
        """
        if self._reader is None:
            self._reader = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=1)
        return fn(self._reader)

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            create_private_file(self.path)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            self._conn = conn
        return fn(self._conn)

    async def _write(self, body: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``body`` in the next group commit; return (or raise) once that COMMIT has returned."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._pending.append((body, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        # shield: a caller that goes away must not cancel the flusher; its write is committed anyway.
        return await asyncio.shield(future)

    async def _flush(self) -> None:
        # Writes that arrive while a batch is on the thread wait here and form the next batch.
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            bodies = [body for body, _ in batch]
            try:
                outcomes = await self._run(functools.partial(self._commit_batch, bodies=bodies))
            except Exception as exc:  # BEGIN or COMMIT failed: nothing of the batch is stored
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            if self._on_commit is not None:
                self._on_commit(len(batch))
            for (_, future), (ok, value) in zip(batch, outcomes):
                if not future.done():
                    future.set_result(value) if ok else future.set_exception(value)

    @classmethod
    def _commit_alone(cls, conn: sqlite3.Connection, body: Callable[[sqlite3.Connection], T]) -> T:
        """One write in a transaction of its own, committed now (for a caller with nothing to batch with)."""
        [(ok, value)] = cls._commit_batch(conn, bodies=[body])
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    @staticmethod
    def _commit_batch(conn: sqlite3.Connection, *, bodies: list[Callable[[sqlite3.Connection], Any]]) -> list[
            tuple[bool, Any]]:
        """One transaction, one savepoint per write, one COMMIT: [(ok, result or exception)]."""
        conn.execute("BEGIN IMMEDIATE")
        outcomes: list[tuple[bool, Any]] = []
        try:
            for body in bodies:
                conn.execute("SAVEPOINT write")
                try:
                    result = body(conn)
                except Exception as exc:  # this write only: the others in the batch go on
                    conn.execute("ROLLBACK TO write")
                    conn.execute("RELEASE write")
                    outcomes.append((False, exc))
                else:
                    conn.execute("RELEASE write")
                    outcomes.append((True, result))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return outcomes

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
                stamp = to_ts(datetime.now(UTC))
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

        if self._flusher is not None:
            await self._flusher  # answer every write already accepted before closing
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._conn is not None:
            await self._run(close)
            self._conn = None
        self._executor.shutdown(wait=True)

    async def ping(self) -> None:
        await self._run(lambda conn: conn.execute("SELECT 1").fetchone())

    # -- sites and keys -----------------------------------------------------------------------
    async def ensure_site(self, site_id: str, now: datetime) -> None:
        await self._write(
            lambda conn: conn.execute(
                "INSERT OR IGNORE INTO sites (id, created_at) VALUES (?, ?)", (site_id, to_ts(now))
            )
        )

    async def create_api_key(self, *, site_id: str, role: Role, key_hash: str, prefix: str, now: datetime) -> ApiKey:
        def create(conn: sqlite3.Connection) -> ApiKey:
            if role is Role.OPERATOR:  # belongs to no site
                cur = conn.execute("INSERT INTO operator_keys (key_hash, prefix, created_at) VALUES (?, ?, ?)",
                                   (key_hash, prefix, to_ts(now)))
                return ApiKey(id=int(cur.lastrowid or 0), site_id="", role=role, prefix=prefix, created_at=now)
            conn.execute("INSERT OR IGNORE INTO sites (id, created_at) VALUES (?, ?)", (site_id, to_ts(now)))
            cur = conn.execute(
                "INSERT INTO api_keys (key_hash, prefix, role, site_id, created_at) VALUES (?, ?, ?, ?, ?)",
                (key_hash, prefix, role.value, site_id, to_ts(now)),
            )
            return ApiKey(id=int(cur.lastrowid or 0), site_id=site_id, role=role, prefix=prefix, created_at=now)

        return await self._write(create)

    async def find_api_key(self, key_hash: str) -> ApiKey | None:
        # Every request asks: read on the event loop (_read_here), so a revocation holds at once.
        row = self._read_here(lambda conn: conn.execute(
            "SELECT id, site_id, role, prefix, created_at, revoked_at FROM api_keys WHERE key_hash = ? "
            f"UNION ALL {OPERATOR_KEY_SELECT} WHERE key_hash = ?",
            (key_hash, key_hash),
        ).fetchone())
        return api_key_from_row(row) if row else None

    async def create_akismet_alias(self, *, api_key_id: int, alias_hash: str, now: datetime) -> None:
        await self._write(
            lambda conn: conn.execute(
                "INSERT INTO akismet_aliases (alias_hash, api_key_id, created_at) VALUES (?, ?, ?)",
                (alias_hash, api_key_id, to_ts(now)),
            )
        )

    async def find_akismet_alias(self, alias_hash: str) -> ApiKey | None:
        row = await self._run(
            lambda conn: conn.execute(
                "SELECT k.id, k.site_id, k.role, k.prefix, k.created_at, k.revoked_at FROM akismet_aliases a "
                "JOIN api_keys k ON k.id = a.api_key_id WHERE a.alias_hash = ?",
                (alias_hash,),
            ).fetchone()
        )
        return api_key_from_row(row) if row else None

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

    async def latest_author_comment(self, site_id: str, article_id: str, email_hash: str) -> int | None:
        row = await self._run(
            lambda conn: conn.execute(
                "SELECT id FROM comments WHERE site_id = ? AND article_id = ? AND author_email_hash = ? "
                "ORDER BY id DESC LIMIT 1",
                (site_id, article_id, email_hash),
            ).fetchone()
        )
        return None if row is None else int(row[0])

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
                    workflow.check_replay(row[0], request_hash)
                    existing = conn.execute(
                        f"SELECT {COMMENT_COLUMNS} FROM comments WHERE id = ?", (row[1],)
                    ).fetchone()
                    return comment_from_row(existing), json.loads(row[2]), True

            email_col, email, ip_col, ip = author_match(new)
            dup = conn.execute(
                f"SELECT id FROM comments WHERE site_id = ? AND article_id = ? AND {email_col} = ? "
                "AND content_hash = ? ORDER BY id LIMIT 1",
                (new.site_id, sub.article_id, email, new.content_hash),
            ).fetchone()
            last = None
            if dup is None and flood_interval > 0:
                last = conn.execute(
                    "SELECT MAX(created_at) FROM comments WHERE site_id = ? AND created_at > ? AND "
                    f"({email_col} = ? OR ({ip_col} IS NOT NULL AND {ip_col} = ?))",
                    (new.site_id, to_ts(workflow.flood_window_start(now, flood_interval)), email, ip),
                ).fetchone()[0]
            workflow.admit(duplicate_of=dup[0] if dup else None, last_at=from_ts(last) if last else None, now=now,
                  flood_interval=flood_interval)

            verdict = new.verdict
            reasons = workflow.reasons_json(verdict.reasons)
            stamp = to_ts(now)
            cur = conn.execute(
                "INSERT INTO comments (site_id, article_id, parent_id, author_name, author_email, author_url, "
                "author_ip, user_agent, referrer, content, content_hash, lang, signals, status, decision, reasons, "
                "scores, model_version, revision, created_at, updated_at, cluster_id, minhash, author_email_hash, "
                "author_ip_hash, shadow_decision) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)",
                (
                    new.site_id, sub.article_id, sub.parent_id, sub.author_name, sub.author_email, sub.author_url,
                    sub.author_ip, sub.user_agent, sub.referrer, sub.content, new.content_hash, sub.lang,
                    json.dumps(new.signals), verdict.status.value, verdict.decision.value, reasons,
                    json.dumps(verdict.scores), verdict.model_version, stamp, stamp, new.cluster_id, new.minhash,
                    new.email_hash, new.ip_hash,
                    verdict.shadow_decision.value if verdict.shadow_decision else None,
                ),
            )
            comment_id = int(cur.lastrowid or 0)
            event = conn.execute(
                "INSERT INTO comment_events (comment_id, site_id, at, actor, action, from_status, to_status, "
                "reasons, model_version) VALUES (?, ?, ?, 'system', 'submitted', NULL, ?, ?, ?)",
                (comment_id, new.site_id, stamp, verdict.status.value, reasons, verdict.model_version),
            )
            row = conn.execute(f"SELECT {COMMENT_COLUMNS} FROM comments WHERE id = ?", (comment_id,)).fetchone()
            comment = comment_from_row(row)
            enqueue_webhook(conn, workflow.Created(comment, now), event_id=int(event.lastrowid or 0))
            body = render(comment)
            if idempotency is not None:
                conn.execute(
                    "INSERT INTO idempotency_keys (site_id, key, request_hash, comment_id, response_status, "
                    "response_body, created_at) VALUES (?, ?, ?, ?, 201, ?, ?)",
                    (new.site_id, idempotency[0], idempotency[1], comment_id, json.dumps(body), stamp),
                )
            return comment, body, False

        return await self._write(insert)

    # -- labels for retraining --------------------------------------------------------------------
    async def add_training_label(self, label: workflow.TrainingLabel, now: datetime) -> int:
        # The same statement a moderator decision runs inside its own transaction.
        return await self._write(lambda conn: insert_training_label(conn, label, now))

    async def list_training_labels(self, *, since_id: int = 0, limit: int = 10_000) -> list[dict[str, Any]]:
        def list_(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute(
                "SELECT id, site_id, comment_id, text, label, source, model_version, scores, created_at "
                "FROM training_labels WHERE id > ? ORDER BY id LIMIT ?",
                (since_id, limit),
            ).fetchall()
            return [training_label_json(r) for r in rows]

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


    # -- campaign memory ----------------------------------------------------------------------------
    async def campaign_version(self, site_id: str) -> int:
        row = await self._run(
            lambda conn: conn.execute("SELECT campaign_version FROM sites WHERE id = ?", (site_id,)).fetchone()
        )
        return int(row[0]) if row else 0

    async def campaign_index_rows(self, site_id: str, *, after_id: int, since: datetime, limit: int) -> list[IndexEntry]:
        def rows(conn: sqlite3.Connection) -> list[IndexEntry]:
            found = conn.execute(
                "SELECT id, COALESCE(cluster_id, id), minhash, created_at FROM comments WHERE site_id = ? "
                "AND id > ? AND created_at >= ? AND minhash IS NOT NULL ORDER BY id LIMIT ?",
                (site_id, after_id, to_ts(since), limit),
            ).fetchall()
            return [IndexEntry(r[0], r[1], bytes(r[2]), from_ts(r[3])) for r in found]

        return await self._run(rows)

    async def comment_campaign(self, site_id: str, comment_id: int) -> tuple[int, bytes | None] | None:
        row = await self._run(
            lambda conn: conn.execute(
                "SELECT COALESCE(cluster_id, id), minhash FROM comments WHERE site_id = ? AND id = ?",
                (site_id, comment_id),
            ).fetchone()
        )
        return (int(row[0]), bytes(row[1]) if row[1] is not None else None) if row else None

    async def record_campaign_votes(
        self, site_id: str, comment_id: int, *, actor: str, action: str, label: str,
        keys: Sequence[SignatureKey], now: datetime, ttl: timedelta,
    ) -> int:
        stamp, expires, window = to_ts(now), to_ts(now + ttl), to_ts(now - ttl)

        def record(conn: sqlite3.Connection) -> int:
            changed = 0
            for key in keys:
                row = conn.execute(
                    "SELECT id, removed_at FROM campaign_signatures WHERE site_id = ? AND kind = ? AND value = ?",
                    (site_id, key.kind, key.value),
                ).fetchone()
                effect = workflow.signature_vote_effect(exists=row is not None, removed=bool(row and row[1]),
                                                        action=action)
                if effect is workflow.SignatureVoteEffect.SKIP:
                    continue
                if effect is workflow.SignatureVoteEffect.CREATE:
                    cur = conn.execute(
                        "INSERT INTO campaign_signatures (site_id, kind, value, minhash, created_at, updated_at, "
                        "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (site_id, key.kind, key.value, key.minhash, stamp, stamp, expires),
                    )
                    signature_id = int(cur.lastrowid or 0)
                else:
                    signature_id = row[0]
                added = conn.execute(
                    "INSERT OR IGNORE INTO campaign_votes (signature_id, site_id, comment_id, actor, action, label, at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (signature_id, site_id, comment_id, actor, action, label, stamp),
                ).rowcount
                if not added:
                    continue
                conn.execute(
                    "UPDATE campaign_signatures SET "
                    "rejections = (SELECT COUNT(*) FROM campaign_votes v WHERE v.signature_id = campaign_signatures.id "
                    "  AND v.action = 'reject' AND v.at > ?), "
                    "approvals = (SELECT COUNT(*) FROM campaign_votes v WHERE v.signature_id = campaign_signatures.id "
                    "  AND v.action = 'approve' AND v.at > ?), "
                    "moderators = (SELECT COUNT(DISTINCT actor) FROM campaign_votes v "
                    "  WHERE v.signature_id = campaign_signatures.id AND v.action = 'reject' AND v.at > ?), "
                    "updated_at = ?, expires_at = CASE WHEN ? = 'reject' THEN ? ELSE expires_at END WHERE id = ?",
                    (window, window, window, stamp, action, expires, signature_id),
                )
                changed += 1
            if changed:
                conn.execute("UPDATE sites SET campaign_version = campaign_version + 1 WHERE id = ?", (site_id,))
            return changed

        return await self._write(record)

    async def list_campaign_signatures(self, site_id: str, *, now: datetime) -> list[CampaignSignature]:
        def list_(conn: sqlite3.Connection) -> list[CampaignSignature]:
            return [signature_from_row(r) for r in conn.execute(
                f"SELECT {SIGNATURE_COLUMNS} FROM campaign_signatures WHERE site_id = ? AND removed_at IS NULL "
                "AND expires_at > ? ORDER BY rejections DESC, id",
                (site_id, to_ts(now)),
            )]

        return await self._run(list_)

    async def get_campaign_signature(self, site_id: str, signature_id: int) -> CampaignSignature | None:
        row = await self._run(
            lambda conn: conn.execute(
                f"SELECT {SIGNATURE_COLUMNS} FROM campaign_signatures WHERE site_id = ? AND id = ?",
                (site_id, signature_id),
            ).fetchone()
        )
        return signature_from_row(row) if row else None

    async def campaign_signature_votes(self, site_id: str, signature_id: int, *, limit: int) -> list[SignatureVote]:
        def list_(conn: sqlite3.Connection) -> list[SignatureVote]:
            return [vote_from_row(r) for r in conn.execute(
                "SELECT comment_id, actor, action, label, at FROM campaign_votes WHERE site_id = ? "
                "AND signature_id = ? ORDER BY id DESC LIMIT ?",
                (site_id, signature_id, limit),
            )]

        return await self._run(list_)

    async def remove_campaign_signature(self, site_id: str, signature_id: int, *, actor: str, now: datetime) -> bool:
        def remove(conn: sqlite3.Connection) -> bool:
            done = conn.execute(
                "UPDATE campaign_signatures SET removed_at = ?, removed_by = ?, updated_at = ? "
                "WHERE site_id = ? AND id = ? AND removed_at IS NULL",
                (to_ts(now), actor, to_ts(now), site_id, signature_id),
            ).rowcount
            if done:
                conn.execute("UPDATE sites SET campaign_version = campaign_version + 1 WHERE id = ?", (site_id,))
            return bool(done)

        return await self._write(remove)

    async def list_clusters(self, site_id: str, *, statuses: tuple[Status, ...], min_size: int,
                            limit: int) -> list[ClusterSummary]:
        def list_(conn: sqlite3.Connection) -> list[ClusterSummary]:
            marks = _in_marks(statuses)
            groups = conn.execute(
                "SELECT COALESCE(cluster_id, id) AS cid, COUNT(*), MIN(id), MAX(id), MIN(created_at), MAX(created_at) "
                f"FROM comments WHERE site_id = ? AND status IN ({marks}) AND minhash IS NOT NULL "
                "GROUP BY cid HAVING COUNT(*) >= ? ORDER BY COUNT(*) DESC, cid LIMIT ?",
                [site_id, *(s.value for s in statuses), min_size, limit],
            ).fetchall()
            found = []
            for g in groups:
                sample = conn.execute(f"SELECT {COMMENT_COLUMNS} FROM comments WHERE id = ?", (g[3],)).fetchone()
                found.append(cluster_from_row(g, comment_from_row(sample)))
            return found

        return await self._run(list_)

    async def cluster_comments(self, site_id: str, cluster_id: int, *, statuses: tuple[Status, ...],
                               up_to_id: int, limit: int) -> list[Comment]:
        def list_(conn: sqlite3.Connection) -> list[Comment]:
            return [comment_from_row(r) for r in conn.execute(
                f"SELECT {COMMENT_COLUMNS} FROM comments WHERE site_id = ? AND (cluster_id = ? OR id = ?) "
                f"AND status IN ({_in_marks(statuses)}) AND id <= ? ORDER BY id LIMIT ?",
                [site_id, cluster_id, cluster_id, *(s.value for s in statuses), up_to_id, limit],
            )]

        return await self._run(list_)

    # -- the moderator workflow: queue, decisions, reports, audit ---------------------------------
    async def list_queue(self, site_id: str, query: QueueQuery) -> QueuePage:
        def list_(conn: sqlite3.Connection) -> QueuePage:
            sql, params = queue_sql(site_id, query)
            rows = conn.execute(sql, params).fetchall()
            has_more = len(rows) > query.limit
            rows = rows[: query.limit]
            ids = [r[0] for r in rows]
            kinds = queue_reason_kinds(conn, ids)
            reports = open_report_reasons(conn, ids)
            history = author_history(conn, site_id, {r[-1] for r in rows if r[-1]})
            return QueuePage(items=[queue_item_from_row(r, kinds, reports, history) for r in rows], has_more=has_more)

        return await self._run(list_)

    async def queue_counts(self, site_id: str) -> dict[str, Any]:
        def count(conn: sqlite3.Connection) -> dict[str, Any]:
            by_status = conn.execute(
                "SELECT status, COUNT(*) FROM comments WHERE site_id = ? GROUP BY status", (site_id,)
            ).fetchall()
            held_by_reason = conn.execute(
                "SELECT k.kind, COUNT(*) FROM comment_reason_kinds k JOIN comments c ON c.id = k.comment_id "
                "WHERE k.site_id = ? AND c.status = 'held' GROUP BY k.kind",
                (site_id,),
            ).fetchall()
            reported = conn.execute(
                "SELECT COUNT(*) FROM comments WHERE site_id = ? AND status IN ('published', 'held') "
                "AND open_reports > 0",
                (site_id,),
            ).fetchone()[0]
            return queue_counts_json(by_status, held_by_reason, reported)

        return await self._run(count)

    async def shadow_rows(self, site_id: str, *, recent: int) -> ShadowRows:
        def read(conn: sqlite3.Connection) -> ShadowRows:
            outcomes = conn.execute(
                "SELECT shadow_decision, status, EXISTS (SELECT 1 FROM comment_reports r WHERE r.comment_id = c.id), "
                "COUNT(*) FROM comments c WHERE site_id = ? AND shadow_decision IS NOT NULL GROUP BY 1, 2, 3",
                (site_id,),
            ).fetchall()
            kinds = conn.execute(
                "SELECT c.shadow_decision, k.kind, COUNT(*) FROM comments c JOIN comment_reason_kinds k "
                "ON k.comment_id = c.id WHERE c.site_id = ? AND c.shadow_decision IN ('hold', 'reject') "
                "GROUP BY 1, 2",
                (site_id,),
            ).fetchall()
            rows = conn.execute(
                f"SELECT {COMMENT_COLUMNS} FROM comments WHERE site_id = ? AND shadow_decision IN ('hold', 'reject') "
                "ORDER BY id DESC LIMIT ?",
                (site_id, recent),
            ).fetchall()
            return ShadowRows([(d, s, bool(r), int(n)) for d, s, r, n in outcomes],
                              [(d, k, int(n)) for d, k, n in kinds], [comment_from_row(r) for r in rows])

        return await self._run(read)

    async def decide(self, site_id: str, decision: workflow.ModeratorDecision, *, actor: str,
                     now: datetime) -> DecisionOutcome:
        def decide(conn: sqlite3.Connection) -> DecisionOutcome:
            row = conn.execute(
                f"SELECT {COMMENT_COLUMNS}, open_reports FROM comments WHERE site_id = ? AND id = ?",
                (site_id, decision.comment_id),
            ).fetchone()
            if row is None:
                raise NotFound("No such comment.")
            plan = workflow.plan_decision(comment_from_row(row), int(row[-1]), decision, actor=actor, now=now)
            return apply_decision_plan(conn, plan, now)

        return await self._write(decide)

    async def author_standing(self, site_id: str, email_hash: str, *, counts: bool = True) -> workflow.AuthorStanding:
        def read(conn: sqlite3.Connection) -> workflow.AuthorStanding:
            rows = conn.execute(AUTHOR_STANDING_SQL, (site_id, email_hash)).fetchall() if counts else []
            blocked = conn.execute("SELECT 1 FROM author_blocks WHERE site_id = ? AND email_hash = ?",
                                   (site_id, email_hash)).fetchone() is not None
            return author_standing_from_rows(rows, blocked)

        # Every submission asks (before it is scored): on the event loop, like the key lookup.
        return self._read_here(read)

    async def set_author_block(self, site_id: str, comment_id: int, *, block: bool, actor: str, note: str | None,
                               now: datetime) -> AuthorBlockOutcome:
        def apply(conn: sqlite3.Connection) -> AuthorBlockOutcome:
            row = conn.execute(f"SELECT {COMMENT_COLUMNS}, author_email_hash FROM comments WHERE site_id = ? AND id = ?",
                               (site_id, comment_id)).fetchone()
            if row is None:
                raise NotFound("No such comment.")
            comment, email_hash = comment_from_row(row), row[-1]
            current = email_hash is not None and conn.execute(
                "SELECT 1 FROM author_blocks WHERE site_id = ? AND email_hash = ?", (site_id, email_hash)
            ).fetchone() is not None
            event = workflow.plan_author_block(comment, email_hash, block=block, currently_blocked=current,
                                               actor=actor, note=note)
            if event is None:
                return AuthorBlockOutcome(comment.id, current, False, None)
            if block:
                conn.execute("INSERT INTO author_blocks (site_id, email_hash, comment_id, actor, note, blocked_at) "
                             "VALUES (?, ?, ?, ?, ?, ?)", (site_id, email_hash, comment.id, actor, note, to_ts(now)))
            else:
                conn.execute("DELETE FROM author_blocks WHERE site_id = ? AND email_hash = ?", (site_id, email_hash))
            return AuthorBlockOutcome(comment.id, block, True, insert_event(conn, event, at=to_ts(now)))

        return await self._write(apply)

    async def edit_comment(self, site_id: str, edit: workflow.Edit, *, now: datetime) -> DecisionOutcome:
        def apply(conn: sqlite3.Connection) -> DecisionOutcome:
            row = conn.execute(f"SELECT {COMMENT_COLUMNS} FROM comments WHERE site_id = ? AND id = ?",
                               (site_id, edit.comment_id)).fetchone()
            if row is None:
                raise NotFound("No such comment.")
            plan = workflow.plan_edit(comment_from_row(row), edit, now=now)
            comment, verdict, stamp = plan.comment, edit.verdict, to_ts(now)
            reasons = workflow.reasons_json(verdict.reasons)
            conn.execute(
                "UPDATE comments SET content = ?, content_hash = ?, author_name = ?, author_url = ?, status = ?, "
                "decision = ?, reasons = ?, scores = ?, model_version = ?, risk = ?, shadow_decision = ?, "
                "revision = revision + 1, updated_at = ? WHERE id = ? AND revision = ?",
                (edit.content, edit.content_hash, edit.author_name, edit.author_url, plan.target.value,
                 verdict.decision.value, reasons, json.dumps(verdict.scores), verdict.model_version,
                 max(verdict.scores.values(), default=0.0),
                 verdict.shadow_decision.value if verdict.shadow_decision else None, stamp, comment.id,
                 comment.revision),
            )
            conn.execute("DELETE FROM comment_reason_kinds WHERE comment_id = ?", (comment.id,))
            conn.executemany(
                "INSERT OR IGNORE INTO comment_reason_kinds (comment_id, site_id, kind) VALUES (?, ?, ?)",
                [(comment.id, site_id, reason_kind(r.code, r.source)) for r in verdict.reasons],
            )
            event, at = plan.event, stamp
            event_id = int(conn.execute(
                "INSERT INTO comment_events (comment_id, site_id, at, actor, action, from_status, to_status, "
                "reasons, model_version, previous_content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (event.comment_id, site_id, at, event.actor, event.action, event.from_status, event.to_status,
                 reasons, event.model_version, comment.content),
            ).lastrowid or 0)
            queued = plan.webhook is not None and enqueue_webhook(conn, plan.webhook, event_id=event_id)
            updated = comment_from_row(
                conn.execute(f"SELECT {COMMENT_COLUMNS} FROM comments WHERE id = ?", (comment.id,)).fetchone()
            )
            return DecisionOutcome(updated, comment.status, event_id, queued, 0)

        return await self._write(apply)

    async def add_report(
        self, site_id: str, comment_id: int, *, reason: str, note: str | None, reporter_hash: str | None,
        now: datetime, hold_threshold: int = 0,
    ) -> ReportOutcome:
        def report(conn: sqlite3.Connection) -> ReportOutcome:
            row = conn.execute(
                f"SELECT {COMMENT_COLUMNS}, open_reports FROM comments WHERE site_id = ? AND id = ?",
                (site_id, comment_id),
            ).fetchone()
            if row is None:
                raise NotFound("No such comment.")
            comment = comment_from_row(row)
            if reporter_hash is not None:
                earlier = conn.execute(
                    "SELECT id FROM comment_reports WHERE comment_id = ? AND reporter_hash = ?",
                    (comment_id, reporter_hash),
                ).fetchone()
                if earlier is not None:
                    return ReportOutcome(earlier[0], comment, int(row[-1]), duplicate=True)
            stamp = to_ts(now)
            plan = workflow.plan_report(comment, reason, open_reports=int(row[-1]), hold_threshold=hold_threshold,
                                        now=now)
            cur = conn.execute(
                "INSERT INTO comment_reports (comment_id, site_id, reason, note, reporter_hash, created_at, "
                "resolved_at, resolution) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (comment_id, site_id, reason, note, reporter_hash, stamp,
                 None if plan.opens else stamp, plan.resolution),
            )
            if plan.opens:
                conn.execute(
                    "UPDATE comments SET open_reports = open_reports + 1, last_reported_at = ? WHERE id = ?",
                    (stamp, comment_id),
                )
            insert_event(conn, plan.event, at=stamp)
            if plan.hold_event is not None:
                conn.execute("UPDATE comments SET status = 'held', revision = revision + 1, updated_at = ? "
                             "WHERE id = ? AND revision = ?", (stamp, comment_id, comment.revision))
                event_id = insert_event(conn, plan.hold_event, at=stamp)
                if plan.hold_webhook is not None:
                    enqueue_webhook(conn, plan.hold_webhook, event_id=event_id)
            open_reports = int(row[-1]) + (1 if plan.opens else 0)
            return ReportOutcome(int(cur.lastrowid or 0), comment, open_reports, duplicate=False,
                                 held=plan.hold_event is not None)

        return await self._write(report)

    async def list_events(
        self, site_id: str, *, before_id: int | None, limit: int, comment_id: int | None = None,
    ) -> list[AuditEvent]:
        sql, params = newest_first(EVENTS_SELECT.replace("{reasons}", "reasons"), site_id,
                                   filters=[("id <", before_id), ("comment_id =", comment_id)], order="id",
                                   limit=limit, mark=_mark)
        return await self._run(lambda conn: [audit_event_from_row(r) for r in conn.execute(sql, params)])

    # -- webhooks -------------------------------------------------------------------------------
    async def set_webhook(self, site_id: str, url: str | None, secret: str | None, now: datetime,
                          event_types: Sequence[str] | None = None) -> None:
        def set_(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT OR IGNORE INTO sites (id, created_at) VALUES (?, ?)", (site_id, to_ts(now)))
            conn.execute("UPDATE sites SET webhook_url = ?, webhook_secret = ?, webhook_events = ? WHERE id = ?",
                         (url, secret, workflow.stored_event_types(event_types), site_id))

        await self._write(set_)

    async def get_webhook(self, site_id: str) -> WebhookTarget | None:
        row = await self._run(
            lambda conn: conn.execute(
                "SELECT webhook_url, webhook_secret, webhook_events FROM sites WHERE id = ? AND webhook_url IS NOT NULL",
                (site_id,),
            ).fetchone()
        )
        return WebhookTarget(site_id, row[0], row[1] or "", workflow.webhook_event_types(row[2])) if row else None

    async def due_webhooks(self, now: datetime, limit: int) -> list[OutboxItem]:
        def due(conn: sqlite3.Connection) -> list[OutboxItem]:
            rows = conn.execute(
                "SELECT o.id, o.site_id, o.comment_id, o.payload, o.attempts, o.created_at, s.webhook_url, "
                "s.webhook_secret FROM webhook_outbox o JOIN sites s ON s.id = o.site_id "
                "WHERE o.delivered_at IS NULL AND o.failed_at IS NULL AND o.next_attempt_at <= ? "
                "AND s.webhook_url IS NOT NULL AND o.id = (SELECT MIN(p.id) FROM webhook_outbox p "
                "WHERE p.site_id = o.site_id AND p.delivered_at IS NULL AND p.failed_at IS NULL) "
                "ORDER BY o.id LIMIT ?",
                (to_ts(now), limit),
            ).fetchall()
            return [outbox_item_from_row(r) for r in rows]

        return await self._run(due)

    async def record_webhook_attempt(
        self, item: OutboxItem, *, at: datetime, status_code: int | None, error: str | None,
        duration_ms: float, delivered: bool, next_attempt_at: datetime | None,
    ) -> None:
        def record(conn: sqlite3.Connection) -> None:
            stamp = to_ts(at)
            conn.execute(
                "INSERT INTO webhook_deliveries (outbox_id, site_id, attempt, at, url, status_code, error, "
                "duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (item.id, item.site_id, item.attempts + 1, stamp, item.target.url, status_code, error,
                 round(duration_ms, 2)),
            )
            # The same guard as PostgreSQL's: a delivery always counts; a retry or a give-up moves the event on
            # only if no other attempt was recorded since this one was claimed (attempts is the fencing token),
            # so a dispatcher that took the event late (another worker process) cannot undo a delivery.
            if delivered:
                conn.execute(
                    "UPDATE webhook_outbox SET attempts = attempts + 1, delivered_at = ?, last_error = NULL, "
                    "failed_at = NULL WHERE id = ? AND delivered_at IS NULL",
                    (stamp, item.id),
                )
            elif next_attempt_at is not None:
                conn.execute(
                    "UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? "
                    "WHERE id = ? AND attempts = ? AND delivered_at IS NULL AND failed_at IS NULL",
                    (to_ts(next_attempt_at), error, item.id, item.attempts),
                )
            else:
                conn.execute(
                    "UPDATE webhook_outbox SET attempts = attempts + 1, failed_at = ?, last_error = ? "
                    "WHERE id = ? AND attempts = ? AND delivered_at IS NULL AND failed_at IS NULL",
                    (stamp, error, item.id, item.attempts),
                )

        # The one dispatcher is its only writer, so there is nothing to batch it with: commit it at once.
        await self._run(lambda conn: self._commit_alone(conn, record))

    async def list_webhook_deliveries(self, site_id: str, *, before_id: int | None, limit: int) -> list[DeliveryRecord]:
        sql, params = newest_first(DELIVERIES_SELECT, site_id, filters=[("d.id <", before_id)], order="d.id",
                                   limit=limit, mark=_mark)
        return await self._run(lambda conn: [delivery_from_row(r) for r in conn.execute(sql, params)])

    async def webhook_backlog(self, site_id: str) -> dict[str, int]:
        def backlog(conn: sqlite3.Connection) -> dict[str, int]:
            row = conn.execute(
                "SELECT COALESCE(SUM(delivered_at IS NULL AND failed_at IS NULL), 0), "
                "COALESCE(SUM(failed_at IS NOT NULL), 0), COALESCE(SUM(delivered_at IS NOT NULL), 0) "
                "FROM webhook_outbox WHERE site_id = ?",
                (site_id,),
            ).fetchone()
            return {"pending": int(row[0]), "failed": int(row[1]), "delivered": int(row[2])}

        return await self._run(backlog)

    async def retry_failed_webhooks(self, site_id: str, now: datetime) -> int:
        def retry(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "UPDATE webhook_outbox SET failed_at = NULL, attempts = 0, next_attempt_at = ? "
                "WHERE site_id = ? AND failed_at IS NOT NULL",
                (to_ts(now), site_id),
            ).rowcount

        return await self._write(retry)

    # -- personal data: erasure and retention (privacy_sqlite.py) -------------------------------
    async def erase_author(self, site_id: str, email: str, *, actor: str, now: datetime) -> dict[str, int]:
        return await self._write(lambda conn: privacy_sqlite.erase_author(conn, site_id, email, actor=actor, now=now))

    async def purge_site(self, site_id: str, *, ip_before: datetime | None, rejected_before: datetime | None,
                         apply: bool, actor: str, now: datetime) -> dict[str, int]:
        return await self._write(lambda conn: privacy_sqlite.purge_site(
            conn, site_id, ip_before=ip_before, rejected_before=rejected_before, apply=apply, actor=actor, now=now))

    async def site_ids(self) -> list[str]:
        return await self._run(privacy_sqlite.site_ids)

    async def backfill_author_hashes(self, hash_email: Callable[[str], str],
                                     hash_ip: Callable[[str | None], str | None]) -> int:
        return await self._write(lambda conn: privacy_sqlite.backfill_author_hashes(conn, hash_email, hash_ip))

    # -- moderator page sessions ----------------------------------------------------------------
    async def create_session(self, *, id_hash: str, api_key_id: int, csrf_hash: str, now: datetime,
                             expires_at: datetime) -> None:
        def create(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM moderator_sessions WHERE expires_at <= ?", (to_ts(now),))
            conn.execute(
                # csrf_token: the old plain column, kept empty until it is dropped (migrations/README.md).
                "INSERT INTO moderator_sessions (id_hash, api_key_id, csrf_token, csrf_hash, created_at, expires_at) "
                "VALUES (?, ?, '', ?, ?, ?)",
                (id_hash, api_key_id, csrf_hash, to_ts(now), to_ts(expires_at)),
            )

        await self._write(create)

    async def find_session(self, id_hash: str, now: datetime) -> ModeratorSession | None:
        def find(conn: sqlite3.Connection) -> ModeratorSession | None:
            row = conn.execute(
                "SELECT k.id, k.site_id, k.role, k.prefix, k.created_at, s.csrf_hash, s.expires_at "
                "FROM moderator_sessions s JOIN api_keys k ON k.id = s.api_key_id "
                "WHERE s.id_hash = ? AND s.expires_at > ? AND k.revoked_at IS NULL",
                (id_hash, to_ts(now)),
            ).fetchone()
            return session_from_row(row) if row else None

        return await self._run(find)

    async def delete_session(self, id_hash: str) -> None:
        await self._write(lambda conn: conn.execute("DELETE FROM moderator_sessions WHERE id_hash = ?", (id_hash,)))


# -- moderator workflow helpers (each runs inside the caller's transaction) ---------------------------

def queue_sql(site_id: str, query: QueueQuery) -> tuple[str, list[Any]]:
    """The page query: filters, keyset pagination on (risk, id) or id, one extra row to see if more follow."""
    marks = ", ".join("?" for _ in query.statuses)
    sql = (f"SELECT {COMMENT_COLUMNS}, risk, open_reports, signals, author_email_hash FROM comments "
           f"WHERE site_id = ? AND status IN ({marks})")
    params: list[Any] = [site_id, *(s.value for s in query.statuses)]
    if query.reason == "reported":
        sql += " AND open_reports > 0"
    elif query.reason is not None:
        sql += " AND EXISTS (SELECT 1 FROM comment_reason_kinds k WHERE k.comment_id = comments.id AND k.kind = ?)"
        params.append(query.reason)
    if query.article_id is not None:
        sql += " AND article_id = ?"
        params.append(query.article_id)
    if query.order is QueueOrder.RISK:
        if query.after is not None:
            sql += " AND (risk < ? OR (risk = ? AND id > ?))"
            params += [query.after[0], query.after[0], query.after[1]]
        sql += " ORDER BY risk DESC, id ASC"
    else:
        if query.after is not None:
            sql += " AND id > ?"
            params.append(query.after[1])
        sql += " ORDER BY id ASC"
    sql += " LIMIT ?"
    params.append(query.limit + 1)
    return sql, params


def _mark(_: int) -> str:
    return "?"


def _in_marks(values: Any) -> str:
    return ", ".join("?" for _ in values)


def queue_reason_kinds(conn: sqlite3.Connection, ids: list[int]) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    if ids:
        for comment_id, kind in conn.execute(
            f"SELECT comment_id, kind FROM comment_reason_kinds WHERE comment_id IN ({_in_marks(ids)})", ids
        ):
            found.setdefault(comment_id, set()).add(kind)
    return found


def open_report_reasons(conn: sqlite3.Connection, ids: list[int]) -> dict[int, dict[str, int]]:
    found: dict[int, dict[str, int]] = {}
    if ids:
        for comment_id, reason, n in conn.execute(
            f"SELECT comment_id, reason, COUNT(*) FROM comment_reports WHERE resolved_at IS NULL "
            f"AND comment_id IN ({_in_marks(ids)}) GROUP BY comment_id, reason",
            ids,
        ):
            found.setdefault(comment_id, {})[reason] = n
    return found


def author_history(conn: sqlite3.Connection, site_id: str, email_hashes: set[str]) -> dict[str, AuthorHistory]:
    if not email_hashes:
        return {}
    listed = sorted(email_hashes)
    return author_history_from_rows(conn.execute(
        f"SELECT author_email_hash, status, COUNT(*) FROM comments WHERE site_id = ? "
        f"AND author_email_hash IN ({_in_marks(listed)}) GROUP BY author_email_hash, status",
        [site_id, *listed],
    ), [r[0] for r in conn.execute(
        f"SELECT email_hash FROM author_blocks WHERE site_id = ? AND email_hash IN ({_in_marks(listed)})",
        [site_id, *listed],
    )])


def apply_decision_plan(conn: sqlite3.Connection, plan: workflow.DecisionPlan, now: datetime) -> DecisionOutcome:
    """Persist a planned decision: status + revision, closed reports, audit event, label, webhook event."""
    comment, stamp = plan.comment, to_ts(now)
    conn.execute(
        "UPDATE comments SET status = ?, revision = revision + 1, updated_at = ?, open_reports = 0 "
        "WHERE id = ? AND revision = ?",
        (plan.target.value, stamp, comment.id, plan.expected_revision),
    )
    closed = conn.execute(
        "UPDATE comment_reports SET resolved_at = ?, resolution = ? WHERE comment_id = ? AND resolved_at IS NULL",
        (stamp, plan.event.action, comment.id),
    ).rowcount
    event_id = insert_event(conn, plan.event, at=stamp)
    if plan.label is not None:
        insert_training_label(conn, plan.label, now)
    queued = plan.webhook is not None and enqueue_webhook(conn, plan.webhook, event_id=event_id)
    updated = comment_from_row(
        conn.execute(f"SELECT {COMMENT_COLUMNS} FROM comments WHERE id = ?", (comment.id,)).fetchone()
    )
    return DecisionOutcome(updated, comment.status, event_id, queued, closed)


def insert_event(conn: sqlite3.Connection, event: workflow.AuditEntry, *, at: str) -> int:
    cur = conn.execute(
        "INSERT INTO comment_events (comment_id, site_id, at, actor, action, from_status, to_status, label, note, "
        "model_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (event.comment_id, event.site_id, at, event.actor, event.action, event.from_status, event.to_status,
         event.label, event.note, event.model_version),
    )
    return int(cur.lastrowid or 0)


def insert_training_label(conn: sqlite3.Connection, label: workflow.TrainingLabel, now: datetime) -> int:
    cur = conn.execute(
        "INSERT INTO training_labels (site_id, comment_id, text, label, source, actor, model_version, "
        "scores, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            label.site_id, label.comment_id, label.text, label.label, label.source, label.actor,
            label.model_version, json.dumps(label.scores) if label.scores is not None else None, to_ts(now),
        ),
    )
    return int(cur.lastrowid or 0)


def enqueue_webhook(conn: sqlite3.Connection, change: workflow.WebhookEvent, *, event_id: int) -> bool:
    """Write the webhook event, if the site has a webhook and chose this kind of event."""
    site_id = change.comment.site_id
    row = conn.execute("SELECT webhook_events FROM sites WHERE id = ? AND webhook_url IS NOT NULL",
                       (site_id,)).fetchone()
    if row is None or change.event not in workflow.webhook_event_types(row[0]):
        return False
    stamp = to_ts(change.at)
    conn.execute(
        "INSERT INTO webhook_outbox (site_id, comment_id, event, payload, created_at, next_attempt_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (site_id, change.comment.id, change.event, change.payload(event_id), stamp, stamp),
    )
    return True
