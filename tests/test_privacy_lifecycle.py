"""Erasure and retention on SQLite and PostgreSQL: exactly the personal data goes, nothing else changes.

Each test takes a snapshot of every table before and after and compares them row by row, so a stray
UPDATE or DELETE anywhere fails it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from moderation import views
from moderation.__main__ import main
from moderation.appkeys import STORE
from moderation.domain import Decision, Evidence, Role, Submission, Verdict
from moderation.policy import Policy, PolicyBook
from moderation.privacy import purge
from moderation.store import ModeratorAction, ModeratorDecision, NewComment, Store
from moderation.store.postgres import PostgresStore
from moderation.store.sqlite import SQLiteStore

from .conftest import Api, FakeClock, MakeApi, valid_comment
from .postgres import PG_URL, drop_schema, postgres_available, skip_without_postgres

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=timezone.utc)
ANI, BUDI = "ani@example.com", "budi@example.com"
HOLD = (("spam", "Looks like spam.", "model:v1", 0.9, 0.5),)


@contextlib.asynccontextmanager
async def security_schema() -> AsyncIterator[str]:
    """A PostgreSQL schema of this branch's own (security_…), dropped afterwards."""
    if not await postgres_available():
        skip_without_postgres()
    schema = f"security_{uuid.uuid4().hex[:12]}"
    try:
        yield f"{PG_URL}?schema={schema}"
    finally:
        await drop_schema(schema)




async def snapshot(store: Store) -> dict[str, dict[Any, tuple[Any, ...]]]:
    """Every row of every table, keyed by its first column (or the whole row), values as text."""
    if isinstance(store, SQLiteStore):
        with sqlite3.connect(store.path) as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
            raw = {t: [tuple(r) for r in conn.execute(f'SELECT * FROM "{t}"')] for t in tables}
    else:
        assert isinstance(store, PostgresStore)
        tables = [r[0] for r in await store.pool.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", store.schema)]
        raw = {t: [tuple(r) for r in await store.pool.fetch(f'SELECT * FROM "{t}"')] for t in tables}
    out: dict[str, dict[Any, tuple[Any, ...]]] = {}
    for table, rows in raw.items():
        keyed = table not in ("comment_reason_kinds", "idempotency_keys", "schema_migrations")
        out[table] = {(str(r[0]) if keyed else tuple(map(str, r))): tuple(map(str, r)) for r in rows}
    return out


def changes(before: dict[str, dict[Any, tuple[Any, ...]]], after: dict[str, dict[Any, tuple[Any, ...]]],
            ) -> dict[str, dict[str, set[Any]]]:
    """Per table: the keys of rows added, removed and changed (tables without a change left out)."""
    out = {}
    for table in before.keys() | after.keys():
        old, new = before.get(table, {}), after.get(table, {})
        diff = {"added": new.keys() - old.keys(), "removed": old.keys() - new.keys(),
                "changed": {k for k in old.keys() & new.keys() if old[k] != new[k]}}
        if any(diff.values()):
            out[table] = diff
    return out


async def add(store: Store, site: str, email: str, text: str, *, at: datetime, held: bool = False,
              ip: str | None = "203.0.113.7", parent: int | None = None, idem: str | None = None) -> int:

    await store.ensure_site(site, at)
    reasons = tuple(Evidence(*r) for r in HOLD) if held else ()
    sub = Submission(article_id="art-1", author_name="Ani Lestari", author_email=email, content=text,
                     author_ip=ip, user_agent="Mozilla/5.0 (Ani)" if ip else None, author_url="https://ani.example",
                     referrer="https://news.example/art-1", parent_id=parent)
    verdict = Verdict(Decision.HOLD if held else Decision.PUBLISH, reasons, {"spam": 0.9 if held else 0.1}, "v1")
    comment, _, _ = await store.insert_comment(
        NewComment(site_id=site, submission=sub, verdict=verdict, content_hash=text, signals={"links": 0}),
        now=at, flood_interval=0, idempotency=(idem, "h" * 64) if idem else None,
        render=lambda c: {"id": c.id, "author_name": views.public_view(c).get("author_name")})
    return comment.id


async def reject(store: Store, site: str, comment_id: int, *, at: datetime) -> None:
    comment = await store.get_comment(site, comment_id)
    assert comment is not None
    await store.decide(site, ModeratorDecision(comment_id=comment_id, action=ModeratorAction.REJECT, label="spam",
                                               revision=comment.revision), actor="key:1", now=at)


FIELDS = "author_name, author_email, author_url, author_ip, user_agent, referrer, parent_id, content"


async def personal(store: Store, comment_id: int) -> dict[str, Any] | None:
    """The comment's personal fields as stored (the domain Comment does not carry IP or user agent)."""
    store = getattr(store, "inner", store)  # the app's store is the backend behind its fault guard
    if isinstance(store, SQLiteStore):
        with sqlite3.connect(store.path) as conn:
            row = conn.execute(f"SELECT {FIELDS} FROM comments WHERE id = ?", (comment_id,)).fetchone()
    else:
        assert isinstance(store, PostgresStore)
        row = await store.pool.fetchrow(f"SELECT {FIELDS} FROM comments WHERE id = $1", comment_id)
    return dict(zip([f.strip() for f in FIELDS.split(",")], tuple(row), strict=True)) if row else None


def text_of(snap: dict[str, dict[Any, tuple[Any, ...]]]) -> str:
    return json.dumps({t: sorted(rows.values()) for t, rows in snap.items()})


# -- erasure -------------------------------------------------------------------------------------------------


async def test_erasure_anonymises_one_authors_comments_on_one_site_and_nothing_else(store: Store) -> None:
    ani_1 = await add(store, "site-a", ANI, "Komentar pertama Ani", at=NOW, idem="idem-ani")
    ani_2 = await add(store, "site-a", ANI, "Komentar kedua Ani", at=NOW + timedelta(minutes=1), held=True)
    budi = await add(store, "site-a", BUDI, "Komentar Budi", at=NOW, held=True, idem="idem-budi")
    ani_b = await add(store, "site-b", ANI, "Ani di situs lain", at=NOW)
    await reject(store, "site-a", ani_2, at=NOW + timedelta(minutes=2))  # an event and a training label
    await reject(store, "site-a", budi, at=NOW + timedelta(minutes=2))
    before = await snapshot(store)
    labels_before = {k: r for k, r in before["training_labels"].items()}
    assert any(str(ani_2) in r for r in labels_before.values())

    counts = await store.erase_author("site-a", ANI, actor="key:9", now=NOW + timedelta(hours=1))
    assert counts == {"comments": 2, "training_labels_unlinked": 1, "idempotency_records": 1}

    after = await snapshot(store)
    diff = changes(before, after)
    assert set(diff) == {"comments", "training_labels", "idempotency_keys", "privacy_events"}, diff
    assert diff["comments"] == {"added": set(), "removed": set(), "changed": {str(ani_1), str(ani_2)}}
    assert len(diff["training_labels"]["changed"]) == 1 and not diff["training_labels"]["removed"]
    assert len(diff["idempotency_keys"]["removed"]) == 1 and not diff["idempotency_keys"]["added"]
    assert len(diff["privacy_events"]["added"]) == 1
    for cid in (ani_1, ani_2):
        row = await personal(store, cid)
        assert row is not None
        assert [row[k] for k in ("author_name", "author_email", "author_url", "author_ip", "user_agent",
                                 "referrer")] == ["", "", None, None, None, None]
        assert row["content"].startswith("Komentar")  # the text stays (it was published or judged as text)
    # The other site's comment by the same e-mail, and Budi's, are untouched; so is the audit log.
    assert (await personal(store, ani_b))["author_email"] == ANI  # type: ignore[index]
    assert (await personal(store, budi))["author_email"] == BUDI  # type: ignore[index]
    # Nothing on site-a holds Ani's data any more; the erasure's own record says how much, not whose.
    site_a_rows = [" ".join(r) for rows in after.values() for r in rows.values() if "site-a" in r]
    assert site_a_rows and not [r for r in site_a_rows if ANI in r]
    assert "Ani Lestari" not in after["comments"][str(ani_1)] and "203.0.113.7" not in after["comments"][str(ani_1)]
    [event] = [after["privacy_events"][k] for k in diff["privacy_events"]["added"]]
    assert "erasure" in event and "key:9" in event and ANI not in " ".join(event) and "Ani" not in " ".join(event)


async def test_erasing_an_unknown_author_changes_only_the_record(store: Store) -> None:
    await add(store, "site-a", BUDI, "Komentar Budi", at=NOW)
    before = await snapshot(store)
    assert await store.erase_author("site-a", ANI, actor="cli", now=NOW) == {
        "comments": 0, "training_labels_unlinked": 0, "idempotency_records": 0}
    assert set(changes(before, await snapshot(store))) == {"privacy_events"}


async def test_erasure_api_needs_the_sites_admin_and_names_the_field(api: Api) -> None:
    site, admin = await api.key(Role.SITE), await api.key(Role.ADMIN)
    other_admin, mod = await api.key(Role.ADMIN, "other-site"), await api.key(Role.MODERATOR)
    resp = await api.post_comment(valid_comment(author_email="Ani@Example.COM"), key=site)
    assert resp.status == 201
    comment_id = (await resp.json())["id"]

    async def erase(key: str, body: Any) -> Any:
        return await api.client.delete("/v1/authors", json=body, headers={"Authorization": f"Bearer {key}"})

    assert (await erase(mod, {"author_email": ANI})).status == 403
    for bad in ({}, {"author_email": "not an address"}, {"author_email": 42}, {"author_email": "a\x00@b.com"}):
        resp = await erase(admin, bad)
        assert resp.status == 422, bad
        assert list((await resp.json())["error"]["fields"]) == ["author_email"]
    resp = await erase(other_admin, {"author_email": ANI})  # another site's admin erases on its own site only
    assert (await resp.json())["erased"]["comments"] == 0
    resp = await erase(admin, {"author_email": " ANI@example.com "})  # spelt as the reader typed it
    assert resp.status == 200
    assert await resp.json() == {"site_id": "kompas-test", "erased": {
        "comments": 1, "training_labels_unlinked": 0, "idempotency_records": 0}}
    seen = await api.client.get(f"/v1/comments/{comment_id}", headers={"Authorization": f"Bearer {site}"})
    assert (await seen.json())["comment"]["author_name"] == ""


def test_erasure_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "data")
    assert main(["authors", "erase", "--site", "kompas-id", "--email", "bad", "--data-dir", data]) == 2
    assert main(["authors", "erase", "--site", "kompas-id", "--email", ANI, "--data-dir", data]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"site_id": "kompas-id", "erased": {"comments": 0, "training_labels_unlinked": 0,
                                                       "idempotency_records": 0}}


# -- retention -----------------------------------------------------------------------------------------------


async def aged_comments(store: Store) -> dict[str, int]:
    day = timedelta(days=1)
    ids = {
        "old_published": await add(store, "site-a", "p1@example.com", "Lama dan terbit", at=NOW - 40 * day),
        "new_published": await add(store, "site-a", "p2@example.com", "Baru dan terbit", at=NOW - 5 * day),
        "old_rejected": await add(store, "site-a", "p3@example.com", "Lama ditolak", at=NOW - 40 * day, held=True,
                                  idem="idem-old"),
        "recently_rejected": await add(store, "site-a", "p4@example.com", "Baru ditolak", at=NOW - 40 * day,
                                       held=True),
        "old_held": await add(store, "site-a", "p5@example.com", "Lama ditahan", at=NOW - 40 * day, held=True),
        "other_site_old_rejected": await add(store, "site-b", "p6@example.com", "Situs lain", at=NOW - 40 * day,
                                             held=True),
    }
    ids["reply_to_old_rejected"] = await add(store, "site-a", "p7@example.com", "Balasan", at=NOW - 2 * day,
                                             parent=ids["old_rejected"])
    await reject(store, "site-a", ids["old_rejected"], at=NOW - 35 * day)
    await reject(store, "site-a", ids["recently_rejected"], at=NOW - 10 * day)
    await reject(store, "site-b", ids["other_site_old_rejected"], at=NOW - 35 * day)
    await store.add_report("site-a", ids["old_published"], reason="spam", note=None, reporter_hash=None,
                           now=NOW - 39 * day)
    return ids


POLICIES = PolicyBook(default=Policy(), sites={"site-b": Policy(retain_addresses_days=0, retain_rejected_days=0)})


async def test_purge_is_a_dry_run_by_default_and_removes_exactly_what_is_past_retention(store: Store) -> None:
    ids = await aged_comments(store)
    before = await snapshot(store)

    dry = await purge(store, POLICIES, NOW, apply=False, actor="cli")
    # IP/UA: every site-a comment older than 30 days (5 of them); whole comments: the one rejected 35 days ago.
    assert dry["site-a"] == {"addresses": 4, "comments": 1, "training_labels_unlinked": 1}
    assert dry["site-b"] == {"addresses": 0, "comments": 0, "training_labels_unlinked": 0}  # site-b keeps all
    assert changes(before, await snapshot(store)) == {}  # a dry run changes nothing

    applied = await purge(store, POLICIES, NOW, apply=True, actor="retention")
    assert applied == dry
    after = await snapshot(store)
    diff = changes(before, after)
    gone = str(ids["old_rejected"])
    assert diff["comments"]["removed"] == {gone}
    assert diff["comments"]["changed"] == {str(ids[k]) for k in (
        "old_published", "recently_rejected", "old_held", "reply_to_old_rejected")}
    # The audit log keeps every event, the purged comment's too.
    assert "comment_events" not in diff
    assert any(r[1] == gone for r in after["comment_events"].values())
    # Its label stays (text and label), unlinked; its reason kinds and stored answer went with it.
    assert diff["training_labels"] == {"added": set(), "removed": set(), "changed": diff["training_labels"]["changed"]}
    [label] = [after["training_labels"][k] for k in diff["training_labels"]["changed"]]
    assert "Lama ditolak" in label and "spam" in label and label[2] == "None"
    assert all(gone == k[0] for k in diff["comment_reason_kinds"]["removed"])
    assert len(diff["idempotency_keys"]["removed"]) == 1
    assert set(diff) <= {"comments", "training_labels", "comment_reason_kinds", "idempotency_keys",
                         "privacy_events"}, diff
    # What changed in the kept comments is only the addresses (and the reply's link to the removed one).
    for key in ("old_published", "recently_rejected", "old_held"):
        row = await personal(store, ids[key])
        assert row is not None and row["author_ip"] is None and row["user_agent"] is None
        assert row["author_email"].endswith("@example.com") and row["author_name"] and row["referrer"]
    reply = await personal(store, ids["reply_to_old_rejected"])
    assert reply is not None and reply["parent_id"] is None and reply["author_ip"] == "203.0.113.7"
    fresh = await personal(store, ids["new_published"])
    assert fresh is not None and fresh["author_ip"] == "203.0.113.7"
    assert await personal(store, ids["other_site_old_rejected"]) is not None
    assert await personal(store, ids["old_rejected"]) is None
    # Purging again finds nothing.
    assert (await purge(store, POLICIES, NOW, apply=True, actor="retention"))["site-a"] == {
        "addresses": 0, "comments": 0, "training_labels_unlinked": 0}


async def test_purge_removes_comments_rejected_outright_as_spam_after_retention(store: Store) -> None:
    async def spam(text: str, at: datetime) -> int:
        await store.ensure_site("site-a", at)
        sub = Submission(article_id="art-1", author_name="Promo", author_email="promo@example.net", content=text,
                         author_ip="198.51.100.9")
        verdict = Verdict(Decision.REJECT, (Evidence("spam", "Spam far above its threshold.", "model", 0.99),),
                          {"spam": 0.99}, "v1")
        comment, _, _ = await store.insert_comment(
            NewComment(site_id="site-a", submission=sub, verdict=verdict, content_hash=text, signals={}),
            now=at, flood_interval=0, idempotency=None, render=lambda c: {"id": c.id})
        assert comment.status.value == "spam"
        return comment.id

    old = await spam("slot gacor maxwin lama", NOW - timedelta(days=31))
    recent = await spam("slot gacor maxwin baru", NOW - timedelta(days=3))
    report = await purge(store, POLICIES, NOW, apply=True, actor="retention")
    assert report["site-a"]["comments"] == 1
    assert await personal(store, old) is None
    assert await personal(store, recent) is not None


def test_purge_cli_prints_the_dry_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    assert main(["keys", "create", "--role", "site", "--site", "kompas-id", "--data-dir", str(data)]) == 0
    capsys.readouterr()
    assert main(["purge", "--data-dir", str(data)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"applied": False, "sites": {"kompas-id": {
        "addresses": 0, "comments": 0, "training_labels_unlinked": 0}}}
    assert "--apply" in captured.err


async def test_the_service_applies_retention_periodically(make_api: MakeApi, settings: Any, clock: FakeClock,
                                                          ) -> None:


    api = await make_api(replace(settings, purge_interval_seconds=0.05))
    site = await api.key(Role.SITE)
    resp = await api.post_comment(valid_comment(author_ip="198.51.100.4"), key=site)
    comment_id = (await resp.json())["id"]
    clock.advance(31 * 86400)

    for _ in range(100):
        row = await personal(api.app[STORE], comment_id)
        if row is not None and row["author_ip"] is None:
            break
        await asyncio.sleep(0.02)
    assert row is not None and row["author_ip"] is None
    assert row["author_email"] == "budi.santoso@example.co.id"  # the e-mail is not on the timer
