"""Personal data at rest and in caches: private file modes, and no cache may keep an API answer."""

from __future__ import annotations

import hashlib
import re
import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

from moderation.appkeys import SETTINGS
from moderation.domain import Role
from moderation.store.sqlite import SQLiteStore

from .conftest import Api


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_new_database_directory_and_files_are_private(tmp_path: Path) -> None:
    db = tmp_path / "fresh" / "moderation.sqlite3"
    store = SQLiteStore(str(db))
    try:
        await store.migrate()
        await store.ensure_site("kompas-test", datetime.now(UTC))
    finally:
        await store.close()
    assert _mode(db.parent) == 0o700
    assert _mode(db) == 0o600
    # SQLite gives its write-ahead log and shared-memory files the database file's mode.
    for sibling in db.parent.iterdir():
        assert _mode(sibling) & 0o077 == 0, f"{sibling.name} is readable by others: {oct(_mode(sibling))}"


async def test_an_existing_directory_keeps_its_mode(tmp_path: Path) -> None:
    """The operator's own directory (a mounted volume, say) is not re-moded; only the file is created private."""
    shared = tmp_path / "volume"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    store = SQLiteStore(str(shared / "moderation.sqlite3"))
    try:
        await store.migrate()
    finally:
        await store.close()
    assert _mode(shared) == 0o755
    assert _mode(shared / "moderation.sqlite3") == 0o600


async def test_api_answers_are_not_cacheable(api: Api) -> None:
    site = await api.key(Role.SITE)
    moderator = await api.key(Role.MODERATOR)
    posted = await api.client.post(
        "/v1/comments", headers={"Authorization": f"Bearer {site}"},
        json={"article_id": "a/1", "author_name": "Budi", "author_email": "budi@example.co.id", "content": "Setuju."},
    )
    assert posted.status == 201
    assert posted.headers["Cache-Control"] == "no-store"
    queue = await api.client.get("/v1/queue", headers={"Authorization": f"Bearer {moderator}"})
    assert queue.status == 200 and queue.headers["Cache-Control"] == "no-store"
    refused = await api.client.get("/v1/queue")
    assert refused.status == 401 and refused.headers["Cache-Control"] == "no-store"
    spec = await api.client.get("/v1/openapi.json")
    assert spec.status == 200 and "no-store" not in spec.headers.get("Cache-Control", "")


def _database_text(api: Api) -> str:
    """Every value of every table, as text: what a stolen copy of the file would show."""


    path = api.app[SETTINGS].effective_database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return "\n".join(repr(row) for t in tables for row in conn.execute(f'SELECT * FROM "{t}"'))


async def test_session_ids_and_csrf_tokens_are_stored_only_as_hashes(api: Api) -> None:

    key = await api.key(Role.MODERATOR)
    form = await (await api.client.get("/moderate/sign-in")).text()
    signin_csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    resp = await api.client.post("/moderate/sign-in", data={"csrf": signin_csrf, "key": key}, allow_redirects=False)
    assert resp.status == 303
    session_id = resp.cookies["mod_session"].value
    page = await (await api.client.get("/moderate")).text()
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    stored = _database_text(api)
    for secret in (session_id, csrf, key):
        assert secret not in stored
    # What is there is the hash of each, so the check still works...
    assert hashlib.sha256(session_id.encode()).hexdigest() in stored
    assert hashlib.sha256(csrf.encode()).hexdigest() in stored
    # ...and a form with the page's token passes while the stored hash itself, sent as a token, does not.
    signout = await api.client.post("/moderate/sign-out", data={"csrf": hashlib.sha256(csrf.encode()).hexdigest()},
                                    allow_redirects=False)
    assert signout.status == 403
    signout = await api.client.post("/moderate/sign-out", data={"csrf": csrf}, allow_redirects=False)
    assert signout.status == 303
    assert hashlib.sha256(session_id.encode()).hexdigest() not in _database_text(api)  # signed out: gone
