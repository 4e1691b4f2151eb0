"""Rolling upgrades: migrations are expand-only unless marked contract, and a replica at the previous schema
keeps working while a newer one migrates the shared PostgreSQL (moderation/store/migrations/README.md)."""

from __future__ import annotations

import asyncio
import os
import re
from datetime import UTC, datetime, timedelta

import pytest

import moderation.store.postgres as postgres_backend
from moderation.domain import Decision, Role, Submission, Verdict
from moderation.store import ModeratorAction, ModeratorDecision, NewComment
from moderation.store.postgres import PostgresStore
from moderation.store.rows import migration_files

from .postgres import PG_URL, drop_schema, postgres_available, skip_without_postgres

PREVIOUS_RELEASE = 3  # the schema of the release before scale-out (0001-0003)
FIRST_CHECKED = 4

# What breaks a replica of the release before: it still reads or writes the old shape.
CONTRACT_STATEMENTS = {
    "drops a table": re.compile(r"\bDROP\s+TABLE\b", re.I),
    "drops a column": re.compile(r"\bDROP\s+COLUMN\b", re.I),
    "renames": re.compile(r"\bRENAME\b", re.I),
    "changes a column's type": re.compile(r"\bALTER\s+COLUMN\s+\w+\s+(SET\s+DATA\s+)?TYPE\b", re.I),
    "makes a column NOT NULL": re.compile(r"\bSET\s+NOT\s+NULL\b", re.I),
    "adds a NOT NULL column without a default": re.compile(
        r"\bADD\s+COLUMN\b(?:(?!\bDEFAULT\b)[^;,])*\bNOT\s+NULL\b(?:(?!\bDEFAULT\b)[^;,])*[;,]", re.I),
}


def _statements_without_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_migrations_after_the_baseline_only_expand(dialect: str) -> None:
    checked = 0
    for version, name, sql in migration_files(dialect):
        if version < FIRST_CHECKED:
            continue
        checked += 1
        if sql.lstrip().lower().startswith("-- contract:"):
            continue  # a deliberate contract step, saying what it removes and since when nothing reads it
        body = _statements_without_comments(sql)
        problems = [what for what, pattern in CONTRACT_STATEMENTS.items() if pattern.search(body)]
        assert not problems, f"{dialect}/{name} {', '.join(problems)}: make it an expand step or mark it contract"
    assert checked >= 1


def test_the_rule_catches_contract_statements() -> None:
    for sql in ("ALTER TABLE comments DROP COLUMN lang;", "ALTER TABLE a RENAME TO b;",
                "ALTER TABLE comments ADD COLUMN x TEXT NOT NULL;", "ALTER TABLE c ALTER COLUMN x TYPE BIGINT;"):
        assert any(p.search(sql) for p in CONTRACT_STATEMENTS.values()), sql
    for sql in ("ALTER TABLE comments ADD COLUMN x TEXT;", "ALTER TABLE c ADD COLUMN n INTEGER NOT NULL DEFAULT 0;",
                "CREATE TABLE IF NOT EXISTS t (id BIGSERIAL PRIMARY KEY, v TEXT NOT NULL);"):
        assert not any(p.search(sql) for p in CONTRACT_STATEMENTS.values()), sql


def _new_comment(n: int) -> NewComment:
    submission = Submission(article_id="2026/12/02/upgrade", author_name="Sari", author_email=f"s{n}@example.co.id",
                            content=f"Komentar {n} selama pembaruan bergulir.", author_ip=f"2001:db8::{n:x}")
    verdict = Verdict(decision=Decision.HOLD, reasons=(), scores={"spam": 0.1}, model_version="old")
    return NewComment(site_id="kompas-test", submission=submission, verdict=verdict, content_hash=f"h{n}", signals={})


@pytest.mark.postgres
async def test_previous_release_keeps_working_while_the_next_migrates(monkeypatch: pytest.MonkeyPatch) -> None:
    if not await postgres_available():
        skip_without_postgres()
    schema = f"scaleout_roll_{os.getpid()}"
    url = f"{PG_URL}?schema={schema}"
    try:
        old = PostgresStore(url)
        previous = [m for m in migration_files("postgres") if m[0] <= PREVIOUS_RELEASE]
        monkeypatch.setattr(postgres_backend, "migration_files", lambda dialect: previous)
        await old.migrate()  # the database as the previous release left it
        monkeypatch.undo()
        now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
        await old.create_api_key(site_id="kompas-test", role=Role.SITE, key_hash="k" * 64, prefix="mod_site_x", now=now)
        stored: list[int] = []
        errors: list[BaseException] = []
        stop = asyncio.Event()

        async def old_replica_writes() -> None:
            n = 0
            while not stop.is_set() and n < 500:
                n += 1
                try:
                    comment, _, _ = await old.insert_comment(
                        _new_comment(n), now=now + timedelta(seconds=n), flood_interval=0.0, idempotency=None,
                        render=lambda c: {"id": c.id})
                    stored.append(comment.id)
                except Exception as exc:  # noqa: BLE001 - collected and asserted below
                    errors.append(exc)
                await asyncio.sleep(0)

        writer = asyncio.get_running_loop().create_task(old_replica_writes())
        await asyncio.sleep(0.2)
        new = PostgresStore(url)
        await new.migrate()  # the newer release migrates while the old one writes
        await asyncio.sleep(0.2)
        stop.set()
        await writer
        try:
            assert errors == []
            assert len(stored) > 10
            async with new.pool.acquire() as conn:
                versions = [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY 1")]
                assert versions == [m[0] for m in migration_files("postgres")]
                # The new release sees every row the old one wrote, before and after the migration.
                assert await conn.fetchval("SELECT count(*) FROM comments") == len(stored)
            # The old release keeps working on the migrated schema: a decision on one of its comments.
            outcome = await old.decide("kompas-test", ModeratorDecision(
                comment_id=stored[-1], action=ModeratorAction.APPROVE, label="ham", revision=1),
                actor="key:1", now=now + timedelta(hours=1))
            assert outcome.comment.revision == 2
            assert (await new.get_comment("kompas-test", stored[-1])).revision == 2  # type: ignore[union-attr]
        finally:
            await old.close()
            await new.close()
    finally:
        await drop_schema(schema)
