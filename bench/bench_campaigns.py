"""Request-path cost of the campaign memory: fingerprint + cluster lookup + signature match per comment.

Fills one site's index with ``--comments`` synthetic comments (a few hundred templates with varied words, the
shape of a spam wave among ordinary comments) on a real SQLite store, adds learned signatures, then times
``CampaignMemory.observe`` (what ``POST /v1/comments`` adds) and the rebuild of the index from the database
(what a worker does the first time it sees a site after a restart).

    python bench/bench_campaigns.py [--comments 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from moderation.campaigns import CampaignMemory
from moderation.domain import Decision, Submission, Verdict
from moderation.settings import CampaignSettings
from moderation.store import NewComment, SignatureKey, open_store

WORDS = ["semoga", "pemerintah", "cepat", "memperbaiki", "jalan", "rusak", "harga", "beras", "naik", "terima", "kasih", "beritanya", "timnas", "main", "bagus", "banjir", "warga", "rumah", "sekolah", "guru", "desa", "kota", "presiden", "menteri", "rakyat", "kecil", "pajak", "listrik", "air", "bersih"]


def text(rng: random.Random, template: int) -> str:
    base = random.Random(template)
    words = [base.choice(WORDS) for _ in range(12)]
    for _ in range(2):  # small variations, as a campaign rewrites itself
        words[rng.randrange(len(words))] = rng.choice(WORDS)
    return " ".join(words) + (f" brand{template % 50}88" if template % 3 == 0 else "")


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--comments", type=int, default=20_000)
    ap.add_argument("--templates", type=int, default=400)
    ap.add_argument("--queries", type=int, default=2000)
    args = ap.parse_args()
    rng = random.Random(1)
    now = datetime.now(timezone.utc)
    work = Path(tempfile.mkdtemp(prefix="campaign-bench-"))
    store = open_store(f"sqlite:///{work / 'bench.sqlite3'}")
    await store.migrate()
    await store.ensure_site("s", now)
    settings = CampaignSettings(index_max_comments=args.comments, refresh_seconds=3600)
    memory = CampaignMemory(store, settings, lambda: now)
    verdict = Verdict(Decision.PUBLISH, (), {"spam": 0.1}, "bench")
    started = time.perf_counter()
    for i in range(args.comments):
        content = text(rng, rng.randrange(args.templates))
        seen = await memory.observe("s", content)
        sub = Submission(article_id=f"a{i % 100}", author_name="x", author_email=f"{i}@x.id", content=content)
        new = replace(NewComment("s", sub, verdict, str(i), {}), cluster_id=seen.cluster_id,
                      minhash=seen.minhash_bytes)
        comment, _, _ = await store.insert_comment(new, now=now, flood_interval=0, idempotency=None,
                                                   render=lambda c: {})
        memory.remember("s", comment.id, seen, now)
    fill_s = time.perf_counter() - started
    for template in range(0, 60, 3):  # learned signatures: brands and templates, each rejected 3 times
        for j in range(3):
            content = text(rng, template)
            await store.record_campaign_votes("s", j + 1, actor="key:1", action="reject", label="spam",
                                              keys=[SignatureKey("brand", f"brand{template % 50}88")],
                                              now=now, ttl=timedelta(days=14))
    memory.invalidate("s")
    await memory.observe("s", "warm up")

    timings = []
    for _ in range(args.queries):
        content = text(rng, rng.randrange(args.templates))
        t0 = time.perf_counter()
        seen = await memory.observe("s", content)
        timings.append((time.perf_counter() - t0) * 1000)
    timings.sort()
    longest = ("Sejak pagi tadi kami mengunjungi ✌𝗭𝗢𝗥𝗕𝗔𝟵𝟵✌ dan hasilnya luar biasa, terima kasih admin " * 800)[:16_000]
    t0 = time.perf_counter()
    for _ in range(20):
        await memory.observe("s", longest)
    longest_ms = (time.perf_counter() - t0) / 20 * 1000

    fresh = CampaignMemory(store, settings, lambda: now)
    t0 = time.perf_counter()
    await fresh.observe("s", "rebuild")
    rebuild_s = time.perf_counter() - t0
    tracemalloc.start()  # a second rebuild, traced (tracing slows it down, so it is not the one timed)
    await CampaignMemory(store, settings, lambda: now).observe("s", "rebuild")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    await store.close()
    result = {
        "comments_in_index": memory.index_size("s"), "templates": args.templates,
        "observe_ms": {"p50": round(statistics.median(timings), 3), "p99": round(timings[int(len(timings) * 0.99)], 3),
                       "mean": round(statistics.fmean(timings), 3)},
        "observe_ms_longest_comment": round(longest_ms, 3),  # 16,000 styled characters (~64 KB of UTF-8)
        "rebuild_from_database_s": round(rebuild_s, 2), "rebuild_peak_python_mb": round(peak / 2**20, 1),
        "fill_s_including_inserts": round(fill_s, 1),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
