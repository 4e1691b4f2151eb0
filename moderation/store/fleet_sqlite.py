"""The fleet records on SQLite: a connection of their own on one thread (WAL lets it read beside the
store's writer; its rare writes wait on ``busy_timeout``)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TypeVar

from .faults import DatabaseTimeouts
from .fleet import Promotion, ReplicaState
from .rows import from_ts, to_ts

T = TypeVar("T")

PROMOTION_COLUMNS = "id, version, action, actor, promoted_at"
REPLICA_COLUMNS = "replica_id, host, serving, wanted, error, started_at, seen_at"


def _promotion(row: tuple[int, str, str, str, str]) -> Promotion:
    return Promotion(id=row[0], version=row[1], action=row[2], actor=row[3], promoted_at=from_ts(row[4]))


def _replica(row: tuple[str, str, str | None, str | None, str | None, str, str]) -> ReplicaState:
    return ReplicaState(replica_id=row[0], host=row[1], serving=row[2], wanted=row[3], error=row[4],
                        started_at=from_ts(row[5]), seen_at=from_ts(row[6]))


class SQLiteFleetStore:
    def __init__(self, path: str, timeouts: DatabaseTimeouts) -> None:
        self.path = path
        self.timeouts = timeouts
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-fleet")
        self._conn: sqlite3.Connection | None = None

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            if self._conn is None:
                raise RuntimeError("SQLiteFleetStore.open() first")
            with self._conn:  # one transaction per call
                return fn(self._conn)

        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def open(self) -> None:
        def connect() -> None:
            conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA busy_timeout=30000")
            self._conn = conn

        await asyncio.get_running_loop().run_in_executor(self._executor, connect)

    async def close(self) -> None:
        def close() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        await asyncio.get_running_loop().run_in_executor(self._executor, close)
        self._executor.shutdown(wait=True)

    async def record_promotion(self, version: str, *, action: str, actor: str, now: datetime) -> Promotion:
        def insert(conn: sqlite3.Connection) -> Promotion:
            cur = conn.execute(
                "INSERT INTO model_promotions (version, action, actor, promoted_at) VALUES (?, ?, ?, ?)",
                (version, action, actor, to_ts(now)),
            )
            row = conn.execute(f"SELECT {PROMOTION_COLUMNS} FROM model_promotions WHERE id = ?",
                               (cur.lastrowid,)).fetchone()
            return _promotion(row)

        return await self._run(insert)

    async def latest_promotion(self) -> Promotion | None:
        promotions = await self.promotions(1)
        return promotions[0] if promotions else None

    async def promotions(self, limit: int) -> list[Promotion]:
        def select(conn: sqlite3.Connection) -> list[Promotion]:
            rows = conn.execute(f"SELECT {PROMOTION_COLUMNS} FROM model_promotions ORDER BY id DESC LIMIT ?",
                                (limit,)).fetchall()
            return [_promotion(r) for r in rows]

        return await self._run(select)

    async def report_replica(self, state: ReplicaState) -> None:
        def upsert(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT INTO model_replicas ({REPLICA_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (replica_id) DO UPDATE SET serving = excluded.serving, wanted = excluded.wanted, "
                "error = excluded.error, seen_at = excluded.seen_at",
                (state.replica_id, state.host, state.serving, state.wanted, state.error, to_ts(state.started_at),
                 to_ts(state.seen_at)),
            )

        await self._run(upsert)

    async def list_replicas(self, *, seen_since: datetime) -> list[ReplicaState]:
        def select(conn: sqlite3.Connection) -> list[ReplicaState]:
            rows = conn.execute(f"SELECT {REPLICA_COLUMNS} FROM model_replicas WHERE seen_at >= ? ORDER BY replica_id",
                                (to_ts(seen_since),)).fetchall()
            return [_replica(r) for r in rows]

        return await self._run(select)

    async def forget_replicas(self, *, seen_before: datetime) -> int:
        def delete(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM model_replicas WHERE seen_at < ?", (to_ts(seen_before),)).rowcount

        return await self._run(delete)
