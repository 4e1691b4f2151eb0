"""``moderation migrate-store``: copy a whole store between SQLite and PostgreSQL, verified, resumable.

Both sides are first brought to this release's schema (``Store.migrate``), then every table is
copied in primary-key order, in batches, each batch one transaction on the target. Interrupted, a
copy resumes (``resume=True``) after the highest key the target already holds, table by table, so no
row is copied twice or skipped. At the end the row count and a SHA-256 over every row in a canonical
form (timestamps in UTC, JSON with sorted keys, bytes as hex) are compared per table.

Column meanings (timestamp, JSON, bytes, float) come from the PostgreSQL side's catalogue, so SQLite's
text timestamps become ``TIMESTAMPTZ`` and back exactly. Tables filled by triggers on insert
(``comment_reason_kinds``) are copied with conflicts ignored. Replica heartbeats (``model_replicas``)
and ``schema_migrations`` are runtime state of each database and are not copied.

Stop the service (or its writes) before copying: rows written to the source during the copy may be
missed, and the checksums would then say so.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import asyncpg

from ..settings import DatabaseSettings
from . import open_store
from .postgres import _split_schema
from .rows import to_ts

# Parents before children (foreign keys); tables a later migration adds follow, alphabetically.
TABLE_ORDER = (
    "sites", "api_keys", "comments", "comment_reason_kinds", "comment_events", "idempotency_keys",
    "training_labels", "comment_reports", "webhook_outbox", "webhook_deliveries", "moderator_sessions",
    "campaign_signatures", "campaign_votes", "model_promotions",
)
NOT_COPIED = frozenset({"schema_migrations", "model_replicas", "sqlite_sequence"})
# Filled by the target's own insert triggers as well: copying them must not collide.
TRIGGER_FILLED = frozenset({"comment_reason_kinds"})

Kinds = dict[str, str]  # column -> timestamp | json | bytes | float | text | plain


class MigrationError(Exception):
    """The copy cannot start or did not verify; the message says which table and why."""


@dataclass
class TableReport:
    table: str
    source_rows: int
    target_rows: int
    copied: int
    source_sha256: str = ""
    target_sha256: str = ""

    @property
    def verified(self) -> bool:
        return self.source_rows == self.target_rows and self.source_sha256 == self.target_sha256


@dataclass
class Report:
    tables: list[TableReport] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return all(t.verified for t in self.tables)


class Side(Protocol):
    is_postgres: bool

    async def close(self) -> None: ...
    async def tables(self) -> list[str]: ...
    async def columns(self, table: str) -> list[str]: ...
    async def primary_key(self, table: str) -> list[str]: ...
    async def kinds(self, table: str) -> Kinds: ...
    async def count(self, table: str) -> int: ...
    async def last_key(self, table: str, key: Sequence[str]) -> tuple[Any, ...] | None: ...
    async def read(self, table: str, columns: Sequence[str], key: Sequence[str], after: tuple[Any, ...] | None,
                   limit: int, kinds: Kinds) -> list[tuple[Any, ...]]: ...
    async def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]], kinds: Kinds,
                    *, ignore_conflicts: bool) -> None: ...
    async def finish(self, tables: Sequence[str]) -> None: ...


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise MigrationError(f"unexpected table or column name {name!r}")
    return f'"{name}"'


def _after_clause(key: Sequence[str], marks: list[str]) -> str:
    # Row values compare lexicographically in both SQLite and PostgreSQL: (a, b) > (x, y).
    return f"({', '.join(_ident(k) for k in key)}) > ({', '.join(marks)})"


# -- canonical values: what both sides agree a cell means ----------------------------------------------


def _parse_ts(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value.astimezone(UTC) if isinstance(value, datetime) else None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)


def canonical(value: Any, kind: str) -> Any:
    """A cell as plain JSON-able data, the same whichever backend it was read from."""
    if value is None:
        return None
    if kind == "timestamp":
        moment = _parse_ts(value)
        return to_ts(moment) if moment else None
    if kind == "json":
        return json.dumps(json.loads(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    if kind == "bytes" or isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if kind == "float":
        return repr(float(value))
    return value


def row_digest(rows: list[tuple[Any, ...]], kinds: list[str], digest: Any) -> None:
    for row in rows:
        line = json.dumps([canonical(v, k) for v, k in zip(row, kinds)], ensure_ascii=False, separators=(",", ":"))
        digest.update(line.encode("utf-8"))
        digest.update(b"\n")


# -- SQLite --------------------------------------------------------------------------------------------


class SQLiteSide:
    is_postgres = False

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA busy_timeout=30000")

    async def close(self) -> None:
        self.conn.close()

    async def tables(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]

    async def columns(self, table: str) -> list[str]:
        return [r[1] for r in self.conn.execute(f"PRAGMA table_info({_ident(table)})")]

    async def primary_key(self, table: str) -> list[str]:
        info = [(r[5], r[1]) for r in self.conn.execute(f"PRAGMA table_info({_ident(table)})") if r[5]]
        return [name for _, name in sorted(info)]

    async def kinds(self, table: str) -> Kinds:
        types = {r[1]: str(r[2]).upper() for r in self.conn.execute(f"PRAGMA table_info({_ident(table)})")}
        return {c: "bytes" if t == "BLOB" else "float" if t == "REAL" else "plain" for c, t in types.items()}

    async def count(self, table: str) -> int:
        return int(self.conn.execute(f"SELECT count(*) FROM {_ident(table)}").fetchone()[0])

    async def last_key(self, table: str, key: Sequence[str]) -> tuple[Any, ...] | None:
        order = ", ".join(f"{_ident(k)} DESC" for k in key)
        row = self.conn.execute(f"SELECT {', '.join(_ident(k) for k in key)} FROM {_ident(table)} "
                                f"ORDER BY {order} LIMIT 1").fetchone()
        return tuple(row) if row else None

    async def read(self, table: str, columns: Sequence[str], key: Sequence[str], after: tuple[Any, ...] | None,
                   limit: int, kinds: Kinds) -> list[tuple[Any, ...]]:
        where = f"WHERE {_after_clause(key, ['?'] * len(key))}" if after is not None else ""
        sql = (f"SELECT {', '.join(_ident(c) for c in columns)} FROM {_ident(table)} {where} "
               f"ORDER BY {', '.join(_ident(k) for k in key)} LIMIT ?")
        return [tuple(r) for r in self.conn.execute(sql, (*(after or ()), limit))]

    async def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]], kinds: Kinds,
                    *, ignore_conflicts: bool) -> None:
        converted = [tuple(_to_sqlite(v, kinds.get(c, "plain")) for v, c in zip(row, columns)) for row in rows]
        verb = "INSERT OR IGNORE" if ignore_conflicts else "INSERT"
        sql = (f"{verb} INTO {_ident(table)} ({', '.join(_ident(c) for c in columns)}) "
               f"VALUES ({', '.join('?' * len(columns))})")
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.executemany(sql, converted)
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    async def finish(self, tables: Sequence[str]) -> None:
        """AUTOINCREMENT counters follow explicit ids by themselves."""


def _to_sqlite(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "timestamp":
        moment = _parse_ts(value)
        return to_ts(moment) if moment else None
    if isinstance(value, memoryview):
        return bytes(value)
    return value


# -- PostgreSQL ----------------------------------------------------------------------------------------


class PostgresSide:
    is_postgres = True

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    @classmethod
    async def connect(cls, url: str, database: DatabaseSettings) -> PostgresSide:
        base, schema = _split_schema(url)
        conn = await asyncpg.connect(base, timeout=database.connect_timeout_seconds,
                                     server_settings={"search_path": schema} if schema else {})
        return cls(conn)

    async def close(self) -> None:
        await self.conn.close()

    async def tables(self) -> list[str]:
        rows = await self.conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_type = 'BASE TABLE'"
        )
        return [r["table_name"] for r in rows]

    async def columns(self, table: str) -> list[str]:
        rows = await self.conn.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = $1 ORDER BY ordinal_position", table,
        )
        return [r["column_name"] for r in rows]

    async def primary_key(self, table: str) -> list[str]:
        rows = await self.conn.fetch(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = $1::regclass AND i.indisprimary "
            "ORDER BY array_position(i.indkey, a.attnum)", table,
        )
        return [r["attname"] for r in rows]

    async def kinds(self, table: str) -> Kinds:
        rows = await self.conn.fetch(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = $1", table,
        )
        named = {"timestamp with time zone": "timestamp", "timestamp without time zone": "timestamp",
                 "jsonb": "json", "json": "json", "bytea": "bytes", "double precision": "float", "real": "float",
                 "text": "text"}
        return {r["column_name"]: named.get(r["data_type"], "plain") for r in rows}

    @staticmethod
    def _key(key: Sequence[str], kinds: Kinds) -> list[str]:
        # Text keys in byte order (COLLATE "C"), as SQLite compares them: both sides walk rows alike.
        return [f'{_ident(k)} COLLATE "C"' if kinds.get(k) == "text" else _ident(k) for k in key]

    def _select(self, columns: Sequence[str], kinds: Kinds) -> str:
        # JSON as its text (the codec-free form both sides share).
        return ", ".join(f"{_ident(c)}::text" if kinds.get(c) == "json" else _ident(c) for c in columns)

    async def count(self, table: str) -> int:
        return int(await self.conn.fetchval(f"SELECT count(*) FROM {_ident(table)}"))

    async def last_key(self, table: str, key: Sequence[str]) -> tuple[Any, ...] | None:
        kinds = await self.kinds(table)
        order = ", ".join(f"{k} DESC" for k in self._key(key, kinds))
        row = await self.conn.fetchrow(f"SELECT {', '.join(_ident(k) for k in key)} FROM {_ident(table)} "
                                       f"ORDER BY {order} LIMIT 1")
        return tuple(row) if row else None

    async def read(self, table: str, columns: Sequence[str], key: Sequence[str], after: tuple[Any, ...] | None,
                   limit: int, kinds: Kinds) -> list[tuple[Any, ...]]:
        ordered = self._key(key, kinds)
        marks = [f"${i + 1}" for i in range(len(key))]
        where = f"WHERE ({', '.join(ordered)}) > ({', '.join(marks)})" if after is not None else ""
        params = [*(_to_postgres(v, kinds.get(k, "plain")) for v, k in zip(after or (), key))]
        sql = (f"SELECT {self._select(columns, kinds)} FROM {_ident(table)} {where} "
               f"ORDER BY {', '.join(ordered)} LIMIT ${len(params) + 1}")
        return [tuple(r) for r in await self.conn.fetch(sql, *params, limit)]

    async def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]], kinds: Kinds,
                    *, ignore_conflicts: bool) -> None:
        converted = [tuple(_to_postgres(v, kinds.get(c, "plain")) for v, c in zip(row, columns)) for row in rows]
        marks = ", ".join(f"${i + 1}" for i in range(len(columns)))
        conflict = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
        sql = f"INSERT INTO {_ident(table)} ({', '.join(_ident(c) for c in columns)}) VALUES ({marks}){conflict}"
        async with self.conn.transaction():
            await self.conn.executemany(sql, converted)

    async def finish(self, tables: Sequence[str]) -> None:
        # Explicit ids leave the BIGSERIAL sequences behind: move each past its table's highest id.
        for table in tables:
            sequence = await self.conn.fetchval("SELECT pg_get_serial_sequence($1, 'id')", table) \
                if "id" in await self.columns(table) else None
            if sequence:
                await self.conn.execute(
                    f"SELECT setval($1::regclass, GREATEST((SELECT max(id) FROM {_ident(table)}), 1), "
                    f"(SELECT max(id) FROM {_ident(table)}) IS NOT NULL)", sequence,
                )


def _to_postgres(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "timestamp":
        return _parse_ts(value)
    if kind == "float":
        return float(value)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


# -- the copy ------------------------------------------------------------------------------------------


async def open_side(url: str, database: DatabaseSettings) -> Side:
    if url.startswith("sqlite:///"):
        return SQLiteSide(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgres://")):
        return await PostgresSide.connect(url, database)
    raise MigrationError("a store URL starts with sqlite:/// or postgresql://")


def _ordered(tables: set[str]) -> list[str]:
    known = [t for t in TABLE_ORDER if t in tables]
    return known + sorted(tables - set(TABLE_ORDER) - NOT_COPIED)


Progress = Callable[[str, int, int], None]  # (table, rows copied so far, rows in the source table)


async def migrate_store(source_url: str, target_url: str, *, batch: int = 1000, resume: bool = False,
                        database: DatabaseSettings | None = None, progress: Progress | None = None) -> Report:
    """Copy every table from ``source_url`` to ``target_url`` and verify counts and checksums."""
    if source_url == target_url:
        raise MigrationError("--from and --to name the same store")
    database = database or DatabaseSettings()
    for url in (source_url, target_url):
        store = open_store(url, database=database)
        try:
            await store.migrate()  # both at this release's schema
        finally:
            await store.close()
    source, target = await open_side(source_url, database), await open_side(target_url, database)
    try:
        if not (source.is_postgres or target.is_postgres):
            raise MigrationError("copy SQLite to SQLite with the file itself (or sqlite3 .backup)")
        typed = source if source.is_postgres else target  # the side whose catalogue knows column meanings
        tables = _ordered(set(await source.tables()) & set(await target.tables()))
        if not resume:
            filled = [(t, n) for t in tables if (n := await target.count(t))]
            if filled:
                names = ", ".join(f"{t} ({n} rows)" for t, n in filled[:4])
                raise MigrationError(f"the target is not empty: {names}; pass --resume to continue an "
                                     "interrupted copy into it")
        report = Report()
        for table in tables:
            report.tables.append(await _copy_table(source, target, typed, table, batch, progress))
        await target.finish(tables)
        for entry in report.tables:
            await _verify(source, target, typed, entry, batch)
        return report
    finally:
        await source.close()
        await target.close()


async def _copy_table(source: Side, target: Side, typed: Side, table: str, batch: int,
                      progress: Progress | None) -> TableReport:
    columns = [c for c in await source.columns(table) if c in set(await target.columns(table))]
    key = await source.primary_key(table) or await target.primary_key(table)
    if not key:
        raise MigrationError(f"table {table} has no primary key to copy it in order by")
    kinds = await typed.kinds(table)
    total = await source.count(table)
    ignore = table in TRIGGER_FILLED
    # Resume after the highest key already copied (each batch committed whole); trigger-filled tables
    # are re-read from the start, their conflicts ignored.
    after = None if ignore else await target.last_key(table, key)
    key_index = [columns.index(k) for k in key]
    copied = 0
    done = 0 if after is None else await target.count(table)
    while True:
        rows = await source.read(table, columns, key, after, batch, kinds)
        if not rows:
            break
        await target.write(table, columns, rows, kinds, ignore_conflicts=ignore)
        copied += len(rows)
        done += len(rows)
        after = tuple(rows[-1][i] for i in key_index)
        if progress is not None:
            progress(table, min(done, total), total)
    return TableReport(table=table, source_rows=total, target_rows=0, copied=copied)


async def _checksum(side: Side, table: str, columns: list[str], key: list[str], kinds: Kinds,
                    batch: int) -> str:
    digest = hashlib.sha256()
    key_index = [columns.index(k) for k in key]
    after = None
    column_kinds = [kinds.get(c, "plain") for c in columns]
    while rows := await side.read(table, columns, key, after, batch, kinds):
        row_digest(rows, column_kinds, digest)
        after = tuple(rows[-1][i] for i in key_index)
    return digest.hexdigest()


async def _verify(source: Side, target: Side, typed: Side, entry: TableReport, batch: int) -> None:
    table = entry.table
    columns = sorted(set(await source.columns(table)) & set(await target.columns(table)))
    key = await source.primary_key(table) or await target.primary_key(table)
    kinds = await typed.kinds(table)
    entry.source_rows = await source.count(table)
    entry.target_rows = await target.count(table)
    entry.source_sha256 = await _checksum(source, table, columns, key, kinds, batch)
    entry.target_sha256 = await _checksum(target, table, columns, key, kinds, batch)
