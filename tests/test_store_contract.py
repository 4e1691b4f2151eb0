"""One contract suite for every storage backend: SQLite (always) and PostgreSQL (127.0.0.1:5432/test).

PostgreSQL tests skip when no server answers, unless MODERATION_REQUIRE_POSTGRES=1 (as in CI).
Each PostgreSQL test gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from moderation.domain import Comment, Decision, Evidence, Role, Status, Submission, Verdict
from moderation.errors import DuplicateComment, IdempotencyConflict, NotFound, StaleRevision, TooManyRequests
from moderation.appkeys import STORE
from moderation.policy import Policy, PolicyBook
from moderation.settings import Secret, Settings
from moderation.store import (
    STATUS_CHANGED,
    ModeratorAction,
    ModeratorDecision,
    NewComment,
    OutboxItem,
    QueueOrder,
    QueueQuery,
    Store,
    TrainingLabel,
    open_store,
)
from moderation.store.postgres import PostgresStore
from moderation.store.sqlite import SQLiteStore
from moderation.webhook_targets import TargetPolicy, parse_networks
from moderation.webhooks import SIGNATURE_HEADER, verify

from .conftest import FakeClock, MakeApi
from .postgres import PG_URL, pg_schema

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=timezone.utc)
LATER = NOW + timedelta(hours=1)
HOOK_URL = "https://site-a.example/hooks/moderation"




@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """PostgreSQL only: a schema URL that several stores (replicas) can open at once."""
    async with pg_schema() as url:
        yield url


def new_comment(*, content: str = "Berita yang bagus.", email: str = "a@example.com", ip: str | None = None,
                article: str = "art-1", decision: Decision = Decision.PUBLISH, version: str = "v1",
                reasons: tuple[Evidence, ...] | None = None, scores: dict[str, float] | None = None,
                site: str = "site-a") -> NewComment:
    sub = Submission(article_id=article, author_name="Ani", author_email=email, content=content, author_ip=ip)
    if reasons is None:
        reasons = () if decision is Decision.PUBLISH else (Evidence("spam", "spam", "model:v1", 0.9, 0.5),)
    verdict = Verdict(decision, reasons, scores if scores is not None else {"spam": 0.1, "toxic": 0.2}, version)
    # A stand-in for the keyed hash the service computes (the queue's author history groups by it).
    return NewComment(site_id=site, submission=sub, verdict=verdict, content_hash=content, signals={"links": 0},
                      email_hash=f"h:{email.lower()}", ip_hash=f"h:{ip}" if ip else None)


def render(comment: Any) -> dict[str, Any]:
    return {"id": comment.id, "status": comment.status.value}


async def insert(store: Store, new: NewComment, *, at: datetime = NOW, flood: float = 15.0,
                 idem: tuple[str, str] | None = None) -> Any:
    return await store.insert_comment(new, now=at, flood_interval=flood, idempotency=idem, render=render)


async def test_keys_round_trip(store: Store) -> None:
    key = await store.create_api_key(site_id="site-a", role=Role.MODERATOR, key_hash="h1", prefix="mod_mod_x", now=NOW)
    found = await store.find_api_key("h1")
    assert found is not None and found.id == key.id and found.role is Role.MODERATOR and found.site_id == "site-a"
    assert await store.find_api_key("other") is None


async def test_operator_keys_round_trip_apart_from_site_keys(store: Store) -> None:
    site_key = await store.create_api_key(site_id="site-a", role=Role.ADMIN, key_hash="h1", prefix="mod_adm_x", now=NOW)
    operator = await store.create_api_key(site_id="", role=Role.OPERATOR, key_hash="h2", prefix="mod_op_x", now=NOW)
    found = await store.find_api_key("h2")
    assert found is not None and found.role is Role.OPERATOR and found.site_id == "" and found.id == operator.id
    assert found.created_at == NOW and found.revoked_at is None
    admin = await store.find_api_key("h1")
    assert admin is not None and admin.role is Role.ADMIN and admin.id == site_key.id


async def test_insert_and_read_back(store: Store) -> None:
    await store.ensure_site("site-a", NOW)
    comment, body, replayed = await insert(store, new_comment(decision=Decision.HOLD))
    assert not replayed and body == {"id": comment.id, "status": "held"}
    again = await store.get_comment("site-a", comment.id)
    assert again is not None
    assert again.reasons[0].code == "spam" and again.scores == {"spam": 0.1, "toxic": 0.2}
    assert again.created_at == NOW and again.revision == 1 and again.model_version == "v1"
    assert await store.get_comment("site-b", comment.id) is None
    assert await store.parent_exists("site-a", "art-1", comment.id)
    assert not await store.parent_exists("site-a", "art-2", comment.id)


async def test_latest_author_comment_on_an_article(store: Store) -> None:
    # Coral's EDIT names no comment: the author's newest comment on the story is the one edited.
    await store.ensure_site("site-a", NOW)
    await store.ensure_site("site-b", NOW)

    def by(email_hash: str, **kw: Any) -> NewComment:
        return replace(new_comment(**kw), email_hash=email_hash)

    first, _, _ = await insert(store, by("hash-1", content="satu"))
    second, _, _ = await insert(store, by("hash-1", content="dua"), at=NOW + timedelta(minutes=1))
    await insert(store, by("hash-1", content="tiga", article="art-2"), at=NOW + timedelta(minutes=2))
    await insert(store, by("hash-2", content="empat"), at=NOW + timedelta(minutes=3))
    await insert(store, by("hash-1", content="lima", site="site-b"), at=NOW + timedelta(minutes=4))
    assert first.id < second.id
    assert await store.latest_author_comment("site-a", "art-1", "hash-1") == second.id
    assert await store.latest_author_comment("site-a", "art-3", "hash-1") is None
    assert await store.latest_author_comment("site-a", "art-1", "hash-9") is None


async def test_duplicate_then_flood(store: Store) -> None:
    await store.ensure_site("site-a", NOW)
    first, _, _ = await insert(store, new_comment(ip="203.0.113.1"))
    with pytest.raises(DuplicateComment) as dup:
        await insert(store, new_comment(ip="203.0.113.1"), at=NOW + timedelta(hours=1))
    assert dup.value.public["existing_id"] == first.id
    with pytest.raises(TooManyRequests) as flood:
        await insert(store, new_comment(content="lain", email="b@example.com", ip="203.0.113.1"),
                     at=NOW + timedelta(seconds=5))
    assert flood.value.retry_after == 10
    await insert(store, new_comment(content="lain", email="b@example.com"), at=NOW + timedelta(seconds=5))


async def test_idempotency(store: Store) -> None:
    await store.ensure_site("site-a", NOW)
    first = await insert(store, new_comment(), idem=("k1", "hash-1"))
    replay = await insert(store, new_comment(), idem=("k1", "hash-1"), at=NOW + timedelta(seconds=1))
    assert replay[2] is True and replay[0].id == first[0].id and replay[1] == first[1]
    with pytest.raises(IdempotencyConflict):
        await insert(store, new_comment(content="x"), idem=("k1", "hash-2"))
    found = await store.find_idempotent("site-a", "k1")
    assert found is not None and found.comment_id == first[0].id and found.body == first[1]


async def test_concurrent_duplicates_store_one(store: Store) -> None:
    await store.ensure_site("site-a", NOW)
    results = await asyncio.gather(*(insert(store, new_comment()) for _ in range(8)), return_exceptions=True)
    stored = [r for r in results if not isinstance(r, BaseException)]
    assert len(stored) == 1
    assert all(isinstance(r, DuplicateComment) for r in results if isinstance(r, BaseException))


async def test_training_labels_and_stats(store: Store) -> None:
    await store.ensure_site("site-a", NOW)
    held, _, _ = await insert(store, new_comment(decision=Decision.HOLD, version="v2"))
    await store.add_training_label(
        TrainingLabel(site_id="site-a", text="teks", label="ham", source="moderator", comment_id=held.id,
                      model_version="v2", scores={"spam": 0.9}), NOW)
    labels = await store.list_training_labels()
    assert [(r["text"], r["label"], r["scores"]) for r in labels] == [("teks", "ham", {"spam": 0.9})]
    assert "email" not in str(labels)
    stats = await store.model_stats("site-a")
    assert stats[0]["model_version"] == "v2" and stats[0]["auto_held"] == 1 and stats[0]["comments"] == 1


# -- the moderator workflow ------------------------------------------------------------------------------

SPAM_REASON = Evidence("spam", "Looks like spam.", "model:v1", 0.9, 0.5)
TOXIC_REASON = Evidence("toxic", "Looks toxic.", "model:v1", 0.8, 0.5)
LINKS_REASON = Evidence("policy.links", "Too many links.", "policy")
DOWN_REASON = Evidence("classifier_unavailable", "The classifier did not answer.", "pipeline")


async def hold(store: Store, n: int, *, reasons: tuple[Evidence, ...] = (SPAM_REASON,),
               scores: dict[str, float] | None = None, article: str = "art-1", email: str | None = None,
               site: str = "site-a") -> Comment:
    """A held comment, the n-th of the test (n minutes after NOW, its own text and address)."""
    new = new_comment(content=f"Komentar nomor {n}", email=email or f"p{n}@example.com", article=article,
                      decision=Decision.HOLD, reasons=reasons, scores=scores, site=site)
    comment, _, _ = await insert(store, new, at=NOW + timedelta(minutes=n), flood=0)
    return comment


async def publish(store: Store, n: int, *, email: str | None = None, site: str = "site-a") -> Comment:
    new = new_comment(content=f"Komentar terbit {n}", email=email or f"q{n}@example.com", reasons=(), site=site)
    comment, _, _ = await insert(store, new, at=NOW + timedelta(minutes=n), flood=0)
    return comment


def decision(comment: Comment, action: str = "approve", label: str | None = None, *, revision: int | None = None,
             note: str | None = None) -> ModeratorDecision:
    act = ModeratorAction(action)
    return ModeratorDecision(
        comment_id=comment.id, action=act, label=label or ("ham" if act is ModeratorAction.APPROVE else "spam"),
        revision=comment.revision if revision is None else revision, note=note,
    )


def ids(page: Any) -> list[int]:
    return [item.comment.id for item in page.items]


async def raw_execute(store: Store, sqlite_sql: str, postgres_sql: str) -> None:
    """Run SQL beside the store (a second connection), e.g. to make one of its statements fail."""
    if isinstance(store, SQLiteStore):
        conn = sqlite3.connect(store.path)
        try:
            conn.executescript(sqlite_sql)
        finally:
            conn.close()
        return
    import asyncpg

    assert isinstance(store, PostgresStore)
    pg = await asyncpg.connect(store.url, server_settings={"search_path": store.schema or "public"})
    try:
        await pg.execute(postgres_sql)
    finally:
        await pg.close()


async def test_queue_lists_held_comments_with_their_evidence(store: Store) -> None:
    await store.ensure_site("site-a", NOW)
    await publish(store, 0, email="same@example.com")
    held = await hold(store, 1, email="same@example.com", reasons=(LINKS_REASON, SPAM_REASON),
                      scores={"spam": 0.7, "toxic": 0.3})
    page = await store.list_queue("site-a", QueueQuery())
    assert ids(page) == [held.id] and not page.has_more
    item = page.items[0]
    assert item.comment == held
    assert item.risk == 0.7 and item.reason_kinds == ("policy", "spam")
    assert item.signals == {"links": 0} and item.open_reports == 0 and item.report_reasons == {}
    assert item.history.to_json() == {"published": 1, "held": 1, "rejected": 0, "removed": 0, "spam": 0,
                                      "blocked": False}
    assert (await store.list_queue("site-b", QueueQuery())).items == []


async def test_queue_filters_and_risk_order(store: Store) -> None:
    await store.ensure_site("site-a", NOW)
    links = await hold(store, 1, reasons=(LINKS_REASON,), scores={"spam": 0.2, "toxic": 0.1})
    spam = await hold(store, 2, reasons=(SPAM_REASON,), scores={"spam": 0.95, "toxic": 0.1}, article="art-2")
    toxic = await hold(store, 3, reasons=(TOXIC_REASON,), scores={"spam": 0.1, "toxic": 0.8})
    down = await hold(store, 4, reasons=(DOWN_REASON,), scores={})
    published = await publish(store, 5)
    assert ids(await store.list_queue("site-a", QueueQuery())) == [links.id, spam.id, toxic.id, down.id]
    for reason, expected in (("policy", links), ("spam", spam), ("toxic", toxic), ("other", down)):
        assert ids(await store.list_queue("site-a", QueueQuery(reason=reason))) == [expected.id], reason
    assert ids(await store.list_queue("site-a", QueueQuery(article_id="art-2"))) == [spam.id]
    assert ids(await store.list_queue("site-a", QueueQuery(article_id="none"))) == []
    risky = await store.list_queue("site-a", QueueQuery(order=QueueOrder.RISK))
    assert ids(risky) == [spam.id, toxic.id, links.id, down.id]
    assert [item.risk for item in risky.items] == [0.95, 0.8, 0.2, 0.0]
    assert ids(await store.list_queue("site-a", QueueQuery(statuses=(Status.PUBLISHED,)))) == [published.id]
    assert ids(await store.list_queue("site-a", QueueQuery(reason="reported"))) == []


@pytest.mark.parametrize("order", list(QueueOrder))
async def test_queue_cursor_visits_every_comment_once_in_order(store: Store, order: QueueOrder) -> None:
    await store.ensure_site("site-a", NOW)
    risks = [0.5, 0.9, 0.5, 0.5, 0.1, 0.9, 0.3]  # ties: the cursor must carry the id too
    made = [await hold(store, n, scores={"spam": r}) for n, r in enumerate(risks)]
    expected = sorted(made, key=lambda c: (-c.scores["spam"], c.id)) if order is QueueOrder.RISK else made
    seen: list[int] = []
    after: tuple[float, int] | None = None
    pages = 0
    while True:
        page = await store.list_queue("site-a", QueueQuery(order=order, limit=2, after=after))
        seen += ids(page)
        pages += 1
        if not page.has_more:
            break
        after = (page.items[-1].risk, page.items[-1].comment.id)
    assert seen == [c.id for c in expected]
    assert pages == 4


async def test_queue_counts(store: Store) -> None:
    await store.ensure_site("site-a", NOW)
    zero = await store.queue_counts("site-a")
    assert zero == {"held": 0, "spam": 0, "reported": 0,
                    "by_status": {"published": 0, "held": 0, "rejected": 0, "removed": 0, "spam": 0},
                    "held_by_reason": {"spam": 0, "toxic": 0, "policy": 0, "other": 0}}
    await hold(store, 1, reasons=(LINKS_REASON,))
    spam = await hold(store, 2, reasons=(LINKS_REASON, SPAM_REASON))
    published = await publish(store, 3)
    await store.add_report("site-a", published.id, reason="spam", note=None, reporter_hash=None, now=LATER)
    await store.decide("site-a", decision(spam, "reject", "spam"), actor="key:1", now=LATER)
    assert await store.queue_counts("site-a") == {
        "held": 1, "spam": 0, "reported": 1,
        "by_status": {"published": 1, "held": 1, "rejected": 1, "removed": 0, "spam": 0},
        "held_by_reason": {"spam": 0, "toxic": 0, "policy": 1, "other": 0},
    }
    assert await store.queue_counts("site-b") == zero


async def test_decisions_approve_reject_remove(store: Store) -> None:
    await store.ensure_site("site-a", NOW)
    a = await hold(store, 1)
    b = await hold(store, 2)
    approved = await store.decide("site-a", decision(a, note="bukan spam"), actor="key:7", now=LATER)
    assert approved.comment.status is Status.PUBLISHED and approved.previous_status is Status.HELD
    assert approved.comment.revision == 2 and approved.comment.updated_at == LATER
    assert approved.comment.created_at == a.created_at and approved.comment.content == a.content
    assert approved.webhook_queued is False and approved.reports_closed == 0 and approved.event_id > 0
    rejected = await store.decide("site-a", decision(b, "reject", "spam"), actor="key:7", now=LATER)
    assert rejected.comment.status is Status.REJECTED and rejected.comment.revision == 2
    removed = await store.decide("site-a", decision(approved.comment, "remove", "toxic"), actor="key:8",
                                 now=LATER + timedelta(minutes=1))
    assert removed.comment.status is Status.REMOVED and removed.previous_status is Status.PUBLISHED
    assert removed.comment.revision == 3
    assert await store.get_comment("site-a", a.id) == removed.comment

    labels = await store.list_training_labels()
    assert [(r["comment_id"], r["label"], r["source"], r["text"]) for r in labels] == [
        (a.id, "ham", "moderator", a.content), (b.id, "spam", "moderator", b.content),
        (a.id, "toxic", "moderator", a.content),
    ]
    assert labels[0]["scores"] == a.scores and labels[0]["model_version"] == "v1"
    assert labels[0]["decided_at"] == "2026-11-25T09:00:00.000000Z"

    events = await store.list_events("site-a", before_id=None, limit=10, comment_id=a.id)
    assert [(e.action, e.from_status, e.to_status, e.label, e.actor) for e in events] == [
        ("remove", "published", "removed", "toxic", "key:8"),
        ("approve", "held", "published", "ham", "key:7"),
        ("submitted", None, "held", None, "system"),
    ]
    assert events[1].id == approved.event_id and events[1].note == "bukan spam" and events[1].at == LATER
    stats = await store.model_stats("site-a")
    assert stats[0]["held_then_rejected"] == 1 and stats[0]["auto_held"] == 2


async def test_stale_revision_and_not_awaiting_are_refused(store: Store) -> None:
    await store.ensure_site("site-a", NOW)
    a = await hold(store, 1)
    with pytest.raises(StaleRevision) as stale:
        await store.decide("site-a", decision(a, revision=2), actor="key:1", now=LATER)
    assert stale.value.public == {"current_revision": 1, "status": "held"}
    await store.decide("site-a", decision(a), actor="key:1", now=LATER)
    with pytest.raises(StaleRevision):  # the revision the moderator saw is gone
        await store.decide("site-a", decision(a, "reject"), actor="key:2", now=LATER)
    with pytest.raises(StaleRevision) as not_awaiting:  # published, nobody reported it
        await store.decide("site-a", decision(a, revision=2), actor="key:2", now=LATER)
    assert not_awaiting.value.public == {"current_revision": 2, "status": "published"}
    published = await publish(store, 2)
    with pytest.raises(StaleRevision):
        await store.decide("site-a", decision(published, "reject"), actor="key:2", now=LATER)
    with pytest.raises(NotFound):
        await store.decide("site-b", decision(a, revision=2), actor="key:2", now=LATER)
    with pytest.raises(NotFound):
        await store.decide("site-a", ModeratorDecision(a.id + 1000, ModeratorAction.APPROVE, "ham", 1),
                           actor="key:2", now=LATER)
    current = await store.get_comment("site-a", a.id)
    assert current is not None and current.revision == 2 and current.status is Status.PUBLISHED
    assert len(await store.list_events("site-a", before_id=None, limit=10, comment_id=a.id)) == 2
    assert len(await store.list_training_labels()) == 1


async def test_decision_is_one_transaction(store: Store) -> None:
    """Status, revision, closed reports, event, label, outbox: if the last write fails, none remains."""
    await store.set_webhook("site-a", HOOK_URL, "whsec_test", NOW)
    a = await hold(store, 1)
    await store.add_report("site-a", a.id, reason="spam", note=None, reporter_hash="r1", now=NOW)
    await raw_execute(
        store,
        "CREATE TRIGGER fail_outbox BEFORE INSERT ON webhook_outbox BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
        "CREATE FUNCTION fail_outbox() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; "
        "END $$; CREATE TRIGGER fail_outbox BEFORE INSERT ON webhook_outbox FOR EACH ROW "
        "EXECUTE FUNCTION fail_outbox();",
    )
    with pytest.raises(Exception, match="disk full"):
        await store.decide("site-a", decision(a), actor="key:1", now=LATER)
    assert await store.get_comment("site-a", a.id) == a
    [item] = (await store.list_queue("site-a", QueueQuery())).items
    assert item.open_reports == 1 and item.report_reasons == {"spam": 1}
    events = await store.list_events("site-a", before_id=None, limit=10)
    assert [e.action for e in events] == ["report", "submitted"]
    assert await store.list_training_labels() == []
    assert await store.webhook_backlog("site-a") == {"pending": 0, "failed": 0, "delivered": 0}

    await raw_execute(store, "DROP TRIGGER fail_outbox;", "DROP TRIGGER fail_outbox ON webhook_outbox;")
    outcome = await store.decide("site-a", decision(a), actor="key:1", now=LATER)
    assert outcome.webhook_queued and outcome.reports_closed == 1 and outcome.comment.revision == 2
    assert await store.webhook_backlog("site-a") == {"pending": 1, "failed": 0, "delivered": 0}


async def test_bulk_decisions_each_stand_alone(store: Store) -> None:
    """Many decisions at once (as /v1/decisions sends them): each commits or fails on its own."""
    await store.set_webhook("site-a", HOOK_URL, "whsec_test", NOW)
    made = [await hold(store, n) for n in range(6)]
    wanted = [decision(c, "reject" if c.id % 2 else "approve", revision=1) for c in made]
    wanted[3] = decision(made[3], revision=9)  # stale
    results = await asyncio.gather(
        *(store.decide("site-a", d, actor="key:1", now=LATER) for d in wanted), return_exceptions=True
    )
    assert isinstance(results[3], StaleRevision)
    for n, result in enumerate(results):
        if n == 3:
            continue
        assert not isinstance(result, BaseException), result
        assert result.comment.revision == 2 and result.webhook_queued
    assert await store.webhook_backlog("site-a") == {"pending": 5, "failed": 0, "delivered": 0}
    assert ids(await store.list_queue("site-a", QueueQuery())) == [made[3].id]
    assert len(await store.list_training_labels()) == 5


async def test_reports_stay_up_until_a_moderator_acts(store: Store) -> None:
    await store.ensure_site("site-a", NOW)
    published = await publish(store, 1)
    first = await store.add_report("site-a", published.id, reason="spam", note="iklan", reporter_hash="r1", now=NOW)
    assert not first.duplicate and first.open_reports == 1 and first.comment == published
    again = await store.add_report("site-a", published.id, reason="toxic", note=None, reporter_hash="r1", now=NOW)
    assert again.duplicate and again.report_id == first.report_id and again.open_reports == 1
    anonymous = await store.add_report("site-a", published.id, reason="toxic", note=None, reporter_hash=None,
                                       now=NOW)
    assert not anonymous.duplicate and anonymous.open_reports == 2 and anonymous.report_id > first.report_id

    reported = QueueQuery(statuses=(Status.PUBLISHED, Status.HELD), reason="reported")
    [item] = (await store.list_queue("site-a", reported)).items
    assert item.comment.id == published.id and item.open_reports == 2
    assert item.report_reasons == {"spam": 1, "toxic": 1}
    assert (await store.list_queue("site-a", QueueQuery())).items == []  # the held queue

    kept = await store.decide("site-a", decision(published), actor="key:1", now=LATER)
    assert kept.comment.status is Status.PUBLISHED and kept.reports_closed == 2 and kept.comment.revision == 2
    assert not kept.webhook_queued
    assert (await store.list_queue("site-a", reported)).items == []

    second = await store.add_report("site-a", published.id, reason="toxic", note=None, reporter_hash="r2",
                                    now=LATER)
    assert second.open_reports == 1
    taken_down = await store.decide("site-a", decision(kept.comment, "reject", "toxic"), actor="key:1", now=LATER)
    assert taken_down.comment.status is Status.REMOVED and taken_down.reports_closed == 1
    late = await store.add_report("site-a", published.id, reason="spam", note=None, reporter_hash="r3", now=LATER)
    assert not late.duplicate and late.open_reports == 0 and late.comment.status is Status.REMOVED
    assert (await store.queue_counts("site-a"))["reported"] == 0

    events = await store.list_events("site-a", before_id=None, limit=20, comment_id=published.id)
    assert [(e.action, e.label, e.to_status) for e in events] == [
        ("report", "spam", "removed"), ("reject", "toxic", "removed"), ("report", "toxic", "published"),
        ("approve", "ham", "published"), ("report", "toxic", "published"), ("report", "spam", "published"),
        ("submitted", None, "published"),
    ]
    assert all(e.actor == "reader" for e in events if e.action == "report")
    with pytest.raises(NotFound):
        await store.add_report("site-b", published.id, reason="spam", note=None, reporter_hash=None, now=LATER)


async def test_audit_events_newest_first_with_a_cursor(store: Store) -> None:
    await store.ensure_site("site-a", NOW)
    a = await hold(store, 1)
    b = await hold(store, 2)
    await store.decide("site-a", decision(a), actor="key:3", now=LATER)
    events = await store.list_events("site-a", before_id=None, limit=10)
    assert [(e.comment_id, e.action) for e in events] == [(a.id, "approve"), (b.id, "submitted"), (a.id, "submitted")]
    submitted = events[2]
    assert submitted.actor == "system" and submitted.from_status is None and submitted.to_status == "held"
    assert submitted.reasons == [SPAM_REASON.to_json()] and submitted.model_version == "v1"
    assert submitted.at == a.created_at and submitted.label is None
    assert events[0].reasons is None and events[0].model_version == "v1"
    json.dumps([e.to_json() for e in events])
    first = await store.list_events("site-a", before_id=None, limit=2)
    rest = await store.list_events("site-a", before_id=first[-1].id, limit=2)
    assert first + rest == events
    assert await store.list_events("site-a", before_id=events[-1].id, limit=2) == []
    assert await store.list_events("site-b", before_id=None, limit=10) == []


async def test_webhook_outbox_attempts_backoff_and_deliveries(store: Store) -> None:
    await store.ensure_site("site-a", NOW)
    assert await store.get_webhook("site-a") is None
    quiet = await hold(store, 0)
    assert not (await store.decide("site-a", decision(quiet), actor="key:1", now=NOW)).webhook_queued
    await store.set_webhook("site-a", HOOK_URL, "whsec_test", NOW)
    target = await store.get_webhook("site-a")
    assert target is not None and (target.url, target.secret) == (HOOK_URL, "whsec_test")
    assert "whsec_test" not in repr(target)
    b = await hold(store, 1)
    c = await hold(store, 2)
    approved = await store.decide("site-a", decision(b), actor="key:1", now=LATER)
    await store.decide("site-a", decision(c, "reject", "spam"), actor="key:1", now=LATER)
    await store.decide("site-a", decision(approved.comment, "remove", "toxic"), actor="key:1", now=LATER)

    [item] = await store.due_webhooks(LATER, 10)  # the oldest event of the site only
    assert item.comment_id == b.id and item.attempts == 0 and item.created_at == LATER and item.target == target
    assert json.loads(item.payload) == {
        "event": STATUS_CHANGED, "event_id": approved.event_id, "site_id": "site-a", "comment_id": b.id,
        "article_id": "art-1", "status": "published", "previous_status": "held", "label": "ham", "revision": 2,
        "decided_at": LATER.isoformat(),
    }
    assert "@" not in item.payload  # never the e-mail
    assert await store.due_webhooks(LATER - timedelta(seconds=1), 10) == []

    retry_at = LATER + timedelta(seconds=30)
    await store.record_webhook_attempt(item, at=LATER, status_code=503, error="HTTP 503: maintenance",
                                       duration_ms=12.5, delivered=False, next_attempt_at=retry_at)
    assert await store.due_webhooks(retry_at - timedelta(seconds=1), 10) == []  # backing off, and blocking c
    [again] = await store.due_webhooks(retry_at, 10)
    assert again.id == item.id and again.attempts == 1 and again.payload == item.payload
    await store.record_webhook_attempt(again, at=retry_at, status_code=204, error=None, duration_ms=3.0,
                                       delivered=True, next_attempt_at=None)
    [second] = await store.due_webhooks(retry_at, 10)
    assert second.comment_id == c.id and json.loads(second.payload)["status"] == "rejected"
    await store.record_webhook_attempt(second, at=retry_at, status_code=None, error="ClientConnectorError",
                                       duration_ms=1.0, delivered=False, next_attempt_at=None)  # gave up
    [third] = await store.due_webhooks(retry_at, 10)
    assert third.comment_id == b.id and json.loads(third.payload)["previous_status"] == "published"
    await store.record_webhook_attempt(third, at=retry_at, status_code=200, error=None, duration_ms=2.0,
                                       delivered=True, next_attempt_at=None)
    assert await store.due_webhooks(retry_at + timedelta(hours=1), 10) == []
    assert await store.webhook_backlog("site-a") == {"pending": 0, "failed": 1, "delivered": 2}

    log = await store.list_webhook_deliveries("site-a", before_id=None, limit=10)
    assert [(d.outbox_id, d.attempt, d.status_code, d.state) for d in log] == [
        (third.id, 1, 200, "delivered"), (second.id, 1, None, "failed"), (item.id, 2, 204, "delivered"),
        (item.id, 1, 503, "delivered"),
    ]
    oldest = log[-1]
    assert (oldest.comment_id, oldest.event, oldest.url, oldest.at) == (b.id, STATUS_CHANGED, HOOK_URL, LATER)
    assert oldest.error == "HTTP 503: maintenance" and oldest.duration_ms == 12.5
    assert await store.list_webhook_deliveries("site-a", before_id=log[1].id, limit=2) == log[2:]
    json.dumps([d.to_json() for d in log])

    # An admin redelivers what the dispatcher gave up on.
    later = retry_at + timedelta(hours=1)
    assert await store.retry_failed_webhooks("site-b", later) == 0
    assert await store.retry_failed_webhooks("site-a", later) == 1
    assert await store.webhook_backlog("site-a") == {"pending": 1, "failed": 0, "delivered": 2}
    [redo] = await store.due_webhooks(later, 10)
    assert redo.id == second.id and redo.attempts == 0

    # Without a webhook nothing is sent, and decisions queue nothing.
    await store.set_webhook("site-a", None, None, later)
    assert await store.get_webhook("site-a") is None
    assert await store.due_webhooks(later + timedelta(hours=1), 10) == []
    d = await hold(store, 3)
    assert not (await store.decide("site-a", decision(d), actor="key:1", now=later)).webhook_queued


async def test_due_webhooks_one_event_per_site_oldest_first(store: Store) -> None:
    for site in ("site-a", "site-b"):
        await store.set_webhook(site, f"https://{site}.example/hook", f"whsec_{site}", NOW)
    outcomes = []
    for n, site in enumerate(("site-b", "site-a", "site-b", "site-a")):
        comment = await hold(store, n, site=site)
        outcomes.append(await store.decide(site, decision(comment), actor="key:1", now=NOW))
    [oldest] = await store.due_webhooks(NOW, 1)
    assert oldest.site_id == "site-b" and oldest.comment_id == outcomes[0].comment.id
    # An hour later (past any claim a backend holds), the head of each site, in id order.
    heads = await store.due_webhooks(NOW + timedelta(hours=1), 10)
    assert [(i.site_id, i.comment_id) for i in heads] == [
        ("site-b", outcomes[0].comment.id), ("site-a", outcomes[1].comment.id)
    ]
    assert heads[1].target.url == "https://site-a.example/hook" and heads[1].target.secret == "whsec_site-a"


async def test_moderator_sessions(store: Store) -> None:
    key = await store.create_api_key(site_id="site-a", role=Role.MODERATOR, key_hash="h1", prefix="mod_mod_x",
                                     now=NOW)
    expires = NOW + timedelta(hours=8)
    await store.create_session(id_hash="s1", api_key_id=key.id, csrf_hash="csrf-1", now=NOW, expires_at=expires)
    found = await store.find_session("s1", NOW + timedelta(hours=1))
    assert found is not None and found.csrf_hash == "csrf-1" and found.expires_at == expires
    assert (found.api_key.id, found.api_key.site_id, found.api_key.role) == (key.id, "site-a", Role.MODERATOR)
    assert found.api_key.created_at == NOW and "csrf-1" not in repr(found)
    assert await store.find_session("s1", expires) is None  # expired
    assert await store.find_session("s-unknown", NOW) is None
    # The next sign-in sweeps expired sessions away.
    await store.create_session(id_hash="s2", api_key_id=key.id, csrf_hash="csrf-2", now=expires,
                               expires_at=expires + timedelta(hours=8))
    assert await store.find_session("s1", NOW) is None
    assert await store.find_session("s2", expires) is not None
    await store.delete_session("s2")
    assert await store.find_session("s2", expires) is None
    await store.delete_session("s-unknown")


# -- PostgreSQL: several replicas on one database ------------------------------------------------------------


@contextlib.asynccontextmanager
async def replicas(url: str, n: int) -> AsyncIterator[list[Store]]:
    """n stores on one schema, as n service replicas would open it (migrating at the same time)."""
    stores = [open_store(url) for _ in range(n)]
    try:
        await asyncio.gather(*(s.migrate() for s in stores))
        yield stores
    finally:
        for s in stores:
            await s.close()


@pytest.mark.postgres
async def test_postgres_concurrent_decisions_on_one_revision_one_wins(pg_url: str) -> None:
    async with replicas(pg_url, 2) as (one, two):
        await one.set_webhook("site-a", HOOK_URL, "whsec_test", NOW)
        made = [await hold(one, n) for n in range(5)]
        for comment in made:
            attempts = [
                one.decide("site-a", decision(comment), actor="key:1", now=LATER),
                two.decide("site-a", decision(comment, "reject", "spam"), actor="key:2", now=LATER),
                one.decide("site-a", decision(comment, "reject", "toxic"), actor="key:3", now=LATER),
                two.decide("site-a", decision(comment), actor="key:4", now=LATER),
            ]
            results = await asyncio.gather(*attempts, return_exceptions=True)
            won = [r for r in results if not isinstance(r, BaseException)]
            assert len(won) == 1, results
            assert all(isinstance(r, StaleRevision) for r in results if isinstance(r, BaseException))
            current = await two.get_comment("site-a", comment.id)
            assert current is not None and current.revision == 2 and current == won[0].comment
            events = await two.list_events("site-a", before_id=None, limit=10, comment_id=comment.id)
            assert [e.action for e in events][1:] == ["submitted"] and events[0].id == won[0].event_id
        assert len(await one.list_training_labels()) == 5
        assert await one.webhook_backlog("site-a") == {"pending": 5, "failed": 0, "delivered": 0}


@pytest.mark.postgres
async def test_postgres_concurrent_claimers_never_share_an_event(pg_url: str) -> None:
    """Three replicas deliver together: every event once, one at a time per site, in order per site."""
    async with replicas(pg_url, 3) as stores:
        sites = [f"site-{i}" for i in range(4)]
        expected: dict[str, list[int]] = {}
        for site in sites:
            await stores[0].set_webhook(site, f"https://{site}.example/hook", "whsec_test", NOW)
            for n in range(4):
                comment = await hold(stores[0], n, site=site)
                await stores[n % 3].decide(site, decision(comment), actor="key:1", now=NOW)
                expected.setdefault(site, []).append(comment.id)
        total = sum(len(v) for v in expected.values())
        in_flight: dict[int, OutboxItem] = {}
        claimed: list[int] = []
        delivered: dict[str, list[int]] = {site: [] for site in sites}

        async def replica(store: Store) -> None:
            while sum(len(v) for v in delivered.values()) < total:
                items = await store.due_webhooks(LATER, 10)
                for item in items:
                    assert item.id not in in_flight and item.id not in claimed, "claimed twice"
                    assert all(other.site_id != item.site_id for other in in_flight.values()), "site overtaken"
                    in_flight[item.id] = item
                    claimed.append(item.id)
                await asyncio.sleep(0.005)  # the HTTP request
                for item in items:
                    del in_flight[item.id]
                    await store.record_webhook_attempt(item, at=LATER, status_code=204, error=None,
                                                       duration_ms=5.0, delivered=True, next_attempt_at=None)
                    delivered[item.site_id].append(item.comment_id)
                if not items:
                    await asyncio.sleep(0.002)

        await asyncio.wait_for(asyncio.gather(*(replica(s) for s in stores)), timeout=30)
        assert len(claimed) == total == len(set(claimed))
        assert delivered == expected
        for site in sites:
            assert await stores[1].webhook_backlog(site) == {"pending": 0, "failed": 0, "delivered": 4}


async def test_a_late_attempt_on_a_stale_claim_changes_nothing(store: Store) -> None:
    """Both backends: an attempt recorded for an event someone else has meanwhile delivered or retried
    is logged, but neither undoes the delivery nor reschedules the event (attempts is the fencing token)."""
    await store.set_webhook("site-a", HOOK_URL, "whsec_test", NOW)
    first = await hold(store, 1)
    second = await hold(store, 2)
    await store.decide("site-a", decision(first), actor="key:1", now=NOW)
    await store.decide("site-a", decision(second, "reject", "spam"), actor="key:1", now=NOW)
    an_hour = LATER + timedelta(hours=1)  # past any claim a backend holds
    [stale] = await store.due_webhooks(LATER, 10)
    [item] = await store.due_webhooks(an_hour, 10)  # the claim lapsed (or another worker took it)
    assert item.id == stale.id and item.attempts == stale.attempts == 0
    await store.record_webhook_attempt(item, at=an_hour, status_code=204, error=None, duration_ms=4.0,
                                       delivered=True, next_attempt_at=None)
    # The first holder reports late: a give-up, then a retry. Both are logged; the event stays delivered.
    await store.record_webhook_attempt(stale, at=an_hour, status_code=None, error="TimeoutError",
                                       duration_ms=10_000.0, delivered=False, next_attempt_at=None)
    await store.record_webhook_attempt(stale, at=an_hour, status_code=503, error="HTTP 503",
                                       duration_ms=5.0, delivered=False, next_attempt_at=an_hour)
    assert await store.webhook_backlog("site-a") == {"pending": 1, "failed": 0, "delivered": 1}
    log = await store.list_webhook_deliveries("site-a", before_id=None, limit=10)
    assert [(d.outbox_id, d.status_code, d.state) for d in log] == [
        (item.id, 503, "delivered"), (item.id, None, "delivered"), (item.id, 204, "delivered"),
    ]

    # A retry recorded by another holder fences off the first one's late give-up the same way.
    later = an_hour + timedelta(hours=1)
    [slow] = await store.due_webhooks(later, 10)
    assert slow.comment_id == second.id
    [fast] = await store.due_webhooks(later + timedelta(hours=1), 10)
    await store.record_webhook_attempt(fast, at=later, status_code=503, error="HTTP 503", duration_ms=5.0,
                                       delivered=False, next_attempt_at=later + timedelta(hours=2))
    await store.record_webhook_attempt(slow, at=later, status_code=None, error="TimeoutError", duration_ms=5.0,
                                       delivered=False, next_attempt_at=None)
    assert await store.webhook_backlog("site-a") == {"pending": 1, "failed": 0, "delivered": 1}
    [retried] = await store.due_webhooks(later + timedelta(hours=2), 10)
    assert retried.id == fast.id and retried.attempts == 1


@pytest.mark.postgres
async def test_postgres_claim_is_leased_and_a_late_attempt_changes_nothing(pg_url: str) -> None:
    async with replicas(pg_url, 2) as (one, two):
        assert isinstance(one, PostgresStore)
        await one.set_webhook("site-a", HOOK_URL, "whsec_test", NOW)
        comment = await hold(one, 1)
        await one.decide("site-a", decision(comment), actor="key:1", now=NOW)
        [item] = await one.due_webhooks(LATER, 10)
        claims = await asyncio.gather(*(two.due_webhooks(LATER, 10) for _ in range(5)))
        assert claims == [[]] * 5  # the event is out with replica one
        assert await two.due_webhooks(LATER + one.claim_lease - timedelta(seconds=1), 10) == []
        # Replica one died mid-delivery: once its lease is over, another replica takes the event.
        [again] = await two.due_webhooks(LATER + one.claim_lease, 10)
        assert again.id == item.id and again.attempts == 0
        await two.record_webhook_attempt(again, at=LATER + one.claim_lease, status_code=204, error=None,
                                         duration_ms=4.0, delivered=True, next_attempt_at=None)
        # Replica one comes back and reports a failure: logged, but the event stays delivered.
        await one.record_webhook_attempt(item, at=LATER + one.claim_lease, status_code=None, error="TimeoutError",
                                         duration_ms=10_000.0, delivered=False, next_attempt_at=None)
        assert await one.webhook_backlog("site-a") == {"pending": 0, "failed": 0, "delivered": 1}
        log = await one.list_webhook_deliveries("site-a", before_id=None, limit=10)
        assert [(d.status_code, d.state) for d in log] == [(None, "delivered"), (204, "delivered")]


@pytest.mark.postgres
async def test_postgres_migration_fills_queue_fields_of_existing_comments(pg_url: str) -> None:
    """0002's backfill: comments stored under 0001 get their risk and reason kinds."""
    import asyncpg

    from moderation.store.rows import migration_files

    schema = pg_url.rsplit("schema=", 1)[1]
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"; SET search_path = "{schema}"')
        [(version, name, sql)] = [m for m in migration_files("postgres") if m[0] == 1]
        await conn.execute(sql)
        await conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                           "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
        await conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name)
        await conn.execute("INSERT INTO sites (id, created_at) VALUES ('site-a', $1)", NOW)
        reasons = json.dumps([LINKS_REASON.to_json(), TOXIC_REASON.to_json(), DOWN_REASON.to_json()])
        await conn.execute(
            "INSERT INTO comments (site_id, article_id, author_name, author_email, content, content_hash, signals, "
            "status, decision, reasons, scores, created_at, updated_at) VALUES ('site-a', 'art-1', 'Ani', "
            "'a@example.com', 'lama', 'lama', '{}', 'held', 'hold', $1::jsonb, $2::jsonb, $3, $3)",
            reasons, json.dumps({"spam": 0.25, "toxic": 0.75}), NOW,
        )
    finally:
        await conn.close()
    store = open_store(pg_url)
    try:
        await store.migrate()
        [item] = (await store.list_queue("site-a", QueueQuery())).items
        assert item.risk == 0.75 and item.reason_kinds == ("other", "policy", "toxic")
        assert (await store.queue_counts("site-a"))["held_by_reason"] == {"spam": 0, "toxic": 1, "policy": 1,
                                                                          "other": 1}
    finally:
        await store.close()


# -- the service itself on PostgreSQL --------------------------------------------------------------------------


async def eventually(condition: Callable[[], Any], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@pytest.mark.postgres
async def test_service_on_postgres_submit_queue_decide_audit(pg_url: str, make_api: MakeApi, settings: Settings,
                                                             clock: FakeClock) -> None:
    received: list[tuple[str, str]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((request.headers.get(SIGNATURE_HEADER, ""), await request.text()))
        return web.Response(status=204)

    receiver = web.Application()
    receiver.router.add_post("/hook", hook)
    server = TestServer(receiver, host="127.0.0.1")
    await server.start_server()
    try:
        custom = replace(settings, database_url=Secret(pg_url), policy=PolicyBook(default=Policy(hold_all=True)),
                         # the receiver is plain http on 127.0.0.1, which only an explicit allowance reaches
                         webhook_targets=TargetPolicy(allow_http=True, allowed_networks=parse_networks("127.0.0.0/8")))
        api = await make_api(custom)
        assert isinstance(api.app[STORE].inner, PostgresStore)  # behind the fault guard

        def auth(key: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {key}"}

        admin = await api.key(Role.ADMIN)
        mod = await api.key(Role.MODERATOR)
        resp = await api.client.put("/v1/admin/webhook", json={"url": str(server.make_url("/hook"))},
                                    headers=auth(admin))
        assert resp.status == 200, await resp.text()
        secret = (await resp.json())["secret"]

        posted = []
        for i in range(3):
            resp = await api.post_comment(content=f"Komentar ke-{i} tentang banjir di Jakarta",
                                          author_email=f"pembaca{i}@example.com")
            assert resp.status == 201, await resp.text()
            body = await resp.json()
            assert body["status"] == "held"
            posted.append(body)
            clock.advance(60)

        resp = await api.client.get("/v1/queue", headers=auth(mod))
        assert resp.status == 200, await resp.text()
        queue = await resp.json()
        assert [i["id"] for i in queue["items"]] == [p["id"] for p in posted]
        first = queue["items"][0]
        assert first["author_email"] == "pembaca0@example.com" and first["revision"] == 1

        resp = await api.client.post(f"/v1/comments/{first['id']}/decision", headers=auth(mod),
                                     json={"action": "approve", "revision": 1})
        assert resp.status == 200, await resp.text()
        outcome = await resp.json()
        assert outcome["status"] == "published" and outcome["revision"] == 2 and outcome["webhook_queued"]
        resp = await api.client.post(f"/v1/comments/{first['id']}/decision", headers=auth(mod),
                                     json={"action": "reject", "label": "spam", "revision": 1})
        assert resp.status == 409 and (await resp.json())["error"]["code"] == "stale_revision"

        resp = await api.client.post("/v1/decisions", headers=auth(mod), json={"decisions": [
            {"comment_id": posted[1]["id"], "action": "reject", "label": "spam", "revision": 1},
            {"comment_id": posted[2]["id"], "action": "approve", "revision": 7},
        ]})
        assert resp.status == 200, await resp.text()
        bulk = await resp.json()
        assert (bulk["succeeded"], bulk["failed"]) == (1, 1) and bulk["results"][1]["http_status"] == 409

        counts = await (await api.client.get("/v1/queue/counts", headers=auth(mod))).json()
        assert counts["held"] == 1 and counts["by_status"]["rejected"] == 1

        resp = await api.client.get("/v1/audit", headers=auth(mod))
        assert resp.status == 200, await resp.text()
        audit = (await resp.json())["items"]
        assert [(e["comment_id"], e["action"]) for e in audit] == [
            (posted[1]["id"], "reject"), (first["id"], "approve"), (posted[2]["id"], "submitted"),
            (posted[1]["id"], "submitted"), (first["id"], "submitted"),
        ]
        assert audit[1]["actor"].startswith("key:") and audit[1]["to_status"] == "published"

        # The webhook dispatcher runs on PostgreSQL too: both changes arrive, signed, in order.
        await eventually(lambda: len(received) >= 2)
        now = int(clock().timestamp())
        assert all(verify(secret, header, body, now=now) for header, body in received)
        assert [(json.loads(b)["comment_id"], json.loads(b)["status"]) for _, b in received] == [
            (first["id"], "published"), (posted[1]["id"], "rejected"),
        ]
        # The receiver has the events before the dispatcher records the attempts: poll the delivery log.
        states: list[str] = []
        for _ in range(300):
            resp = await api.client.get("/v1/admin/webhooks/deliveries", headers=auth(admin))
            states = [d["state"] for d in (await resp.json())["items"]]
            if states == ["delivered", "delivered"]:
                break
            await asyncio.sleep(0.1)
        assert states == ["delivered", "delivered"]
    finally:
        await server.close()


# -- campaign memory: clusters and signatures -------------------------------------------------------------

from moderation.store import SignatureKey  # noqa: E402 - kept beside the tests that use it

TTL = timedelta(days=14)
BRAND = SignatureKey("brand", "alexis17")
TEMPLATE = SignatureKey("template", "cluster:1", b"\x01" * 256)


async def two_sites(store: Store) -> None:
    await store.ensure_site("site-a", NOW)
    await store.ensure_site("site-b", NOW)


async def test_cluster_ids_and_minhashes_are_stored_for_the_index(store: Store) -> None:
    await two_sites(store)
    first, _, _ = await insert(store, replace(new_comment(content="a", email="1@x.id"), minhash=b"\x01" * 256))
    second, _, _ = await insert(store, replace(new_comment(content="b", email="2@x.id"), cluster_id=first.id,
                                               minhash=b"\x02" * 256), at=LATER)
    short, _, _ = await insert(store, new_comment(content="c", email="3@x.id"), at=LATER)  # too short: no MinHash
    await insert(store, replace(new_comment(content="d", email="4@x.id", site="site-b"), minhash=b"\x03" * 256))

    rows = await store.campaign_index_rows("site-a", after_id=0, since=NOW - timedelta(days=1), limit=10)
    assert [(r.comment_id, r.cluster_id, r.minhash[:1]) for r in rows] == [(first.id, first.id, b"\x01"),
                                                                         (second.id, first.id, b"\x02")]
    assert [r.comment_id for r in await store.campaign_index_rows("site-a", after_id=first.id,
                                                                  since=NOW - timedelta(days=1), limit=10)] == [second.id]
    assert [r.comment_id for r in await store.campaign_index_rows("site-a", after_id=0, since=LATER, limit=10)] == [
        second.id]
    assert await store.comment_campaign("site-a", second.id) == (first.id, b"\x02" * 256)
    assert await store.comment_campaign("site-a", short.id) == (short.id, None)
    assert await store.comment_campaign("site-b", second.id) is None


async def test_rejections_create_signatures_and_approvals_only_weaken(store: Store) -> None:
    await two_sites(store)
    ids = [(await insert(store, new_comment(content=f"spam {i}", email=f"{i}@x.id")))[0].id for i in range(4)]
    v0 = await store.campaign_version("site-a")
    # An approval of a comment with no signature creates nothing.
    assert await store.record_campaign_votes("site-a", ids[0], actor="key:1", action="approve", label="ham",
                                             keys=[BRAND], now=NOW, ttl=TTL) == 0
    assert await store.list_campaign_signatures("site-a", now=NOW) == []
    assert await store.campaign_version("site-a") == v0

    for i, actor in zip(ids[:3], ("key:1", "key:1", "key:2")):
        assert await store.record_campaign_votes("site-a", i, actor=actor, action="reject", label="spam",
                                                 keys=[BRAND, TEMPLATE], now=NOW, ttl=TTL) == 2
    # The same decision recorded twice counts once.
    assert await store.record_campaign_votes("site-a", ids[2], actor="key:2", action="reject", label="spam",
                                             keys=[BRAND], now=NOW, ttl=TTL) == 0
    sigs = {s.kind: s for s in await store.list_campaign_signatures("site-a", now=NOW)}
    assert (sigs["brand"].value, sigs["brand"].rejections, sigs["brand"].moderators, sigs["brand"].approvals) == (
        "alexis17", 3, 2, 0)
    assert sigs["template"].minhash == b"\x01" * 256
    assert sigs["brand"].expires_at == NOW + TTL
    assert await store.campaign_version("site-a") > v0

    await store.record_campaign_votes("site-a", ids[3], actor="key:3", action="approve", label="ham",
                                      keys=[BRAND], now=LATER, ttl=TTL)
    brand = await store.get_campaign_signature("site-a", sigs["brand"].id)
    assert brand is not None and (brand.rejections, brand.approvals) == (3, 1)
    assert brand.expires_at == NOW + TTL  # an approval does not extend it
    votes = await store.campaign_signature_votes("site-a", brand.id, limit=10)
    assert [(v.comment_id, v.action, v.actor) for v in votes] == [
        (ids[3], "approve", "key:3"), (ids[2], "reject", "key:2"), (ids[1], "reject", "key:1"),
        (ids[0], "reject", "key:1")]
    # Expired signatures are not listed.
    assert await store.list_campaign_signatures("site-a", now=NOW + TTL + timedelta(seconds=1)) == []


async def test_signatures_belong_to_one_site(store: Store) -> None:
    await two_sites(store)
    a, _, _ = await insert(store, new_comment(content="spam", email="1@x.id"))
    b, _, _ = await insert(store, new_comment(content="spam", email="1@x.id", site="site-b"))
    await store.record_campaign_votes("site-a", a.id, actor="key:1", action="reject", label="spam", keys=[BRAND],
                                      now=NOW, ttl=TTL)
    assert await store.list_campaign_signatures("site-b", now=NOW) == []
    # site-b's approval cannot weaken site-a's signature.
    await store.record_campaign_votes("site-b", b.id, actor="key:9", action="approve", label="ham", keys=[BRAND],
                                      now=NOW, ttl=TTL)
    (sig,) = await store.list_campaign_signatures("site-a", now=NOW)
    assert sig.approvals == 0
    assert await store.get_campaign_signature("site-b", sig.id) is None
    assert await store.remove_campaign_signature("site-b", sig.id, actor="key:9", now=NOW) is False
    assert await store.campaign_signature_votes("site-b", sig.id, limit=10) == []


async def test_removed_signatures_are_not_learned_again(store: Store) -> None:
    await two_sites(store)
    ids = [(await insert(store, new_comment(content=f"spam {i}", email=f"{i}@x.id")))[0].id for i in range(2)]
    await store.record_campaign_votes("site-a", ids[0], actor="key:1", action="reject", label="spam", keys=[BRAND],
                                      now=NOW, ttl=TTL)
    (sig,) = await store.list_campaign_signatures("site-a", now=NOW)
    before = await store.campaign_version("site-a")
    assert await store.remove_campaign_signature("site-a", sig.id, actor="key:1", now=NOW) is True
    assert await store.remove_campaign_signature("site-a", sig.id, actor="key:1", now=NOW) is False
    assert await store.campaign_version("site-a") > before
    assert await store.record_campaign_votes("site-a", ids[1], actor="key:1", action="reject", label="spam",
                                             keys=[BRAND], now=NOW, ttl=TTL) == 0
    assert await store.list_campaign_signatures("site-a", now=NOW) == []
    removed = await store.get_campaign_signature("site-a", sig.id)
    assert removed is not None and removed.removed_at == NOW and removed.rejections == 1


async def test_clusters_group_the_queue_and_list_their_comments(store: Store) -> None:
    await two_sites(store)
    founder, _, _ = await insert(store, replace(new_comment(content="t0", email="0@x.id", decision=Decision.HOLD),
                                                minhash=b"\x01" * 256))
    members = [founder]
    for i in range(1, 4):
        c, _, _ = await insert(store, replace(new_comment(content=f"t{i}", email=f"{i}@x.id", decision=Decision.HOLD),
                                              cluster_id=founder.id, minhash=b"\x01" * 256))
        members.append(c)
    lone, _, _ = await insert(store, replace(new_comment(content="x", email="9@x.id", decision=Decision.HOLD),
                                             minhash=b"\x02" * 256))
    await store.decide("site-a", ModeratorDecision(members[1].id, ModeratorAction.REJECT, "spam", 1),
                       actor="key:1", now=NOW)

    (cluster,) = await store.list_clusters("site-a", statuses=(Status.HELD,), min_size=2, limit=10)
    assert (cluster.cluster_id, cluster.count, cluster.first_id, cluster.last_id) == (
        founder.id, 3, founder.id, members[3].id)
    assert cluster.sample.id == members[3].id
    singles = await store.list_clusters("site-a", statuses=(Status.HELD,), min_size=1, limit=10)
    assert [c.cluster_id for c in singles] == [founder.id, lone.id]
    assert await store.list_clusters("site-b", statuses=(Status.HELD,), min_size=1, limit=10) == []

    held = await store.cluster_comments("site-a", founder.id, statuses=(Status.HELD,), up_to_id=members[2].id,
                                        limit=10)
    assert [c.id for c in held] == [founder.id, members[2].id]
    assert await store.cluster_comments("site-b", founder.id, statuses=(Status.HELD,), up_to_id=10**9,
                                        limit=10) == []


async def test_campaign_holds_count_as_spam_in_the_queue(store: Store) -> None:
    await two_sites(store)
    reason = Evidence("campaign", "Matches a spam campaign", "campaign", 3.0, 3.0)
    held, _, _ = await insert(store, new_comment(content="kampanye", decision=Decision.HOLD, reasons=(reason,)))
    page = await store.list_queue("site-a", QueueQuery(reason="spam"))
    assert [i.comment.id for i in page.items] == [held.id]
    assert page.items[0].reason_kinds == ("spam",)
    assert (await store.queue_counts("site-a"))["held_by_reason"]["spam"] == 1


async def test_akismet_alias_round_trip(store: Store) -> None:
    key = await store.create_api_key(site_id="site-a", role=Role.SITE, key_hash="h-site", prefix="mod_site_x", now=NOW)
    await store.create_akismet_alias(api_key_id=key.id, alias_hash="h-alias", now=NOW)
    found = await store.find_akismet_alias("h-alias")
    assert found is not None and found.id == key.id and found.site_id == "site-a" and found.role is Role.SITE
    assert await store.find_akismet_alias("h-site") is None  # a key's own hash is not an alias
    assert await store.find_api_key("h-alias") is None  # nor is an alias a key of the API
    with pytest.raises(Exception):  # noqa: B017 - each backend raises its own integrity error
        await store.create_akismet_alias(api_key_id=key.id, alias_hash="h-alias", now=NOW)
