"""Python load generator for the throughput benchmark (one process; bench/throughput.py starts several).

Open loop (``--rate``): request i is *due* at t0 + i/rate whatever happened to earlier ones, and its
latency is measured from that intended send time, so a server that falls behind shows its queue in
the percentiles instead of silently slowing the generator down (coordinated omission).
Closed loop (``--connections``, used only when wrk is missing): each connection sends its next
request as soon as the previous one is answered.

    python bench/loadgen.py --url URL --key KEY --templates FILE --start N --duration S
                            (--rate R | --connections C) --out FILE
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mix import bodies

GRACE_SECONDS = 10.0  # requests still unanswered this long after the run ends count as timeouts


async def open_loop(url: str, headers: dict[str, str], payloads: list[bytes], rate: float,
                    duration: float) -> dict[str, object]:
    total = int(rate * duration)
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    connector = aiohttp.TCPConnector(limit=512, force_close=False)
    timeout = aiohttp.ClientTimeout(total=duration + GRACE_SECONDS)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(i: int, due: float) -> None:
            try:
                async with session.post(url, data=payloads[i % len(payloads)], headers=headers) as resp:
                    await resp.read()
                    statuses[str(resp.status)] += 1
            except TimeoutError:
                statuses["timeout"] += 1
                return
            except aiohttp.ClientError as exc:
                statuses[type(exc).__name__] += 1
                return
            latencies.append(time.perf_counter() - due)

        tasks = []
        t0 = time.perf_counter() + 0.05
        sent = 0
        while sent < total:
            now = time.perf_counter()
            due_count = min(total, int((now - t0) * rate) + 1) if now >= t0 else 0
            while sent < due_count:
                tasks.append(asyncio.create_task(one(sent, t0 + sent / rate)))
                sent += 1
            await asyncio.sleep(0.0005)
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
    return {"mode": "open", "rate": rate, "sent": total, "elapsed_s": elapsed, "latencies_s": latencies,
            "statuses": dict(statuses)}


async def closed_loop(url: str, headers: dict[str, str], payloads: list[bytes], connections: int,
                      duration: float) -> dict[str, object]:
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    counter = iter(range(10**12))
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        t0 = time.perf_counter()
        end = t0 + duration

        async def worker() -> None:
            while time.perf_counter() < end:
                i = next(counter)
                started = time.perf_counter()
                try:
                    async with session.post(url, data=payloads[i % len(payloads)], headers=headers) as resp:
                        await resp.read()
                        statuses[str(resp.status)] += 1
                except aiohttp.ClientError as exc:
                    statuses[type(exc).__name__] += 1
                    continue
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - t0
    return {"mode": "closed", "connections": connections, "sent": sum(statuses.values()), "elapsed_s": elapsed,
            "latencies_s": latencies, "statuses": dict(statuses)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", default="")
    parser.add_argument("--templates", type=Path, required=True)
    parser.add_argument("--start", type=int, default=0, help="first author number (unique across the run)")
    parser.add_argument("--duration", type=float, required=True)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--rate", type=float)
    mode.add_argument("--connections", type=int)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    templates = args.templates.read_text(encoding="utf-8").splitlines()
    count = int((args.rate or 20000) * args.duration) + 1000
    payloads = bodies(templates, args.start, count)
    headers = {"Content-Type": "application/json"}
    if args.key:
        headers["Authorization"] = f"Bearer {args.key}"
    if args.rate:
        coro = open_loop(args.url, headers, payloads, args.rate, args.duration)
    else:
        coro = closed_loop(args.url, headers, payloads, args.connections, args.duration)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows
        result = asyncio.run(coro)
    else:
        result = uvloop.run(coro)
    args.out.write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
