"""The lean request path (issue 12): key lookups that still honour revocation at once (SQLite) or within
a second across replicas (PostgreSQL), micro-batched scoring,
normalisation done once, per-stage timers."""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from moderation.domain import ApiKey, Role
from moderation.appkeys import METRICS, SCORER
from moderation.pipeline.scoring import Scorer, ScoringUnavailable
from moderation.settings import Settings
from moderation.store.keycache import KeyCache
from moderation.store.postgres import PostgresStore
from moderation.textnorm import normalize

from .conftest import HAM, SPAM, Api, valid_comment
from .test_store_contract import NOW, pg_url  # noqa: F401 - pg_url is a fixture


class Ticks:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_sqlite_key_revoked_in_the_database_is_refused_at_once(api: Api, settings: Settings) -> None:
    key = await api.key()
    assert (await api.post_comment(author_email="a@example.com")).status == 201
    with sqlite3.connect(settings.data_dir / "moderation.sqlite3") as conn:  # as an operator would
        conn.execute("UPDATE api_keys SET revoked_at = '2026-01-01T00:00:00.000000Z'")
    assert (await api.post_comment(author_email="b@example.com", key=key)).status == 401


@pytest.mark.postgres
async def test_postgres_replicas_refuse_a_revoked_key_within_the_cache_time(pg_url: str) -> None:  # noqa: F811
    replica_a, replica_b = PostgresStore(pg_url), PostgresStore(pg_url)
    await replica_a.migrate()
    await replica_b.migrate()
    try:
        ticks = Ticks()
        replica_a.key_cache.clock = ticks
        created = await replica_b.create_api_key(site_id="s", role=Role.SITE, key_hash="h1", prefix="mod_site_x",
                                                 now=NOW)
        found = await replica_a.find_api_key("h1")
        assert found is not None and found.id == created.id
        async with replica_b.pool.acquire() as conn:  # revoked through the other replica
            await conn.execute("UPDATE api_keys SET revoked_at = now() WHERE key_hash = 'h1'")
        ticks.now += 0.5
        cached = await replica_a.find_api_key("h1")
        assert cached is not None and cached.revoked_at is None  # still within the second
        ticks.now += 0.5
        revoked = await replica_a.find_api_key("h1")
        assert revoked is not None and revoked.revoked_at is not None  # auth refuses it
    finally:
        await replica_a.close()
        await replica_b.close()


async def test_key_cache_expires_and_invalidates() -> None:
    from datetime import datetime, timezone

    ticks = Ticks()
    cache = KeyCache(ttl=1.0, clock=ticks)
    key = ApiKey(1, "s", Role.SITE, "mod_site_x", datetime.now(timezone.utc))
    cache.put("h", key)
    ticks.now += 0.5
    assert cache.get("h") is key
    ticks.now += 0.5
    assert cache.get("h") is None
    cache.put("h", key)
    cache.invalidate("h")
    assert cache.get("h") is None


async def test_stage_timers_cover_every_submission(api: Api) -> None:
    for i in range(3):
        assert (await api.post_comment(author_email=f"s{i}@example.com")).status == 201
    text = api.app[METRICS].render().decode()
    for stage in ("parse", "validate", "normalise", "score", "store", "respond"):
        assert f'moderation_stage_seconds_count{{stage="{stage}"}} 3.0' in text
    assert "moderation_store_commit_batch_size_count" in text


async def test_concurrent_comments_are_scored_in_batches_with_the_same_scores(tiny_models_dir: Path) -> None:
    calls: list[int] = []
    with ThreadPoolExecutor(1) as executor:
        scorer = Scorer(tiny_models_dir, executor)
        model = scorer.load().model
        original = model.predict_scores

        def counting(texts, normalized=None):  # type: ignore[no-untyped-def]
            calls.append(len(texts))
            return original(texts, normalized)

        model.predict_scores = counting  # type: ignore[method-assign]
        texts = SPAM + HAM
        alone = [await scorer.score(t, {}) for t in texts]
        calls.clear()
        together = await asyncio.gather(*(scorer.score(t, {}, normalized=normalize(t)) for t in texts))
    assert sum(calls) == len(texts) and max(calls) > 1  # fewer trips, several texts per featurisation
    for a, b in zip(alone, together):
        assert a.version == b.version and a.scores.keys() == b.scores.keys()
        assert all(abs(a.scores[h] - b.scores[h]) < 1e-5 for h in a.scores)
        assert a.explanations.keys() == b.explanations.keys()


async def test_one_failing_text_fails_only_itself(tiny_models_dir: Path) -> None:
    with ThreadPoolExecutor(1) as executor:
        scorer = Scorer(tiny_models_dir, executor)
        model = scorer.load().model
        original = model.predict_scores

        def fragile(texts, normalized=None):  # type: ignore[no-untyped-def]
            if any("meledak" in t for t in texts):
                raise RuntimeError("broken on this text")
            return original(texts, normalized)

        model.predict_scores = fragile  # type: ignore[method-assign]
        outcomes = await asyncio.gather(scorer.score(HAM[0], {}), scorer.score("meledak", {}),
                                        scorer.score(HAM[1], {}), return_exceptions=True)
    assert isinstance(outcomes[1], ScoringUnavailable)
    assert not isinstance(outcomes[0], Exception) and not isinstance(outcomes[2], Exception)


async def test_service_normalises_content_once(api: Api) -> None:
    """The classifiers get the handler's normalisation instead of redoing it (same scores either way)."""
    seen: list[str | None] = []
    scorer = api.app[SCORER]
    real = scorer.score

    async def spy(text, thresholds, *, normalized=None, **options):  # type: ignore[no-untyped-def]
        seen.append(normalized)
        return await real(text, thresholds, normalized=normalized, **options)

    scorer.score = spy  # type: ignore[method-assign]
    body = valid_comment(content="𝐒𝐋𝐎𝐓 𝐆𝐀𝐂𝐎𝐑 hari ini maxwin")
    resp = await api.post_comment(body)
    assert resp.status == 201
    assert seen == [normalize(body["content"])]


def test_explain_heads_matches_explain_head_by_head(tiny_models_dir: Path) -> None:
    from moderation.artefacts import load_model

    model = load_model(tiny_models_dir).model
    for text in [*SPAM, *HAM, "", "𝐒𝐋𝐎𝐓 𝐆𝐀𝐂𝐎𝐑 maxwin", "s.l.o.t g4c0r"]:
        together = model.explain_heads(text, list(model.heads), 5, normalized=normalize(text))
        assert together == {head: model.explain(text, head, 5) for head in model.heads}
    assert any(model.explain_heads(t, ["spam"])["spam"] for t in SPAM)  # it does explain something
