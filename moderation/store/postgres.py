"""PostgreSQL backend (asyncpg): for several service replicas sharing one database.

SQLite gets atomicity from its single writer thread; here every method that reads and then writes
is one transaction, and the races between replicas are closed with locks:

* Submissions: transaction-scoped advisory locks, one per (site, e-mail) and (site, IP) so the
  duplicate and flood checks see every concurrent submission of the same author, and one per
  (site, Idempotency-Key).
* Decisions and reports: the comment row is locked (``SELECT ... FOR NO KEY UPDATE``) before its
  revision and status are checked, so two moderators deciding on the same revision queue up and
  the second one sees the new revision (409 stale_revision). A decision is one transaction:
  status + revision, closed reports, audit event, training label, webhook outbox row.
* Webhook outbox order: the outbox row is written under a per-site advisory lock held until
  commit, so within a site outbox ids follow commit order (a dispatcher never sees a newer event
  of a site before an older one has committed).
* Webhook delivery: ``due_webhooks`` claims the oldest pending event of each site with
  ``FOR UPDATE SKIP LOCKED`` and leases it by moving ``next_attempt_at`` forward by
  ``claim_lease``; until the attempt is recorded (or the lease runs out, e.g. the replica died)
  no other replica gets that event, nor the site's next one. ``record_webhook_attempt`` only
  reschedules or gives up on the attempt it was given (``attempts`` is the fencing token), so a
  replica whose lease ran out cannot undo another's delivery.

``?schema=NAME`` in the URL keeps the tables in their own schema (created if missing), which tests
use for isolation. JSONB columns are read as ``::text`` so the row mappers in ``rows`` serve both
backends.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from .. import workflow
from ..domain import ApiKey, Comment, Role, Status
from ..errors import NotFound
from ..labels import reason_kind
from . import (
    AuditEvent,
    AuthorBlockOutcome,
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
    privacy_postgres,
)
from .keycache import KeyCache
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
    migration_files,
    model_stats_row,
    newest_first,
    outbox_item_from_row,
    queue_counts_json,
    queue_item_from_row,
    session_from_row,
    signature_from_row,
    training_label_json,
    vote_from_row,
)

# jsonb columns come back as text so the row mapping is shared with SQLite.
PG_COMMENT_COLUMNS = COMMENT_COLUMNS.replace("reasons, scores", "reasons::text, scores::text")
MIGRATION_LOCK = 7_231_001  # advisory lock id: one replica migrates at a time
# How long a claimed webhook event stays with the replica that claimed it. Longer than any
# delivery attempt (the HTTP timeout), short enough that a crashed replica's event is soon retried.
CLAIM_LEASE = timedelta(minutes=5)


def _split_schema(url: str) -> tuple[str, str | None]:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), None)
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    if schema is not None and not schema.replace("_", "").isalnum():
        raise ValueError("the schema in MODERATION_DATABASE_URL must be letters, digits and underscores")
    return urlunsplit(parts._replace(query=rest)), schema


class PostgresStore:
    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10,
                 claim_lease: timedelta = CLAIM_LEASE, connect_timeout: float = 60.0,
                 statement_timeout: float | None = None) -> None:
        self.url, self.schema = _split_schema(url)
        self.min_size, self.max_size = min_size, max_size
        self.connect_timeout, self.statement_timeout = connect_timeout, statement_timeout
        self.claim_lease = claim_lease
        self._pool: asyncpg.Pool | None = None
        self.key_cache = KeyCache()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("PostgresStore.migrate() opens the pool; call it first")
        return self._pool

    async def migrate(self) -> None:
        settings = {"search_path": self.schema} if self.schema else {}
        if self.statement_timeout:
            # Server side: a slow statement is cancelled (QueryCanceledError) instead of holding a connection.
            settings["statement_timeout"] = str(int(self.statement_timeout * 1000))
        if self.schema:
            conn = await asyncpg.connect(self.url, timeout=self.connect_timeout)
            try:
                # Under the migration lock: replicas starting together would otherwise race on
                # IF NOT EXISTS (a unique violation in pg_namespace).
                async with conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
                    await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            finally:
                await conn.close()
        # command_timeout is the client-side bound for when the network, not the server, is gone.
        self._pool = await asyncpg.create_pool(
            self.url, min_size=self.min_size, max_size=self.max_size, server_settings=settings,
            timeout=self.connect_timeout,
            command_timeout=self.statement_timeout + 1 if self.statement_timeout else None,
        )
        # Its own connection, without the request path's timeouts: waiting for another replica's
        # migration, or a long one, must not be cut short.
        conn = await asyncpg.connect(self.url, timeout=self.connect_timeout,
                                     server_settings={"search_path": self.schema} if self.schema else {})
        try:
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
        finally:
            await conn.close()

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
        if role is Role.OPERATOR:  # belongs to no site
            key_id = await self.pool.fetchval(
                "INSERT INTO operator_keys (key_hash, prefix, created_at) VALUES ($1, $2, $3) RETURNING id",
                key_hash, prefix, now,
            )
            return ApiKey(id=key_id, site_id="", role=role, prefix=prefix, created_at=now)
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
        # Cached for at most a second (keycache.KeyCache): a revocation by any replica holds everywhere within it.
        cached = self.key_cache.get(key_hash)
        if cached is not None:
            return cached
        row = await self.pool.fetchrow(
            "SELECT id, site_id, role, prefix, created_at, revoked_at FROM api_keys WHERE key_hash = $1 "
            f"UNION ALL {OPERATOR_KEY_SELECT} WHERE key_hash = $1", key_hash
        )
        key = api_key_from_row(row) if row else None
        if key is not None and key.revoked_at is None:
            self.key_cache.put(key_hash, key)
        return key

    async def create_akismet_alias(self, *, api_key_id: int, alias_hash: str, now: datetime) -> None:
        await self.pool.execute(
            "INSERT INTO akismet_aliases (alias_hash, api_key_id, created_at) VALUES ($1, $2, $3)",
            alias_hash, api_key_id, now,
        )

    async def find_akismet_alias(self, alias_hash: str) -> ApiKey | None:
        # Not cached: only the Akismet endpoints ask, and a revocation must hold at once there too.
        row = await self.pool.fetchrow(
            "SELECT k.id, k.site_id, k.role, k.prefix, k.created_at, k.revoked_at FROM akismet_aliases a "
            "JOIN api_keys k ON k.id = a.api_key_id WHERE a.alias_hash = $1",
            alias_hash,
        )
        return api_key_from_row(row) if row else None

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

    async def latest_author_comment(self, site_id: str, article_id: str, email_hash: str) -> int | None:
        found = await self.pool.fetchval(
            "SELECT id FROM comments WHERE site_id = $1 AND article_id = $2 AND author_email_hash = $3 "
            "ORDER BY id DESC LIMIT 1",
            site_id, article_id, email_hash,
        )
        return None if found is None else int(found)

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
                    workflow.check_replay(row[0], idempotency[1])
                    existing = await conn.fetchrow(f"SELECT {PG_COMMENT_COLUMNS} FROM comments WHERE id = $1", row[1])
                    return comment_from_row(existing), json.loads(row[2]), True

            email_col, email, ip_col, ip = author_match(new)
            dup = await conn.fetchval(
                f"SELECT id FROM comments WHERE site_id = $1 AND article_id = $2 AND {email_col} = $3 "
                "AND content_hash = $4 ORDER BY id LIMIT 1",
                new.site_id, sub.article_id, email, new.content_hash,
            )
            last = None
            if dup is None and flood_interval > 0:
                last = await conn.fetchval(
                    "SELECT MAX(created_at) FROM comments WHERE site_id = $1 AND created_at > $2 AND "
                    f"({email_col} = $3 OR ({ip_col} IS NOT NULL AND {ip_col} = $4))",
                    new.site_id, workflow.flood_window_start(now, flood_interval), email, ip,
                )
            workflow.admit(duplicate_of=dup, last_at=last, now=now, flood_interval=flood_interval)

            verdict = new.verdict
            reasons = workflow.reasons_json(verdict.reasons)
            comment_id = await conn.fetchval(
                "INSERT INTO comments (site_id, article_id, parent_id, author_name, author_email, author_url, "
                "author_ip, user_agent, referrer, content, content_hash, lang, signals, status, decision, reasons, "
                "scores, model_version, revision, created_at, updated_at, cluster_id, minhash, author_email_hash, "
                "author_ip_hash, shadow_decision) VALUES ($1, $2, $3, "
                "$4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14, $15, $16::jsonb, $17::jsonb, $18, 1, $19, "
                "$19, $20, $21, $22, $23, $24) RETURNING id",
                new.site_id, sub.article_id, sub.parent_id, sub.author_name, sub.author_email, sub.author_url,
                sub.author_ip, sub.user_agent, sub.referrer, sub.content, new.content_hash, sub.lang,
                json.dumps(new.signals), verdict.status.value, verdict.decision.value, reasons,
                json.dumps(verdict.scores), verdict.model_version, now, new.cluster_id, new.minhash,
                new.email_hash, new.ip_hash,
                verdict.shadow_decision.value if verdict.shadow_decision else None,
            )
            event_id = await conn.fetchval(
                "INSERT INTO comment_events (comment_id, site_id, at, actor, action, from_status, to_status, "
                "reasons, model_version) VALUES ($1, $2, $3, 'system', 'submitted', NULL, $4, $5::jsonb, $6) "
                "RETURNING id",
                comment_id, new.site_id, now, verdict.status.value, reasons, verdict.model_version,
            )
            row = await conn.fetchrow(f"SELECT {PG_COMMENT_COLUMNS} FROM comments WHERE id = $1", comment_id)
            comment = comment_from_row(row)
            await enqueue_webhook(conn, workflow.Created(comment, now), event_id=event_id)
            body = render(comment)
            if idempotency is not None:
                await conn.execute(
                    "INSERT INTO idempotency_keys (site_id, key, request_hash, comment_id, response_status, "
                    "response_body, created_at) VALUES ($1, $2, $3, $4, 201, $5::jsonb, $6)",
                    new.site_id, idempotency[0], idempotency[1], comment_id, json.dumps(body), now,
                )
            return comment, body, False

    # -- labels for retraining --------------------------------------------------------------------
    async def add_training_label(self, label: workflow.TrainingLabel, now: datetime) -> int:
        # The same statement a moderator decision runs inside its own transaction.
        async with self.pool.acquire() as conn:
            return await insert_training_label(conn, label, now)

    async def list_training_labels(self, *, since_id: int = 0, limit: int = 10_000) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT id, site_id, comment_id, text, label, source, model_version, scores::text, created_at "
            "FROM training_labels WHERE id > $1 ORDER BY id LIMIT $2",
            since_id, limit,
        )
        return [training_label_json(r) for r in rows]

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

    # -- the moderator workflow: queue, decisions, reports, audit ---------------------------------
    # -- campaign memory ----------------------------------------------------------------------------
    async def campaign_version(self, site_id: str) -> int:
        value = await self.pool.fetchval("SELECT campaign_version FROM sites WHERE id = $1", site_id)
        return int(value or 0)

    async def campaign_index_rows(self, site_id: str, *, after_id: int, since: datetime, limit: int) -> list[IndexEntry]:
        rows = await self.pool.fetch(
            "SELECT id, COALESCE(cluster_id, id), minhash, created_at FROM comments WHERE site_id = $1 "
            "AND id > $2 AND created_at >= $3 AND minhash IS NOT NULL ORDER BY id LIMIT $4",
            site_id, after_id, since, limit,
        )
        return [IndexEntry(r[0], r[1], bytes(r[2]), r[3]) for r in rows]

    async def comment_campaign(self, site_id: str, comment_id: int) -> tuple[int, bytes | None] | None:
        row = await self.pool.fetchrow(
            "SELECT COALESCE(cluster_id, id), minhash FROM comments WHERE site_id = $1 AND id = $2",
            site_id, comment_id,
        )
        return (int(row[0]), bytes(row[1]) if row[1] is not None else None) if row else None

    async def record_campaign_votes(
        self, site_id: str, comment_id: int, *, actor: str, action: str, label: str,
        keys: Sequence[SignatureKey], now: datetime, ttl: timedelta,
    ) -> int:
        changed = 0
        async with self.pool.acquire() as conn, conn.transaction():
            # One writer per site at a time: the counts are recomputed from the votes, and the version
            # bump must follow commit order for the workers' caches.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"campaign:{site_id}")
            for key in keys:
                row = await conn.fetchrow(
                    "SELECT id, removed_at FROM campaign_signatures WHERE site_id = $1 AND kind = $2 AND value = $3",
                    site_id, key.kind, key.value,
                )
                effect = workflow.signature_vote_effect(exists=row is not None, removed=bool(row and row[1]),
                                                        action=action)
                if effect is workflow.SignatureVoteEffect.SKIP:
                    continue
                if effect is workflow.SignatureVoteEffect.CREATE:
                    signature_id = await conn.fetchval(
                        "INSERT INTO campaign_signatures (site_id, kind, value, minhash, created_at, updated_at, "
                        "expires_at) VALUES ($1, $2, $3, $4, $5, $5, $6) RETURNING id",
                        site_id, key.kind, key.value, key.minhash, now, now + ttl,
                    )
                else:
                    signature_id = row[0]
                added = await conn.fetchval(
                    "INSERT INTO campaign_votes (signature_id, site_id, comment_id, actor, action, label, at) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING id",
                    signature_id, site_id, comment_id, actor, action, label, now,
                )
                if added is None:
                    continue
                await conn.execute(
                    "UPDATE campaign_signatures s SET "
                    "rejections = (SELECT COUNT(*) FROM campaign_votes v WHERE v.signature_id = s.id "
                    "  AND v.action = 'reject' AND v.at > $1), "
                    "approvals = (SELECT COUNT(*) FROM campaign_votes v WHERE v.signature_id = s.id "
                    "  AND v.action = 'approve' AND v.at > $1), "
                    "moderators = (SELECT COUNT(DISTINCT actor) FROM campaign_votes v WHERE v.signature_id = s.id "
                    "  AND v.action = 'reject' AND v.at > $1), "
                    "updated_at = $2, expires_at = CASE WHEN $3 = 'reject' THEN $4 ELSE s.expires_at END "
                    "WHERE id = $5",
                    now - ttl, now, action, now + ttl, signature_id,
                )
                changed += 1
            if changed:
                await conn.execute("UPDATE sites SET campaign_version = campaign_version + 1 WHERE id = $1", site_id)
        return changed

    async def list_campaign_signatures(self, site_id: str, *, now: datetime) -> list[CampaignSignature]:
        rows = await self.pool.fetch(
            f"SELECT {SIGNATURE_COLUMNS} FROM campaign_signatures WHERE site_id = $1 AND removed_at IS NULL "
            "AND expires_at > $2 ORDER BY rejections DESC, id",
            site_id, now,
        )
        return [signature_from_row(r) for r in rows]

    async def get_campaign_signature(self, site_id: str, signature_id: int) -> CampaignSignature | None:
        row = await self.pool.fetchrow(
            f"SELECT {SIGNATURE_COLUMNS} FROM campaign_signatures WHERE site_id = $1 AND id = $2", site_id, signature_id
        )
        return signature_from_row(row) if row else None

    async def campaign_signature_votes(self, site_id: str, signature_id: int, *, limit: int) -> list[SignatureVote]:
        rows = await self.pool.fetch(
            "SELECT comment_id, actor, action, label, at FROM campaign_votes WHERE site_id = $1 "
            "AND signature_id = $2 ORDER BY id DESC LIMIT $3",
            site_id, signature_id, limit,
        )
        return [vote_from_row(r) for r in rows]

    async def remove_campaign_signature(self, site_id: str, signature_id: int, *, actor: str, now: datetime) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"campaign:{site_id}")
            done = await conn.fetchval(
                "UPDATE campaign_signatures SET removed_at = $1, removed_by = $2, updated_at = $1 "
                "WHERE site_id = $3 AND id = $4 AND removed_at IS NULL RETURNING id",
                now, actor, site_id, signature_id,
            )
            if done is not None:
                await conn.execute("UPDATE sites SET campaign_version = campaign_version + 1 WHERE id = $1", site_id)
        return done is not None

    async def list_clusters(self, site_id: str, *, statuses: tuple[Status, ...], min_size: int,
                            limit: int) -> list[ClusterSummary]:
        async with self.pool.acquire() as conn:
            groups = await conn.fetch(
                "SELECT COALESCE(cluster_id, id) AS cid, COUNT(*), MIN(id), MAX(id), MIN(created_at), MAX(created_at) "
                "FROM comments WHERE site_id = $1 AND status = ANY($2::text[]) AND minhash IS NOT NULL "
                "GROUP BY cid HAVING COUNT(*) >= $3 ORDER BY COUNT(*) DESC, cid LIMIT $4",
                site_id, [s.value for s in statuses], min_size, limit,
            )
            found = []
            for g in groups:
                sample = await conn.fetchrow(f"SELECT {PG_COMMENT_COLUMNS} FROM comments WHERE id = $1", g[3])
                found.append(cluster_from_row(g, comment_from_row(sample)))
            return found

    async def cluster_comments(self, site_id: str, cluster_id: int, *, statuses: tuple[Status, ...],
                               up_to_id: int, limit: int) -> list[Comment]:
        rows = await self.pool.fetch(
            f"SELECT {PG_COMMENT_COLUMNS} FROM comments WHERE site_id = $1 AND (cluster_id = $2 OR id = $2) "
            "AND status = ANY($3::text[]) AND id <= $4 ORDER BY id LIMIT $5",
            site_id, cluster_id, [s.value for s in statuses], up_to_id, limit,
        )
        return [comment_from_row(r) for r in rows]

    async def list_queue(self, site_id: str, query: QueueQuery) -> QueuePage:
        sql, params = queue_sql(site_id, query)
        # One snapshot for the page and the facts shown beside it.
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            rows = await conn.fetch(sql, *params)
            has_more = len(rows) > query.limit
            rows = rows[: query.limit]
            ids = [r[0] for r in rows]
            kinds: dict[int, set[str]] = {}
            reports: dict[int, dict[str, int]] = {}
            history = {}
            if ids:
                for comment_id, kind in await conn.fetch(
                    "SELECT comment_id, kind FROM comment_reason_kinds WHERE comment_id = ANY($1::bigint[])", ids
                ):
                    kinds.setdefault(comment_id, set()).add(kind)
                for comment_id, reason, n in await conn.fetch(
                    "SELECT comment_id, reason, COUNT(*) FROM comment_reports WHERE resolved_at IS NULL "
                    "AND comment_id = ANY($1::bigint[]) GROUP BY comment_id, reason",
                    ids,
                ):
                    reports.setdefault(comment_id, {})[reason] = n
                hashes = sorted({r[-1] for r in rows if r[-1]})
                history = author_history_from_rows(await conn.fetch(
                    "SELECT author_email_hash, status, COUNT(*) FROM comments WHERE site_id = $1 "
                    "AND author_email_hash = ANY($2::text[]) GROUP BY author_email_hash, status",
                    site_id, hashes,
                ), [r[0] for r in await conn.fetch(
                    "SELECT email_hash FROM author_blocks WHERE site_id = $1 AND email_hash = ANY($2::text[])",
                    site_id, hashes,
                )])
        return QueuePage(items=[queue_item_from_row(r, kinds, reports, history) for r in rows], has_more=has_more)

    async def queue_counts(self, site_id: str) -> dict[str, Any]:
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            by_status = await conn.fetch(
                "SELECT status, COUNT(*) FROM comments WHERE site_id = $1 GROUP BY status", site_id
            )
            held_by_reason = await conn.fetch(
                "SELECT k.kind, COUNT(*) FROM comment_reason_kinds k JOIN comments c ON c.id = k.comment_id "
                "WHERE k.site_id = $1 AND c.status = 'held' GROUP BY k.kind",
                site_id,
            )
            reported = await conn.fetchval(
                "SELECT COUNT(*) FROM comments WHERE site_id = $1 AND status IN ('published', 'held') "
                "AND open_reports > 0",
                site_id,
            )
        return queue_counts_json(by_status, held_by_reason, reported)

    async def shadow_rows(self, site_id: str, *, recent: int) -> ShadowRows:
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            outcomes = await conn.fetch(
                "SELECT shadow_decision, status, EXISTS (SELECT 1 FROM comment_reports r WHERE r.comment_id = c.id), "
                "COUNT(*) FROM comments c WHERE site_id = $1 AND shadow_decision IS NOT NULL GROUP BY 1, 2, 3",
                site_id,
            )
            kinds = await conn.fetch(
                "SELECT c.shadow_decision, k.kind, COUNT(*) FROM comments c JOIN comment_reason_kinds k "
                "ON k.comment_id = c.id WHERE c.site_id = $1 AND c.shadow_decision IN ('hold', 'reject') "
                "GROUP BY 1, 2",
                site_id,
            )
            rows = await conn.fetch(
                f"SELECT {PG_COMMENT_COLUMNS} FROM comments WHERE site_id = $1 "
                "AND shadow_decision IN ('hold', 'reject') ORDER BY id DESC LIMIT $2",
                site_id, recent,
            )
        return ShadowRows([(d, s, bool(r), int(n)) for d, s, r, n in outcomes],
                          [(d, k, int(n)) for d, k, n in kinds], [comment_from_row(r) for r in rows])

    async def decide(self, site_id: str, decision: workflow.ModeratorDecision, *, actor: str,
                     now: datetime) -> DecisionOutcome:
        async with self.pool.acquire() as conn, conn.transaction():
            # The row lock makes concurrent decisions on one comment take turns: the second reads
            # the revision the first wrote, and gets StaleRevision.
            row = await conn.fetchrow(
                f"SELECT {PG_COMMENT_COLUMNS}, open_reports FROM comments WHERE site_id = $1 AND id = $2 "
                "FOR NO KEY UPDATE",
                site_id, decision.comment_id,
            )
            if row is None:
                raise NotFound("No such comment.")
            plan = workflow.plan_decision(comment_from_row(row), int(row[-1]), decision, actor=actor, now=now)
            return await apply_decision_plan(conn, plan, now)

    async def author_standing(self, site_id: str, email_hash: str, *, counts: bool = True) -> workflow.AuthorStanding:
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            rows = await conn.fetch("SELECT status, COUNT(*) FROM comments WHERE site_id = $1 "
                                    "AND author_email_hash = $2 GROUP BY status", site_id, email_hash) if counts else []
            blocked = await conn.fetchval("SELECT 1 FROM author_blocks WHERE site_id = $1 AND email_hash = $2",
                                          site_id, email_hash) is not None
        return author_standing_from_rows(rows, blocked)

    async def set_author_block(self, site_id: str, comment_id: int, *, block: bool, actor: str, note: str | None,
                               now: datetime) -> AuthorBlockOutcome:
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(f"SELECT {PG_COMMENT_COLUMNS}, author_email_hash FROM comments "
                                      "WHERE site_id = $1 AND id = $2 FOR UPDATE", site_id, comment_id)
            if row is None:
                raise NotFound("No such comment.")
            comment, email_hash = comment_from_row(row), row[-1]
            current = email_hash is not None and await conn.fetchval(
                "SELECT 1 FROM author_blocks WHERE site_id = $1 AND email_hash = $2", site_id, email_hash
            ) is not None
            event = workflow.plan_author_block(comment, email_hash, block=block, currently_blocked=current,
                                               actor=actor, note=note)
            if event is None:
                return AuthorBlockOutcome(comment.id, current, False, None)
            # Another moderator acting from another comment of the same author may have got there first.
            if block:
                changed = affected(await conn.execute(
                    "INSERT INTO author_blocks (site_id, email_hash, comment_id, actor, note, blocked_at) "
                    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                    site_id, email_hash, comment.id, actor, note, now))
            else:
                changed = affected(await conn.execute(
                    "DELETE FROM author_blocks WHERE site_id = $1 AND email_hash = $2", site_id, email_hash))
            if not changed:
                return AuthorBlockOutcome(comment.id, block, False, None)
            return AuthorBlockOutcome(comment.id, block, True, await insert_event(conn, event, at=now))

    async def edit_comment(self, site_id: str, edit: workflow.Edit, *, now: datetime) -> DecisionOutcome:
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"SELECT {PG_COMMENT_COLUMNS} FROM comments WHERE site_id = $1 AND id = $2 FOR UPDATE",
                site_id, edit.comment_id,
            )
            if row is None:
                raise NotFound("No such comment.")
            plan = workflow.plan_edit(comment_from_row(row), edit, now=now)
            comment, verdict = plan.comment, edit.verdict
            reasons = workflow.reasons_json(verdict.reasons)
            await conn.execute(
                "UPDATE comments SET content = $1, content_hash = $2, author_name = $3, author_url = $4, "
                "status = $5, decision = $6, reasons = $7::jsonb, scores = $8::jsonb, model_version = $9, "
                "risk = $10, shadow_decision = $11, revision = revision + 1, updated_at = $12 "
                "WHERE id = $13 AND revision = $14",
                edit.content, edit.content_hash, edit.author_name, edit.author_url, plan.target.value,
                verdict.decision.value, reasons, json.dumps(verdict.scores), verdict.model_version,
                max(verdict.scores.values(), default=0.0),
                verdict.shadow_decision.value if verdict.shadow_decision else None, now, comment.id,
                comment.revision,
            )
            await conn.execute("DELETE FROM comment_reason_kinds WHERE comment_id = $1", comment.id)
            await conn.executemany(
                "INSERT INTO comment_reason_kinds (comment_id, site_id, kind) VALUES ($1, $2, $3) "
                "ON CONFLICT DO NOTHING",
                [(comment.id, site_id, reason_kind(r.code, r.source)) for r in verdict.reasons],
            )
            event = plan.event
            event_id = await conn.fetchval(
                "INSERT INTO comment_events (comment_id, site_id, at, actor, action, from_status, to_status, "
                "reasons, model_version, previous_content) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10) "
                "RETURNING id",
                event.comment_id, site_id, now, event.actor, event.action, event.from_status, event.to_status,
                reasons, event.model_version, comment.content,
            )
            queued = plan.webhook is not None and await enqueue_webhook(conn, plan.webhook, event_id=event_id)
            updated = comment_from_row(
                await conn.fetchrow(f"SELECT {PG_COMMENT_COLUMNS} FROM comments WHERE id = $1", comment.id)
            )
        return DecisionOutcome(updated, comment.status, event_id, queued, 0)

    async def add_report(
        self, site_id: str, comment_id: int, *, reason: str, note: str | None, reporter_hash: str | None,
        now: datetime, hold_threshold: int = 0,
    ) -> ReportOutcome:
        async with self.pool.acquire() as conn, conn.transaction():
            # Locked like a decision: a report either lands before it (and is closed by it) or after.
            row = await conn.fetchrow(
                f"SELECT {PG_COMMENT_COLUMNS}, open_reports FROM comments WHERE site_id = $1 AND id = $2 "
                "FOR NO KEY UPDATE",
                site_id, comment_id,
            )
            if row is None:
                raise NotFound("No such comment.")
            comment = comment_from_row(row)
            if reporter_hash is not None:
                earlier = await conn.fetchval(
                    "SELECT id FROM comment_reports WHERE comment_id = $1 AND reporter_hash = $2",
                    comment_id, reporter_hash,
                )
                if earlier is not None:
                    return ReportOutcome(earlier, comment, int(row[-1]), duplicate=True)
            plan = workflow.plan_report(comment, reason, open_reports=int(row[-1]), hold_threshold=hold_threshold,
                                        now=now)
            report_id = await conn.fetchval(
                "INSERT INTO comment_reports (comment_id, site_id, reason, note, reporter_hash, created_at, "
                "resolved_at, resolution) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                comment_id, site_id, reason, note, reporter_hash, now, None if plan.opens else now, plan.resolution,
            )
            if plan.opens:
                await conn.execute(
                    "UPDATE comments SET open_reports = open_reports + 1, last_reported_at = $1 WHERE id = $2",
                    now, comment_id,
                )
            await insert_event(conn, plan.event, at=now)
            if plan.hold_event is not None:
                await conn.execute("UPDATE comments SET status = 'held', revision = revision + 1, updated_at = $1 "
                                   "WHERE id = $2 AND revision = $3", now, comment_id, comment.revision)
                event_id = await insert_event(conn, plan.hold_event, at=now)
                if plan.hold_webhook is not None:
                    await enqueue_webhook(conn, plan.hold_webhook, event_id=event_id)
            open_reports = int(row[-1]) + (1 if plan.opens else 0)
        return ReportOutcome(report_id, comment, open_reports, duplicate=False, held=plan.hold_event is not None)

    async def list_events(
        self, site_id: str, *, before_id: int | None, limit: int, comment_id: int | None = None,
    ) -> list[AuditEvent]:
        sql, params = newest_first(EVENTS_SELECT.replace("{reasons}", "reasons::text"), site_id,
                                   filters=[("id <", before_id), ("comment_id =", comment_id)], order="id",
                                   limit=limit, mark=_mark)
        return [audit_event_from_row(r) for r in await self.pool.fetch(sql, *params)]

    # -- webhooks -------------------------------------------------------------------------------
    async def set_webhook(self, site_id: str, url: str | None, secret: str | None, now: datetime,
                          event_types: Sequence[str] | None = None) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO sites (id, created_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", site_id, now
            )
            await conn.execute(
                "UPDATE sites SET webhook_url = $1, webhook_secret = $2, webhook_events = $3 WHERE id = $4",
                url, secret, workflow.stored_event_types(event_types), site_id,
            )

    async def get_webhook(self, site_id: str) -> WebhookTarget | None:
        row = await self.pool.fetchrow(
            "SELECT webhook_url, webhook_secret, webhook_events FROM sites WHERE id = $1 AND webhook_url IS NOT NULL",
            site_id,
        )
        return WebhookTarget(site_id, row[0], row[1] or "", workflow.webhook_event_types(row[2])) if row else None

    async def due_webhooks(self, now: datetime, limit: int) -> list[OutboxItem]:
        """The oldest undelivered event of each site whose next attempt is due (in order per site).

        Each event returned is claimed for this caller: its ``next_attempt_at`` moves to
        ``now + claim_lease``, so no other replica gets it (or the site's next event) until
        ``record_webhook_attempt`` reschedules or finishes it, or the lease runs out.
        ``SKIP LOCKED`` lets concurrent claimers pass over each other's rows instead of waiting;
        a row another claimer has just leased no longer passes ``next_attempt_at <= now`` when
        it is re-checked after the lock, so it is not claimed twice.
        """
        rows = await self.pool.fetch(
            "WITH due AS ("
            " SELECT o.id FROM webhook_outbox o JOIN sites s ON s.id = o.site_id"
            " WHERE o.delivered_at IS NULL AND o.failed_at IS NULL AND o.next_attempt_at <= $1"
            " AND s.webhook_url IS NOT NULL AND o.id = (SELECT MIN(p.id) FROM webhook_outbox p"
            " WHERE p.site_id = o.site_id AND p.delivered_at IS NULL AND p.failed_at IS NULL)"
            " ORDER BY o.id LIMIT $2 FOR UPDATE OF o SKIP LOCKED"
            ") "
            "UPDATE webhook_outbox o SET next_attempt_at = $3 FROM due, sites s "
            "WHERE o.id = due.id AND s.id = o.site_id "
            "RETURNING o.id, o.site_id, o.comment_id, o.payload, o.attempts, o.created_at, s.webhook_url, "
            "s.webhook_secret",
            now, limit, now + self.claim_lease,
        )
        return sorted((outbox_item_from_row(r) for r in rows), key=lambda item: item.id)

    async def record_webhook_attempt(
        self, item: OutboxItem, *, at: datetime, status_code: int | None, error: str | None,
        duration_ms: float, delivered: bool, next_attempt_at: datetime | None,
    ) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO webhook_deliveries (outbox_id, site_id, attempt, at, url, status_code, error, "
                "duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                item.id, item.site_id, item.attempts + 1, at, item.target.url, status_code, error,
                round(duration_ms, 2),
            )
            if delivered:
                # A delivery always counts, even if this replica's lease had run out meanwhile.
                await conn.execute(
                    "UPDATE webhook_outbox SET attempts = attempts + 1, delivered_at = $1, last_error = NULL, "
                    "failed_at = NULL WHERE id = $2 AND delivered_at IS NULL",
                    at, item.id,
                )
            elif next_attempt_at is not None:
                # Only the attempt that was claimed moves the event on (attempts is the fencing token).
                await conn.execute(
                    "UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2 "
                    "WHERE id = $3 AND attempts = $4 AND delivered_at IS NULL AND failed_at IS NULL",
                    next_attempt_at, error, item.id, item.attempts,
                )
            else:
                await conn.execute(
                    "UPDATE webhook_outbox SET attempts = attempts + 1, failed_at = $1, last_error = $2 "
                    "WHERE id = $3 AND attempts = $4 AND delivered_at IS NULL AND failed_at IS NULL",
                    at, error, item.id, item.attempts,
                )

    async def list_webhook_deliveries(self, site_id: str, *, before_id: int | None, limit: int) -> list[DeliveryRecord]:
        sql, params = newest_first(DELIVERIES_SELECT, site_id, filters=[("d.id <", before_id)], order="d.id",
                                   limit=limit, mark=_mark)
        return [delivery_from_row(r) for r in await self.pool.fetch(sql, *params)]

    async def webhook_backlog(self, site_id: str) -> dict[str, int]:
        row = await self.pool.fetchrow(
            "SELECT COUNT(*) FILTER (WHERE delivered_at IS NULL AND failed_at IS NULL), "
            "COUNT(*) FILTER (WHERE failed_at IS NOT NULL), COUNT(*) FILTER (WHERE delivered_at IS NOT NULL) "
            "FROM webhook_outbox WHERE site_id = $1",
            site_id,
        )
        return {"pending": int(row[0]), "failed": int(row[1]), "delivered": int(row[2])}

    async def retry_failed_webhooks(self, site_id: str, now: datetime) -> int:
        return affected(await self.pool.execute(
            "UPDATE webhook_outbox SET failed_at = NULL, attempts = 0, next_attempt_at = $1 "
            "WHERE site_id = $2 AND failed_at IS NOT NULL",
            now, site_id,
        ))

    # -- personal data: erasure and retention (privacy_postgres.py) -----------------------------
    async def erase_author(self, site_id: str, email: str, *, actor: str, now: datetime) -> dict[str, int]:
        async with self.pool.acquire() as conn, conn.transaction():
            return await privacy_postgres.erase_author(conn, site_id, email, actor=actor, now=now)

    async def purge_site(self, site_id: str, *, ip_before: datetime | None, rejected_before: datetime | None,
                         apply: bool, actor: str, now: datetime) -> dict[str, int]:
        async with self.pool.acquire() as conn, conn.transaction():
            return await privacy_postgres.purge_site(conn, site_id, ip_before=ip_before,
                                                     rejected_before=rejected_before, apply=apply, actor=actor, now=now)

    async def site_ids(self) -> list[str]:
        return [row[0] for row in await self.pool.fetch("SELECT id FROM sites ORDER BY id")]

    async def backfill_author_hashes(self, hash_email: Callable[[str], str],
                                     hash_ip: Callable[[str | None], str | None]) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            return await privacy_postgres.backfill_author_hashes(conn, hash_email, hash_ip)

    # -- moderator page sessions ----------------------------------------------------------------
    async def create_session(self, *, id_hash: str, api_key_id: int, csrf_hash: str, now: datetime,
                             expires_at: datetime) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM moderator_sessions WHERE expires_at <= $1", now)
            await conn.execute(
                # csrf_token: the old plain column, kept empty until it is dropped (migrations/README.md).
                "INSERT INTO moderator_sessions (id_hash, api_key_id, csrf_token, csrf_hash, created_at, expires_at) "
                "VALUES ($1, $2, '', $3, $4, $5)",
                id_hash, api_key_id, csrf_hash, now, expires_at,
            )

    async def find_session(self, id_hash: str, now: datetime) -> ModeratorSession | None:
        row = await self.pool.fetchrow(
            "SELECT k.id, k.site_id, k.role, k.prefix, k.created_at, s.csrf_hash, s.expires_at "
            "FROM moderator_sessions s JOIN api_keys k ON k.id = s.api_key_id "
            "WHERE s.id_hash = $1 AND s.expires_at > $2 AND k.revoked_at IS NULL",
            id_hash, now,
        )
        return session_from_row(row) if row else None

    async def delete_session(self, id_hash: str) -> None:
        await self.pool.execute("DELETE FROM moderator_sessions WHERE id_hash = $1", id_hash)


# -- moderator workflow helpers (each runs inside the caller's transaction) ---------------------------


def _mark(n: int) -> str:
    return f"${n}"


def affected(status: str) -> int:
    """The row count of an asyncpg command status such as ``UPDATE 3``."""
    return int(status.rsplit(" ", 1)[-1])


def queue_sql(site_id: str, query: QueueQuery) -> tuple[str, list[Any]]:
    """The page query: filters, keyset pagination on (risk, id) or id, one extra row to see if more follow."""
    params: list[Any] = [site_id, [s.value for s in query.statuses]]
    sql = (
        f"SELECT {PG_COMMENT_COLUMNS}, risk, open_reports, signals::text, author_email_hash FROM comments "
        "WHERE site_id = $1 AND status = ANY($2::text[])"
    )

    def arg(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    if query.reason == "reported":
        sql += " AND open_reports > 0"
    elif query.reason is not None:
        sql += (" AND EXISTS (SELECT 1 FROM comment_reason_kinds k WHERE k.comment_id = comments.id "
                f"AND k.kind = {arg(query.reason)})")
    if query.article_id is not None:
        sql += f" AND article_id = {arg(query.article_id)}"
    if query.order is QueueOrder.RISK:
        if query.after is not None:
            risk, last_id = arg(float(query.after[0])), arg(query.after[1])
            sql += f" AND (risk < {risk} OR (risk = {risk} AND id > {last_id}))"
        sql += " ORDER BY risk DESC, id ASC"
    else:
        if query.after is not None:
            sql += f" AND id > {arg(query.after[1])}"
        sql += " ORDER BY id ASC"
    sql += f" LIMIT {arg(query.limit + 1)}"
    return sql, params


async def apply_decision_plan(conn: asyncpg.Connection, plan: workflow.DecisionPlan, now: datetime) -> DecisionOutcome:
    """Persist a planned decision: status + revision, closed reports, audit event, label, webhook event."""
    comment = plan.comment
    await conn.execute(
        "UPDATE comments SET status = $1, revision = revision + 1, updated_at = $2, open_reports = 0 "
        "WHERE id = $3 AND revision = $4",
        plan.target.value, now, comment.id, plan.expected_revision,
    )
    closed = affected(await conn.execute(
        "UPDATE comment_reports SET resolved_at = $1, resolution = $2 WHERE comment_id = $3 AND resolved_at IS NULL",
        now, plan.event.action, comment.id,
    ))
    event_id = await insert_event(conn, plan.event, at=now)
    if plan.label is not None:
        await insert_training_label(conn, plan.label, now)
    queued = plan.webhook is not None and await enqueue_webhook(conn, plan.webhook, event_id=event_id)
    updated = comment_from_row(
        await conn.fetchrow(f"SELECT {PG_COMMENT_COLUMNS} FROM comments WHERE id = $1", comment.id)
    )
    return DecisionOutcome(updated, comment.status, event_id, queued, closed)


async def insert_event(conn: asyncpg.Connection, event: workflow.AuditEntry, *, at: datetime) -> int:
    return await conn.fetchval(
        "INSERT INTO comment_events (comment_id, site_id, at, actor, action, from_status, to_status, label, note, "
        "model_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        event.comment_id, event.site_id, at, event.actor, event.action, event.from_status, event.to_status,
        event.label, event.note, event.model_version,
    )


async def insert_training_label(conn: asyncpg.Connection, label: workflow.TrainingLabel, now: datetime) -> int:
    return await conn.fetchval(
        "INSERT INTO training_labels (site_id, comment_id, text, label, source, actor, model_version, scores, "
        "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9) RETURNING id",
        label.site_id, label.comment_id, label.text, label.label, label.source, label.actor, label.model_version,
        json.dumps(label.scores) if label.scores is not None else None, now,
    )


async def enqueue_webhook(conn: asyncpg.Connection, change: workflow.WebhookEvent, *, event_id: int) -> bool:
    """Write the webhook event, if the site has a webhook and chose this kind of event."""
    site_id = change.comment.site_id
    row = await conn.fetchrow("SELECT webhook_events FROM sites WHERE id = $1 AND webhook_url IS NOT NULL", site_id)
    if row is None or change.event not in workflow.webhook_event_types(row[0]):
        return False
    # Held until commit: the next outbox row of this site gets its id only after this one is
    # visible, so a dispatcher can never deliver a newer event of the site before an older one.
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"outbox:{site_id}")
    await conn.execute(
        "INSERT INTO webhook_outbox (site_id, comment_id, event, payload, created_at, next_attempt_at) "
        "VALUES ($1, $2, $3, $4, $5, $5)",
        site_id, change.comment.id, change.event, change.payload(event_id), change.at,
    )
    return True
