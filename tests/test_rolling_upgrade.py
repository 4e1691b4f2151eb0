"""Rolling upgrades: migrations are expand-only unless marked contract, and a replica of the previous release
(its own code, from git history) keeps working while a newer one migrates the shared PostgreSQL
(moderation/store/migrations/README.md)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from moderation.store.postgres import PostgresStore
from moderation.store.rows import migration_files

from .conftest import fit_tiny_model
from .postgres import PG_URL, drop_schema, postgres_available, skip_without_postgres
from .served import free_port

FIRST_CHECKED = 4  # the rule holds from scale-out's migration on (0001-0003 predate it)

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


def previous_release(repo: Path) -> str | None:
    """The newest commit whose migrations are today's minus the newest one: the release before it.
    (A branch that adds a migration before its base had the one numbered below it fails here, loudly.)"""
    folder = "moderation/store/migrations/postgres"
    today = sorted(p.name for p in (repo / folder).glob("*.sql"))
    wanted = today[:-1]
    try:
        commits = subprocess.run(["git", "-C", str(repo), "rev-list", "--max-count=400", "HEAD"], capture_output=True,
                                 text=True, check=True, timeout=60).stdout.split()
        for commit in commits:
            listing = subprocess.run(["git", "-C", str(repo), "ls-tree", "--name-only", f"{commit}:{folder}"],
                                     capture_output=True, text=True, timeout=60)
            if listing.returncode == 0 and sorted(n for n in listing.stdout.split() if n.endswith(".sql")) == wanted:
                return commit
    except (OSError, subprocess.SubprocessError):
        return None
    return None


def _request(url: str, *, key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.mark.postgres
async def test_previous_release_keeps_working_while_the_next_migrates(tmp_path: Path) -> None:
    """The release before the newest migration, its own code from git history, serves on PostgreSQL while
    today's code migrates the same schema; it keeps storing and deciding, and today's code sees it all."""
    if not await postgres_available():
        skip_without_postgres()
    repo = Path(__file__).resolve().parent.parent
    commit = previous_release(repo)
    if commit is None:
        pytest.fail("no earlier release in the git history (a shallow clone?): the rolling-upgrade test needs it")
    old_tree = tmp_path / "previous-release"
    old_tree.mkdir()
    archive = subprocess.run(["git", "-C", str(repo), "archive", commit, "moderation"], capture_output=True,
                             check=True, timeout=120).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(old_tree, filter="data")
    models = tmp_path / "models"
    fit_tiny_model(models, version="2026.01.01-test")
    schema = f"scaleout_roll_{os.getpid()}"
    url = f"{PG_URL}?schema={schema}"
    # The previous release runs from its own tree (cwd first on sys.path), not from this checkout.
    env = {**os.environ, "MODERATION_DATABASE_URL": url, "PYTHONPATH": str(old_tree),
           "MODERATION_WEBHOOK_ALLOW_HTTP": "true"}

    def old_cli(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "moderation", *args, "--database-url", url], cwd=old_tree,
                              env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()[-1]

    port = free_port()
    server: subprocess.Popen[bytes] | None = None
    try:
        with (tmp_path / "old.log").open("wb") as log:
            server = subprocess.Popen([sys.executable, "-m", "moderation", "serve", "--port", str(port),
                                       "--data-dir", str(tmp_path / "old-data"), "--models-dir", str(models)],
                                      cwd=old_tree, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert server.poll() is None, (tmp_path / "old.log").read_text()
            try:
                with urllib.request.urlopen(f"{base}/readyz", timeout=1) as ready:
                    if ready.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        site = old_cli("keys", "create", "--role", "site", "--site", "kompas-test")
        moderator = old_cli("keys", "create", "--role", "moderator", "--site", "kompas-test")

        stored: list[int] = []
        errors: list[Any] = []
        stop = threading.Event()

        def old_replica_writes() -> None:
            n = 0
            while not stop.is_set() and n < 2000:
                n += 1
                status, body = _request(f"{base}/v1/comments", key=site, body={
                    "article_id": "2026/12/02/upgrade", "author_name": "Sari", "author_email": f"s{n}@example.co.id",
                    "author_ip": f"2001:db8::{n:x}", "content": f"Komentar {n} selama pembaruan bergulir."})
                if status == 201:
                    stored.append(body["id"])
                else:
                    errors.append((status, body))

        writer = threading.Thread(target=old_replica_writes)
        writer.start()
        await asyncio.sleep(0.5)
        new = PostgresStore(url)
        try:
            await new.migrate()  # today's release migrates while the previous one writes
            await asyncio.sleep(0.5)
            stop.set()
            writer.join(timeout=30)
            assert errors == []
            assert len(stored) > 10
            async with new.pool.acquire() as conn:
                versions = [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY 1")]
                assert versions == [m[0] for m in migration_files("postgres")]
                # Today's release sees every row the previous one wrote, before and after the migration.
                assert await conn.fetchval("SELECT count(*) FROM comments") == len(stored)
            # The previous release keeps working on the migrated schema: a decision on one of its comments.
            last = await new.get_comment("kompas-test", stored[-1])
            assert last is not None
            status, decided = _request(f"{base}/v1/comments/{stored[-1]}/decision", key=moderator, body={
                "action": "approve" if last.status.value == "held" else "remove",
                "label": "ham" if last.status.value == "held" else "other", "revision": last.revision})
            assert status == 200, decided
            assert (await new.get_comment("kompas-test", stored[-1])).revision == last.revision + 1  # type: ignore[union-attr]
        finally:
            await new.close()
    finally:
        stop_event = locals().get("stop")
        if isinstance(stop_event, threading.Event):
            stop_event.set()
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        await drop_schema(schema)
