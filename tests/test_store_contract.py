"""One contract suite for every storage backend: SQLite (always) and PostgreSQL (127.0.0.1:5432/test).

PostgreSQL tests skip when no server answers, unless MODERATION_REQUIRE_POSTGRES=1 (as in CI).
Each PostgreSQL test gets its own schema, dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from moderation.domain import Decision, Evidence, Role, Submission, Verdict
from moderation.errors import DuplicateComment, IdempotencyConflict, TooManyRequests
from moderation.store import NewComment, Store, TrainingLabel, open_store

PG_URL = os.environ.get("MODERATION_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=timezone.utc)


async def _postgres_available() -> bool:
    import asyncpg

    try:
        conn = await asyncio.wait_for(asyncpg.connect(PG_URL), timeout=3)
    except (OSError, asyncio.TimeoutError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        backend = open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
        await backend.migrate()
        yield backend
        await backend.close()
        return
    if not await _postgres_available():
        if os.environ.get("MODERATION_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required but not reachable at {PG_URL}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
    import asyncpg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    backend = open_store(f"{PG_URL}?schema={schema}")
    await backend.migrate()
    yield backend
    await backend.close()
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await conn.close()


def new_comment(*, content: str = "Berita yang bagus.", email: str = "a@example.com", ip: str | None = None,
                article: str = "art-1", decision: Decision = Decision.PUBLISH, version: str = "v1") -> NewComment:
    sub = Submission(article_id=article, author_name="Ani", author_email=email, content=content, author_ip=ip)
    reasons = () if decision is Decision.PUBLISH else (Evidence("spam", "spam", "model:v1", 0.9, 0.5),)
    verdict = Verdict(decision, reasons, {"spam": 0.1, "toxic": 0.2}, version)
    return NewComment(site_id="site-a", submission=sub, verdict=verdict, content_hash=content, signals={"links": 0})


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
