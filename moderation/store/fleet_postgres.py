"""The fleet records on PostgreSQL (asyncpg): a two-connection pool of their own."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from .faults import DatabaseTimeouts
from .fleet import Promotion, ReplicaState
from .postgres import _split_schema

PROMOTION_COLUMNS = "id, version, action, actor, promoted_at"
REPLICA_COLUMNS = "replica_id, host, serving, wanted, error, started_at, seen_at"


class PostgresFleetStore:
    def __init__(self, url: str, timeouts: DatabaseTimeouts) -> None:
        self.url, self.schema = _split_schema(url)
        self.timeouts = timeouts
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("PostgresFleetStore.open() first")
        return self._pool

    async def open(self) -> None:
        settings = {"statement_timeout": str(int(self.timeouts.statement_timeout_seconds * 1000))}
        if self.schema:
            settings["search_path"] = self.schema
        # min_size 0: no connection is held between polls, so an outage costs nothing but the failed poll.
        self._pool = await asyncpg.create_pool(
            self.url, min_size=0, max_size=2, server_settings=settings,
            timeout=self.timeouts.connect_timeout_seconds,
            command_timeout=self.timeouts.statement_timeout_seconds + 1,
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def record_promotion(self, version: str, *, action: str, actor: str, now: datetime) -> Promotion:
        row = await self.pool.fetchrow(
            f"INSERT INTO model_promotions (version, action, actor, promoted_at) VALUES ($1, $2, $3, $4) "
            f"RETURNING {PROMOTION_COLUMNS}", version, action, actor, now,
        )
        return Promotion(**dict(row))

    async def latest_promotion(self) -> Promotion | None:
        row = await self.pool.fetchrow(f"SELECT {PROMOTION_COLUMNS} FROM model_promotions ORDER BY id DESC LIMIT 1")
        return Promotion(**dict(row)) if row else None

    async def promotions(self, limit: int) -> list[Promotion]:
        rows = await self.pool.fetch(
            f"SELECT {PROMOTION_COLUMNS} FROM model_promotions ORDER BY id DESC LIMIT $1", limit
        )
        return [Promotion(**dict(r)) for r in rows]

    async def report_replica(self, state: ReplicaState) -> None:
        await self.pool.execute(
            f"INSERT INTO model_replicas ({REPLICA_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) "
            "ON CONFLICT (replica_id) DO UPDATE SET serving = EXCLUDED.serving, wanted = EXCLUDED.wanted, "
            "error = EXCLUDED.error, seen_at = EXCLUDED.seen_at",
            state.replica_id, state.host, state.serving, state.wanted, state.error, state.started_at,
            state.seen_at,
        )

    async def list_replicas(self, *, seen_since: datetime) -> list[ReplicaState]:
        rows = await self.pool.fetch(
            f"SELECT {REPLICA_COLUMNS} FROM model_replicas WHERE seen_at >= $1 ORDER BY replica_id", seen_since
        )
        return [ReplicaState(**dict(r)) for r in rows]

    async def forget_replicas(self, *, seen_before: datetime) -> int:
        status = await self.pool.execute("DELETE FROM model_replicas WHERE seen_at < $1", seen_before)
        return int(status.split()[-1])
