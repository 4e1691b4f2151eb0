"""The model fleet's records: which version is promoted (with who and when), and what each replica serves.

Kept apart from the main ``Store`` because it is tiny and read on a timer: each backend module here
(``fleet_sqlite``, ``fleet_postgres``) opens its own small connection, so a poll never waits behind
the request path's pool, and only speaks SQL. The tables come from migration 0004, which the main
store applies first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from .faults import DatabaseTimeouts


@dataclass(frozen=True)
class Promotion:
    id: int
    version: str
    action: str  # promote, rollback
    actor: str
    promoted_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "action": self.action, "actor": self.actor,
                "promoted_at": self.promoted_at.isoformat()}


@dataclass(frozen=True)
class ReplicaState:
    replica_id: str
    host: str
    serving: str | None
    wanted: str | None
    error: str | None
    started_at: datetime
    seen_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"replica_id": self.replica_id, "host": self.host, "serving": self.serving, "wanted": self.wanted,
                "error": self.error, "started_at": self.started_at.isoformat(), "seen_at": self.seen_at.isoformat()}


class FleetStore(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def record_promotion(self, version: str, *, action: str, actor: str, now: datetime) -> Promotion: ...
    async def latest_promotion(self) -> Promotion | None: ...
    async def promotions(self, limit: int) -> list[Promotion]:
        """The newest ``limit`` promotions and rollbacks, newest first."""
        ...
    async def report_replica(self, state: ReplicaState) -> None:
        """Insert or update this replica's row."""
        ...
    async def list_replicas(self, *, seen_since: datetime) -> list[ReplicaState]:
        """Replicas heard from since ``seen_since``, by id."""
        ...
    async def forget_replicas(self, *, seen_before: datetime) -> int: ...


def open_fleet_store(database_url: str, timeouts: DatabaseTimeouts) -> FleetStore:
    """The fleet records' backend for a database URL (the connection opens on ``open``)."""
    if database_url.startswith("sqlite:///"):
        from .fleet_sqlite import SQLiteFleetStore

        return SQLiteFleetStore(database_url.removeprefix("sqlite:///"), timeouts)
    if database_url.startswith(("postgresql://", "postgres://")):
        from .fleet_postgres import PostgresFleetStore

        return PostgresFleetStore(database_url, timeouts)
    raise ValueError("MODERATION_DATABASE_URL must start with sqlite:/// or postgresql://")


def rollback_target(history: list[Promotion]) -> str | None:
    """The version a rollback returns to: walk the records oldest first as a stack (promote pushes,
    rollback pops) and take the one under the top. None when there is nothing to go back to."""
    stack: list[str] = []
    for record in sorted(history, key=lambda p: p.id):
        if record.action == "promote":
            if not stack or stack[-1] != record.version:
                stack.append(record.version)
        elif stack:
            stack.pop()
            if not stack or stack[-1] != record.version:
                stack.append(record.version)  # a rollback recorded its target: that is the top now
    return stack[-2] if len(stack) >= 2 else None
