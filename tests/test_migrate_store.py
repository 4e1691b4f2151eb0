"""``moderation migrate-store``: SQLite → PostgreSQL → SQLite with identical content, refusals, resumption."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from moderation.appkeys import FLEET, STORE
from moderation.auth import hash_key
from moderation.domain import Role
from moderation.policy import Policy, PolicyBook
from moderation.settings import Secret, Settings
from moderation.store.migrate import NOT_COPIED, MigrationError, canonical, migrate_store
from moderation.webhook_targets import TargetPolicy, parse_networks

from .conftest import SPAM, MakeApi
from .postgres import PG_URL, drop_schema, postgres_available, skip_without_postgres

pytestmark = pytest.mark.postgres


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def populate(make_api: MakeApi, settings: Settings) -> dict[str, Any]:
    """A store with every kind of row: sites, keys, comments in each status, events, reports, labels,
    webhook outbox (pending), sessions, campaign signatures and votes, idempotency, a promotion."""
    # The webhook receiver is plain http on 127.0.0.1, which only a test's target policy allows.
    api = await make_api(replace(settings, policy=PolicyBook(default=Policy(hold_all=True)),
                                 webhook_targets=TargetPolicy(allow_http=True,
                                                              allowed_networks=parse_networks("127.0.0.0/8"))))
    site, moderator, admin = (await api.key(Role.SITE), await api.key(Role.MODERATOR), await api.key(Role.ADMIN))
    await api.key(Role.SITE, site="detik-test")
    resp = await api.client.put("/v1/admin/webhook", json={"url": "http://127.0.0.1:9/hook"}, headers=auth(admin))
    assert resp.status == 200
    ids = []
    for n in range(12):
        text = SPAM[n % len(SPAM)] + f" kode{n}" if n % 3 == 0 else f"Komentar pembaca ke-{n} tentang banjir 😊 ñ"
        headers = {"Idempotency-Key": f"idem-{n}"} if n % 4 == 0 else {}
        resp = await api.post_comment(key=site, headers=headers, content=text, author_email=f"r{n}@example.co.id",
                                      author_ip=f"2001:db8::{n:x}", parent_id=ids[0] if n == 5 else None)
        assert resp.status == 201, await resp.text()
        ids.append((await resp.json())["id"])
    for n, comment_id in enumerate(ids):
        action, label = ("reject", "spam") if n % 3 == 0 else ("approve", "ham") if n % 3 == 1 else (None, None)
        if action:
            resp = await api.client.post(f"/v1/comments/{comment_id}/decision", headers=auth(moderator),
                                         json={"action": action, "label": label, "revision": 1, "note": "dicek ✓"})
            assert resp.status == 200, await resp.text()
    resp = await api.client.post(f"/v1/comments/{ids[1]}/reports", headers=auth(site),
                                 json={"reason": "spam", "reporter": "reader-1"})
    assert resp.status in (200, 201), await resp.text()
    store = api.app[STORE]
    now = datetime.now(UTC)
    key = await store.find_api_key(hash_key(moderator))
    await store.create_session(id_hash="s" * 64, api_key_id=key.id, csrf_hash="c" * 64, now=now,
                               expires_at=now + timedelta(hours=8))
    await api.app[FLEET].store.record_promotion("2026.01.01-test", action="promote", actor="test", now=now)
    await api.client.close()
    return {"site": site, "ids": ids}


def dump_sqlite(path: Path) -> dict[str, list[list[Any]]]:
    """Every copied table, each row canonical (JSON re-serialised sorted), ordered by its values."""
    out: dict[str, list[list[Any]]] = {}
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            if table in NOT_COPIED:
                continue
            columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
            rows = conn.execute(f'SELECT {", ".join(columns)} FROM "{table}"').fetchall()
            out[table] = sorted(([_cell(c, v) for c, v in zip(columns, row)] for row in rows), key=repr)
    return out


def _cell(column: str, value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return canonical(value, "json")
        except ValueError:
            return value
    return canonical(value, "plain")


@pytest.fixture
def pg_target() -> Any:
    if not asyncio.run(postgres_available()):
        skip_without_postgres()
    schema = f"scaleout_mig_{os.getpid()}_{os.urandom(3).hex()}"
    yield f"{PG_URL}?schema={schema}"
    asyncio.run(drop_schema(schema))


async def test_round_trip_sqlite_postgres_sqlite_is_identical(make_api: MakeApi, settings: Settings,
                                                              pg_target: str, tmp_path: Path) -> None:
    made = await populate(make_api, settings)
    source = settings.effective_database_url
    seen: list[tuple[str, int, int]] = []
    report = await migrate_store(source, pg_target, batch=5, progress=lambda t, d, n: seen.append((t, d, n)))
    assert report.verified, [t for t in report.tables if not t.verified]
    by_table = {t.table: t for t in report.tables}
    assert by_table["comments"].target_rows == 12 and by_table["webhook_outbox"].target_rows >= 8
    assert by_table["moderator_sessions"].target_rows == 1 and by_table["campaign_votes"].target_rows >= 4
    assert ("comments", 12, 12) in seen and ("comments", 5, 12) in seen  # batches, reported as they commit

    back = tmp_path / "back.sqlite3"
    report = await migrate_store(pg_target, f"sqlite:///{back}", batch=7)
    assert report.verified
    original, returned = dump_sqlite(Path(source.removeprefix("sqlite:///"))), dump_sqlite(back)
    assert set(original) == set(returned)
    for table in original:
        assert returned[table] == original[table], table

    # The PostgreSQL copy serves: old keys work, pending webhooks are still pending, new ids follow on.
    api = await make_api(replace(settings, database_url=Secret(pg_target)))
    resp = await api.client.get(f"/v1/comments/{made['ids'][3]}", headers=auth(made["site"]))
    assert resp.status == 200
    resp = await api.post_comment(key=made["site"], author_email="new@example.co.id", author_ip="2001:db8::ff")
    assert resp.status == 201 and (await resp.json())["id"] > max(made["ids"])


async def test_refuses_a_non_empty_target_and_resumes_an_interrupted_copy(
    make_api: MakeApi, settings: Settings, pg_target: str,
) -> None:
    await populate(make_api, settings)
    source = settings.effective_database_url

    class Interrupted(Exception):
        pass

    def stop_in_comments(table: str, done: int, total: int) -> None:
        if table == "comments" and done >= 6:
            raise Interrupted

    with pytest.raises(Interrupted):
        await migrate_store(source, pg_target, batch=3, progress=stop_in_comments)
    with pytest.raises(MigrationError, match="not empty"):
        await migrate_store(source, pg_target, batch=3)
    report = await migrate_store(source, pg_target, batch=3, resume=True)
    assert report.verified
    comments = next(t for t in report.tables if t.table == "comments")
    assert (comments.copied, comments.target_rows) == (6, 12)  # only the rest was copied
    with pytest.raises(MigrationError, match="same store"):
        await migrate_store(source, source)


async def test_checksums_catch_a_difference(make_api: MakeApi, settings: Settings, pg_target: str) -> None:
    await populate(make_api, settings)
    source = settings.effective_database_url
    assert (await migrate_store(source, pg_target)).verified
    path = source.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE comments SET author_name = 'Diubah' WHERE id = (SELECT min(id) FROM comments)")
    report = await migrate_store(source, pg_target, resume=True)  # nothing new to copy, but it differs now
    assert not report.verified
    assert [t.table for t in report.tables if not t.verified] == ["comments"]


def test_cli_copies_with_a_progress_bar_and_refuses_bad_urls(tmp_path: Path, settings: Settings,
                                                             pg_target: str) -> None:
    data = tmp_path / "cli.sqlite3"
    subprocess.run([sys.executable, "-m", "moderation", "keys", "create", "--role", "site", "--site", "kompas",
                    "--database-url", f"sqlite:///{data}"], check=True, capture_output=True, timeout=120)
    done = subprocess.run([sys.executable, "-m", "moderation", "migrate-store", "--from", f"sqlite:///{data}",
                           "--to", pg_target], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "api_keys" in done.stdout and "Copied and verified" in done.stdout
    assert "row" in done.stderr  # tqdm's bar
    again = subprocess.run([sys.executable, "-m", "moderation", "migrate-store", "--from", f"sqlite:///{data}",
                            "--to", pg_target], capture_output=True, text=True, timeout=120)
    assert again.returncode == 1 and "not empty" in again.stderr
    bad = subprocess.run([sys.executable, "-m", "moderation", "migrate-store", "--from", "mysql://x",
                          "--to", pg_target], capture_output=True, text=True, timeout=120)
    assert bad.returncode in (1, 2) and "sqlite:///" in bad.stderr
