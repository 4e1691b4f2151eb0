"""Issue 14 item 3: trusted and blocked authors, matched by the keyed hash of the e-mail (never the address)."""

from __future__ import annotations

import itertools
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from moderation.domain import Decision, Evidence, Role, Submission, Verdict
from moderation.errors import Conflict
from moderation.policy import Policy, PolicyBook, PolicyError, load_policy
from moderation.settings import Settings
from moderation.store import NewComment, Store, open_store
from moderation.store.sqlite import AUTHOR_STANDING_SQL
from moderation.workflow import AuthorStanding, outcome, trusted

from .conftest import HAM, Api, FakeClock, MakeApi

EMAIL = "budi.santoso@example.co.id"
LINKY = f"{HAM[1]} https://a.example/1 https://b.example/2 https://c.example/3"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# -- the rules, pure -------------------------------------------------------------------------------------------

SOFT_SPAM = Evidence("spam", "spam", "model:v1", score=0.7, threshold=0.5)
LINKS = Evidence("policy.links", "links", "policy", score=3, threshold=2)
TRUST2 = Policy(trust_after_approved=2)


def test_a_trusted_author_outweighs_soft_signals_only() -> None:
    regular = AuthorStanding(published=2)
    decision, reasons = outcome([SOFT_SPAM, LINKS], TRUST2, regular)
    assert decision is Decision.PUBLISH
    assert [(r.code, r.hold) for r in reasons] == [("spam", False), ("policy.links", False), ("author.trusted", False)]
    for hard in (Evidence("honeypot", "bot", "form"), Evidence("toxic", "t", "model:v1", 0.9, 0.5),
                 Evidence("campaign", "c", "campaign"), Evidence("policy.disallowed_key", "d", "policy"),
                 Evidence("policy.hold_all", "all", "policy")):
        decision, reasons = outcome([SOFT_SPAM, hard], replace(TRUST2, reject=False), regular)
        assert decision is Decision.HOLD, hard.code
        assert all(r.hold for r in reasons) and "author.trusted" not in [r.code for r in reasons]
    # Spam far above its threshold rejects before trust is considered.
    decision, _ = outcome([replace(SOFT_SPAM, score=0.99)], TRUST2, regular)
    assert decision is Decision.REJECT


def test_trust_needs_the_count_no_refusal_no_block_and_the_setting() -> None:
    assert trusted(AuthorStanding(published=2), TRUST2)
    assert not trusted(AuthorStanding(published=1), TRUST2)
    assert not trusted(AuthorStanding(published=9, refused=1), TRUST2)
    assert not trusted(AuthorStanding(published=9, blocked=True), TRUST2)
    assert not trusted(AuthorStanding(published=9), Policy())  # off by default
    assert outcome([SOFT_SPAM], TRUST2, AuthorStanding(published=1))[0] is Decision.HOLD


def test_a_block_holds_or_rejects_as_the_site_says() -> None:
    blocked = Evidence("author.blocked", "blocked", "author")
    assert outcome([blocked], Policy())[0] is Decision.HOLD
    assert outcome([blocked], Policy(blocked_authors="reject"))[0] is Decision.REJECT
    # The site's own reject switch concerns the spam rules; the block setting stands on its own.
    assert outcome([blocked], Policy(blocked_authors="reject", reject=False))[0] is Decision.REJECT


def test_policy_file_reads_and_checks_the_author_settings(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[default]\ntrust_after_approved = 3\n[sites."b"]\nblocked_authors = "reject"\n')
    book = load_policy(path)
    assert book.default.trust_after_approved == 3 and book.default.blocked_authors == "hold"
    assert book.for_site("b").blocked_authors == "reject" and book.for_site("b").trust_after_approved == 3
    for bad in ('blocked_authors = "delete"', "trust_after_approved = -1", 'trust_after_approved = "many"'):
        path.write_text(f"[default]\n{bad}\n")
        with pytest.raises(PolicyError, match=bad.split(" ")[0]):
            load_policy(path)


# -- block and unblock over the API ------------------------------------------------------------------------------


_texts = itertools.cycle(HAM[:7])
_serial = itertools.count(1)


async def post(api: Api, clock: FakeClock, key: str | None = None, **fields: Any) -> dict[str, Any]:
    clock.advance(60)  # past the flood interval
    fields.setdefault("content", f"{next(_texts)} ({next(_serial)})")  # texts the tiny model publishes
    resp = await api.post_comment(key=key, **fields)
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def test_a_blocked_authors_next_comments_are_held_until_unblocked(api: Api, clock: FakeClock) -> None:
    mod = await api.key(Role.MODERATOR)
    first = await post(api, clock)
    assert first["status"] == "published"
    url = f"/v1/comments/{first['id']}/author-block"
    resp = await api.client.put(url, json={"note": "spam berulang"}, headers=auth(mod))
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert (body["author_blocked"], body["changed"]) == (True, True) and body["event_id"] > 0
    assert EMAIL not in await resp.text()
    again = await (await api.client.put(url, headers=auth(mod))).json()
    assert (again["author_blocked"], again["changed"], again["event_id"]) == (True, False, None)

    # The same author, the address spelt differently: matched on the normalised keyed hash.
    second = await post(api, clock, author_email=EMAIL.upper())
    assert second["status"] == "held"
    assert "author.blocked" in [r["code"] for r in second["reasons"]]
    other = await post(api, clock, author_email="ani@example.com")
    assert other["status"] == "published"
    # The already published comment stays up: a block is about what comes next.
    got = await (await api.client.get(f"/v1/comments/{first['id']}", headers=auth(await api.key()))).json()
    assert got["status"] == "published"

    [item] = (await (await api.client.get("/v1/queue", headers=auth(mod))).json())["items"]
    assert item["id"] == second["id"]
    assert item["author_history"] == {"published": 1, "held": 1, "rejected": 0, "removed": 0, "spam": 0,
                                      "blocked": True}
    audit = await (await api.client.get("/v1/audit", params={"comment_id": str(first["id"])},
                                        headers=auth(mod))).json()
    [block_event] = [e for e in audit["items"] if e["action"] == "author_block"]
    assert block_event["note"] == "spam berulang" and block_event["actor"].startswith("key:")
    assert block_event["from_status"] == block_event["to_status"] == "published"

    # Unblocked from another of the author's comments: the block belongs to the author, not the comment.
    resp = await api.client.delete(f"/v1/comments/{second['id']}/author-block", headers=auth(mod))
    assert (await resp.json())["changed"] is True and (await resp.json())["author_blocked"] is False
    third = await post(api, clock)
    assert third["status"] == "published"
    audit = await (await api.client.get("/v1/audit", params={"comment_id": str(second["id"])},
                                        headers=auth(mod))).json()
    assert "author_unblock" in [e["action"] for e in audit["items"]]
    resp = await api.client.delete(f"/v1/comments/{second['id']}/author-block", headers=auth(mod))
    assert (await resp.json())["changed"] is False


async def test_blocked_authors_reject_sends_them_to_spam(make_api: MakeApi, settings: Settings,
                                                         clock: FakeClock) -> None:
    book = PolicyBook(default=replace(settings.policy.default, blocked_authors="reject"))
    api = await make_api(replace(settings, policy=book))
    admin = await api.key(Role.ADMIN)  # an admin of the site may block too
    first = await post(api, clock)
    resp = await api.client.put(f"/v1/comments/{first['id']}/author-block", headers=auth(admin))
    assert resp.status == 200
    second = await post(api, clock)
    assert second["status"] == "spam"
    [reason] = [r for r in second["reasons"] if r["code"] == "author.blocked"]
    assert reason.get("reject") is True


async def test_author_block_refusals(api: Api, clock: FakeClock) -> None:
    site, mod = await api.key(), await api.key(Role.MODERATOR)
    other_mod = await api.key(Role.MODERATOR, site="tempo-test")
    first = await post(api, clock)
    url = f"/v1/comments/{first['id']}/author-block"
    assert (await api.client.put(url, headers=auth(site))).status == 403  # the site's own key may not
    assert (await api.client.put(url, headers=auth(other_mod))).status == 404  # another site's comment
    assert (await api.client.put("/v1/comments/999999/author-block", headers=auth(mod))).status == 404
    assert (await api.client.put("/v1/comments/abc/author-block", headers=auth(mod))).status == 404
    resp = await api.client.put(url, json={"note": "x" * 5000}, headers=auth(mod))
    assert resp.status == 422 and "note" in (await resp.json())["error"]["fields"]
    resp = await api.client.put(url, data=b"{not json", headers={**auth(mod), "Content-Type": "application/json"})
    assert resp.status == 400
    assert (await api.client.put(url, headers={"Authorization": "Bearer nope"})).status == 401
    # Nothing was stored by the refusals: the author is not blocked.
    assert (await post(api, clock))["status"] == "published"


# -- trusted authors over the API ---------------------------------------------------------------------------------


async def test_a_trusted_author_is_published_past_soft_holds_but_not_past_hard_ones(
        make_api: MakeApi, settings: Settings, clock: FakeClock) -> None:
    book = PolicyBook(default=replace(settings.policy.default, trust_after_approved=2))
    api = await make_api(replace(settings, policy=book))
    mod = await api.key(Role.MODERATOR)
    assert (await post(api, clock, content=LINKY))["status"] == "held"  # no history yet: held for the links
    assert (await post(api, clock))["status"] == "published"
    assert (await post(api, clock, content=LINKY + " Juga."))["status"] == "held"  # one published is not enough
    assert (await post(api, clock))["status"] == "published"
    now_trusted = await post(api, clock, content=LINKY + " Lagi.")
    assert now_trusted["status"] == "published"
    assert [(r["code"], r.get("hold", True)) for r in now_trusted["reasons"]] == [
        ("policy.links", False), ("author.trusted", False)]
    # A hard signal still holds a trusted author.
    assert (await post(api, clock, honeypot="http://bot.example"))["status"] == "held"
    # A moderator's rejection of any of the author's comments ends the trust.
    [held, *_] = (await (await api.client.get("/v1/queue", headers=auth(mod))).json())["items"]
    resp = await api.client.post(f"/v1/comments/{held['id']}/decision",
                                 json={"action": "reject", "label": "spam", "revision": held["revision"]},
                                 headers=auth(mod))
    assert resp.status == 200, await resp.text()
    assert (await post(api, clock, content=LINKY + " Sekali lagi."))["status"] == "held"


async def test_trust_is_off_by_default(api: Api, clock: FakeClock) -> None:
    for _ in range(3):
        assert (await post(api, clock))["status"] == "published"
    assert (await post(api, clock, content=LINKY))["status"] == "held"


# -- both backends ------------------------------------------------------------------------------------------------

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)




async def insert(store: Store, n: int, email_hash: str | None, decision: Decision = Decision.PUBLISH,
                 site: str = "site-a") -> int:
    sub = Submission(article_id="a", author_name="Ani", author_email="ani@example.com", content=f"teks {n}")
    new = NewComment(site_id=site, submission=sub, verdict=Verdict(decision, ()), content_hash=f"h{n}",
                     signals={}, email_hash=email_hash)
    comment, _, _ = await store.insert_comment(new, now=NOW + timedelta(minutes=n), flood_interval=0,
                                               idempotency=None, render=lambda c: {"id": c.id})
    return comment.id


async def test_store_standing_and_blocks_are_per_site_and_per_hash(store: Store) -> None:
    for site in ("site-a", "site-b"):
        await store.ensure_site(site, NOW)
    first = await insert(store, 1, "hash-ani")
    await insert(store, 2, "hash-ani", Decision.HOLD)
    await insert(store, 3, "hash-ani", Decision.REJECT)
    await insert(store, 4, "hash-ani", site="site-b")
    assert await store.author_standing("site-a", "hash-ani") == AuthorStanding(published=1, refused=1)
    done = await store.set_author_block("site-a", first, block=True, actor="key:1", note=None, now=NOW)
    assert done.changed and done.blocked and done.event_id
    assert (await store.author_standing("site-a", "hash-ani")).blocked
    # Without counts (a site with no trust rule): the block alone.
    assert await store.author_standing("site-a", "hash-ani", counts=False) == AuthorStanding(blocked=True)
    assert await store.author_standing("site-b", "hash-ani", counts=False) == AuthorStanding()
    assert not (await store.author_standing("site-b", "hash-ani")).blocked
    assert not (await store.author_standing("site-a", "hash-budi")).blocked
    with pytest.raises(Exception, match="No such comment"):
        await store.set_author_block("site-b", first, block=True, actor="key:1", note=None, now=NOW)
    undone = await store.set_author_block("site-a", first, block=False, actor="key:1", note="salah", now=NOW)
    assert undone.changed and not undone.blocked
    assert not (await store.author_standing("site-a", "hash-ani")).blocked
    events = await store.list_events("site-a", before_id=None, limit=10, comment_id=first)
    assert [e.action for e in events][:2] == ["author_unblock", "author_block"]


async def test_store_refuses_to_block_an_erased_author(store: Store) -> None:
    await store.ensure_site("site-a", NOW)
    erased = await insert(store, 1, None)
    with pytest.raises(Conflict):
        await store.set_author_block("site-a", erased, block=True, actor="key:1", note=None, now=NOW)


async def test_the_author_standing_read_uses_the_authors_own_rows_on_sqlite(tmp_path: Path) -> None:
    # Read on every submission: a plan over every comment of the site made each submission slower as the
    # site grew (the index the planner preferred serves the GROUP BY, not the author).
    backend = open_store(f"sqlite:///{tmp_path / 'plan.sqlite3'}")
    await backend.migrate()
    await backend.close()
    with sqlite3.connect(tmp_path / "plan.sqlite3") as conn:
        plan = " ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + AUTHOR_STANDING_SQL, ("s", "h")))
    assert "comments_by_email_hash (site_id=? AND author_email_hash=?)" in plan, plan
