"""SQLite group commit: concurrent writes share one transaction, yet each stands or fails alone.

A caller is answered only after the COMMIT holding its rows, so a second connection (another
process, as after a crash) sees every row whose write returned.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from moderation.domain import Decision
from moderation.errors import DuplicateComment, TooManyRequests
from moderation.store import ModeratorAction, ModeratorDecision
from moderation.store.sqlite import MAX_BATCH, SQLiteStore

from .test_store_contract import NOW, insert, new_comment


@pytest.fixture
async def batches(tmp_path: Path) -> list[int]:
    return []


@pytest.fixture
async def store(tmp_path: Path, batches: list[int]):  # type: ignore[no-untyped-def]
    backend = SQLiteStore(str(tmp_path / "store.sqlite3"), on_commit=batches.append)
    await backend.migrate()
    yield backend
    await backend.close()


def rows(store: SQLiteStore, sql: str) -> list[tuple]:  # type: ignore[type-arg]
    with sqlite3.connect(store.path) as conn:  # a connection of its own: sees only what is committed
        return conn.execute(sql).fetchall()


async def test_concurrent_inserts_share_commits_and_every_answer_is_durable(
    store: SQLiteStore, batches: list[int]
) -> None:
    await store.ensure_site("site-a", NOW)
    batches.clear()
    n = 40
    results = await asyncio.gather(
        *(insert(store, new_comment(email=f"u{i}@example.com", content=f"komentar {i}")) for i in range(n))
    )
    assert sum(batches) == n
    assert len(batches) < n and max(batches) > 1  # they did share commits
    ids = sorted(comment.id for comment, _, _ in results)
    assert [r[0] for r in rows(store, "SELECT id FROM comments ORDER BY id")] == ids
    assert rows(store, "SELECT COUNT(*) FROM comment_events")[0][0] == n


async def test_one_bad_write_fails_alone(store: SQLiteStore, batches: list[int]) -> None:
    await store.ensure_site("site-a", NOW)
    first, _, _ = await insert(store, new_comment(email="dup@example.com", content="sama"))
    with sqlite3.connect(store.path) as conn:
        conn.execute("CREATE TRIGGER no_boom BEFORE INSERT ON comments WHEN NEW.content = 'boom' "
                     "BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    batches.clear()
    outcomes = await asyncio.gather(
        insert(store, new_comment(email="a1@example.com", content="satu")),
        insert(store, new_comment(email="dup@example.com", content="sama")),  # duplicate of the first
        insert(store, new_comment(email="a2@example.com", content="boom")),  # the database refuses it
        insert(store, new_comment(email="a1@example.com", content="lagi", ip=None)),  # flood: a1 just posted
        insert(store, new_comment(email="a3@example.com", content="tiga")),
        return_exceptions=True,
    )
    assert max(batches) > 1
    assert isinstance(outcomes[1], DuplicateComment) and outcomes[1].to_json()["error"]["existing_id"] == first.id
    assert isinstance(outcomes[2], sqlite3.IntegrityError) and "disk full" in str(outcomes[2])
    # The flood check sees the row written earlier in the same, not yet committed, batch.
    assert isinstance(outcomes[3], TooManyRequests)
    stored = {r[0] for r in rows(store, "SELECT content FROM comments")}
    assert stored == {"sama", "satu", "tiga"}
    # Nothing of the refused write remains, not even its audit event.
    assert rows(store, "SELECT COUNT(*) FROM comment_events")[0][0] == 3


async def test_decisions_and_outbox_rows_ride_the_same_commits(store: SQLiteStore, batches: list[int]) -> None:
    await store.set_webhook("site-a", "https://site-a.example/hook", "whsec_x", NOW)
    held = [
        (await insert(store, new_comment(email=f"h{i}@example.com", content=f"judol {i}", decision=Decision.HOLD)))[0]
        for i in range(6)
    ]
    batches.clear()
    outcomes = await asyncio.gather(*(
        store.decide("site-a", ModeratorDecision(c.id, ModeratorAction.REJECT, "spam", 1), actor="key:1", now=NOW)
        for c in held
    ), store.decide("site-a", ModeratorDecision(held[0].id, ModeratorAction.REJECT, "spam", 1), actor="key:1",
                    now=NOW), return_exceptions=True)
    assert max(batches) > 1
    assert all(o.webhook_queued for o in outcomes[:6])  # type: ignore[union-attr]
    assert type(outcomes[6]).__name__ == "StaleRevision"  # the same revision decided twice: one wins
    assert rows(store, "SELECT COUNT(*) FROM webhook_outbox")[0][0] == 6
    assert rows(store, "SELECT COUNT(*) FROM training_labels")[0][0] == 6


async def test_batches_are_bounded(store: SQLiteStore, batches: list[int]) -> None:
    await store.ensure_site("site-a", NOW)
    batches.clear()
    n = MAX_BATCH + 10
    await asyncio.gather(*(insert(store, new_comment(email=f"b{i}@example.com", content=f"c{i}")) for i in range(n)))
    assert sum(batches) == n and max(batches) <= MAX_BATCH and len(batches) >= 2
