"""PostgreSQL backend (asyncpg): for several service replicas sharing one database.

Cross-replica races are closed with transaction-scoped advisory locks: one per (site, e-mail) and
(site, IP) so the duplicate and flood checks see every concurrent submission of the same author,
and one per (site, Idempotency-Key). ``?schema=NAME`` in the URL keeps the tables in their own
schema (created if missing), which tests use for isolation.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from ..domain import ApiKey, Comment, Role
from ..errors import DuplicateComment, IdempotencyConflict, TooManyRequests
from . import IdempotentResponse, NewComment, RenderResponse, TrainingLabel
from .sqlite import COMMENT_COLUMNS, comment_from_row, migration_files, model_stats_row

# jsonb columns come back as text so the row mapping is shared with SQLite.
PG_COMMENT_COLUMNS = COMMENT_COLUMNS.replace("reasons, scores", "reasons::text, scores::text")
MIGRATION_LOCK = 7_231_001  # advisory lock id: one replica migrates at a time


def _split_schema(url: str) -> tuple[str, str | None]:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    if schema is not None and not schema.replace("_", "").isalnum():
        raise ValueError("the schema in MODERATION_DATABASE_URL must be letters, digits and underscores")
    return urlunsplit(parts._replace(query=rest)), schema


class PostgresStore:
    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self.url, self.schema = _split_schema(url)
        self.min_size, self.max_size = min_size, max_size
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("PostgresStore.migrate() opens the pool; call it first")
        return self._pool

    async def migrate(self) -> None:
        settings = {"search_path": self.schema} if self.schema else {}
        if self.schema:
            conn = await asyncpg.connect(self.url)
            try:
                await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            finally:
                await conn.close()
        self._pool = await asyncpg.create_pool(
            self.url, min_size=self.min_size, max_size=self.max_size, server_settings=settings
        )
        async with self.pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
            try:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                    "name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
                )
                done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
                for version, name, sql in migration_files("postgres"):
                    if version in done:
                        continue
                    async with conn.transaction():
                        await conn.execute(sql)
                        await conn.execute(
                            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name
                        )
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def ping(self) -> None:
        await self.pool.fetchval("SELECT 1")

    # -- sites and keys -----------------------------------------------------------------------
    async def ensure_site(self, site_id: str, now: datetime) -> None:
        await self.pool.execute(
            "INSERT INTO sites (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", site_id, now
        )

    async def create_api_key(self, *, site_id: str, role: Role, key_hash: str, prefix: str, now: datetime) -> ApiKey:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO sites (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", site_id, now
            )
            key_id = await conn.fetchval(
                "INSERT INTO api_keys (key_hash, prefix, role, site_id, created_at) VALUES ($1, $2, $3, $4, $5) "
                "RETURNING id",
                key_hash, prefix, role.value, site_id, now,
            )
        return ApiKey(id=key_id, site_id=site_id, role=role, prefix=prefix, created_at=now)

    async def find_api_key(self, key_hash: str) -> ApiKey | None:
        row = await self.pool.fetchrow(
            "SELECT id, site_id, role, prefix, created_at, revoked_at FROM api_keys WHERE key_hash = $1", key_hash
        )
        if row is None:
            return None
        return ApiKey(id=row[0], site_id=row[1], role=Role(row[2]), prefix=row[3], created_at=row[4],
                      revoked_at=row[5])

    # -- comments -------------------------------------------------------------------------
    async def get_comment(self, site_id: str, comment_id: int) -> Comment | None:
        row = await self.pool.fetchrow(
            f"SELECT {PG_COMMENT_COLUMNS} FROM comments WHERE site_id = $1 AND id = $2", site_id, comment_id
        )
        return comment_from_row(row) if row else None

    async def parent_exists(self, site_id: str, article_id: str, parent_id: int) -> bool:
        row = await self.pool.fetchval(
            "SELECT 1 FROM comments WHERE site_id = $1 AND article_id = $2 AND id = $3", site_id, article_id,
            parent_id,
        )
        return row is not None

    async def find_idempotent(self, site_id: str, key: str) -> IdempotentResponse | None:
        row = await self.pool.fetchrow(
            "SELECT request_hash, comment_id, response_status, response_body::text FROM idempotency_keys "
            "WHERE site_id = $1 AND key = $2",
            site_id, key,
        )
        return IdempotentResponse(row[0], row[1], row[2], json.loads(row[3])) if row else None

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
        async with self.pool.acquire() as conn, conn.transaction():
            locks = [f"email:{new.site_id}:{sub.author_email}"]
            if sub.author_ip:
                locks.append(f"ip:{new.site_id}:{sub.author_ip}")
            if idempotency is not None:
                locks.append(f"idem:{new.site_id}:{idempotency[0]}")
            for name in sorted(locks):  # a fixed order, so two transactions cannot deadlock
                await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", name)

            if idempotency is not None:
                row = await conn.fetchrow(
                    "SELECT request_hash, comment_id, response_body::text FROM idempotency_keys "
                    "WHERE site_id = $1 AND key = $2",
                    new.site_id, idempotency[0],
                )
                if row is not None:
                    if row[0] != idempotency[1]:
                        raise IdempotencyConflict()
                    existing = await conn.fetchrow(f"SELECT {PG_COMMENT_COLUMNS} FROM comments WHERE id = $1", row[1])
                    return comment_from_row(existing), json.loads(row[2]), True

            dup = await conn.fetchval(
                "SELECT id FROM comments WHERE site_id = $1 AND article_id = $2 AND author_email = $3 "
                "AND content_hash = $4 ORDER BY id LIMIT 1",
                new.site_id, sub.article_id, sub.author_email, new.content_hash,
            )
            if dup is not None:
                raise DuplicateComment(existing_id=dup)

            if flood_interval > 0:
                last = await conn.fetchval(
                    "SELECT MAX(created_at) FROM comments WHERE site_id = $1 AND created_at > $2 AND "
                    "(author_email = $3 OR (author_ip IS NOT NULL AND author_ip = $4))",
                    new.site_id, now - timedelta(seconds=flood_interval), sub.author_email, sub.author_ip,
                )
                if last is not None:
                    wait = flood_interval - (now - last).total_seconds()
                    raise TooManyRequests(retry_after=max(1, int(wait + 0.999)))

            verdict = new.verdict
            reasons_json = json.dumps([r.to_json() for r in verdict.reasons], ensure_ascii=False)
            comment_id = await conn.fetchval(
                "INSERT INTO comments (site_id, article_id, parent_id, author_name, author_email, author_url, "
                "author_ip, user_agent, referrer, content, content_hash, lang, signals, status, decision, reasons, "
                "scores, model_version, revision, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                "$9, $10, $11, $12, $13::jsonb, $14, $15, $16::jsonb, $17::jsonb, $18, 1, $19, $19) RETURNING id",
                new.site_id, sub.article_id, sub.parent_id, sub.author_name, sub.author_email, sub.author_url,
                sub.author_ip, sub.user_agent, sub.referrer, sub.content, new.content_hash, sub.lang,
                json.dumps(new.signals), verdict.status.value, verdict.decision.value, reasons_json,
                json.dumps(verdict.scores), verdict.model_version, now,
            )
            await conn.execute(
                "INSERT INTO comment_events (comment_id, site_id, at, actor, action, from_status, to_status, "
                "reasons, model_version) VALUES ($1, $2, $3, 'system', 'submitted', NULL, $4, $5::jsonb, $6)",
                comment_id, new.site_id, now, verdict.status.value, reasons_json, verdict.model_version,
            )
            row = await conn.fetchrow(f"SELECT {PG_COMMENT_COLUMNS} FROM comments WHERE id = $1", comment_id)
            comment = comment_from_row(row)
            body = render(comment)
            if idempotency is not None:
                await conn.execute(
                    "INSERT INTO idempotency_keys (site_id, key, request_hash, comment_id, response_status, "
                    "response_body, created_at) VALUES ($1, $2, $3, $4, 201, $5::jsonb, $6)",
                    new.site_id, idempotency[0], idempotency[1], comment_id, json.dumps(body), now,
                )
            return comment, body, False

    # -- labels for retraining --------------------------------------------------------------------
    async def add_training_label(self, label: TrainingLabel, now: datetime) -> int:
        return await self.pool.fetchval(
            "INSERT INTO training_labels (site_id, comment_id, text, label, source, actor, model_version, scores, "
            "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9) RETURNING id",
            label.site_id, label.comment_id, label.text, label.label, label.source, label.actor, label.model_version,
            json.dumps(label.scores) if label.scores is not None else None, now,
        )

    async def list_training_labels(self, *, since_id: int = 0, limit: int = 10_000) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT id, site_id, comment_id, text, label, source, model_version, scores::text, created_at "
            "FROM training_labels WHERE id > $1 ORDER BY id LIMIT $2",
            since_id, limit,
        )
        return [
            {
                "id": r[0], "site_id": r[1], "comment_id": r[2], "text": r[3], "label": r[4], "source": r[5],
                "model_version": r[6], "scores": json.loads(r[7]) if r[7] else None,
                "decided_at": r[8].strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            }
            for r in rows
        ]

    # -- model quality in production ----------------------------------------------------------------
    async def model_stats(self, site_id: str | None = None) -> list[dict[str, Any]]:
        where, params = ("WHERE site_id = $1", [site_id]) if site_id else ("", [])
        rows = await self.pool.fetch(
            "SELECT COALESCE(model_version, ''), COUNT(*), "
            "COUNT(*) FILTER (WHERE decision = 'publish'), COUNT(*) FILTER (WHERE decision = 'hold'), "
            "COUNT(*) FILTER (WHERE decision = 'hold' AND status = 'published'), "
            "COUNT(*) FILTER (WHERE decision = 'hold' AND status = 'rejected'), "
            "COUNT(*) FILTER (WHERE decision = 'publish' AND status IN ('removed', 'rejected')) "
            f"FROM comments {where} GROUP BY 1 ORDER BY 1",
            *params,
        )
        return [model_stats_row(tuple(r)) for r in rows]
