"""``moderation serve --workers 2`` as real processes: one port, two workers, a SIGKILLed worker loses
nothing that was acknowledged, is started again, and SIGTERM stops everything cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

pytestmark = pytest.mark.timeout(120)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def wait_for(condition, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


@pytest.fixture
def service(tmp_path: Path, tiny_models_dir: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, str, Path]]:
    data = tmp_path / "data"
    env = {**os.environ, "MODERATION_DATA_DIR": str(data), "MODERATION_MODELS_DIR": str(tiny_models_dir),
           "MODERATION_LOG_JSON": "true"}
    created = subprocess.run([sys.executable, "-m", "moderation", "keys", "create", "--role", "site", "--site",
                              "kompas-test"], env=env, capture_output=True, text=True, check=True)
    key = created.stdout.strip().splitlines()[-1]
    port = free_port()
    log = (tmp_path / "service.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "moderation", "serve", "--workers", "2", "--port", str(port)],
                            env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: len(children(proc.pid)) == 2)
        yield proc, base, key, data / "moderation.sqlite3"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


async def submit_many(base: str, key: str, start: int, count: int, *, during=None) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Post ``count`` comments (8 at a time); returns e-mail → id of every one answered 201."""
    acknowledged: dict[str, int] = {}
    numbers = iter(range(start, start + count))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:

        async def client() -> None:
            for n in numbers:
                email = f"pembaca{n}@example.co.id"
                body = {"article_id": "a/1", "author_name": f"Pembaca {n}", "author_email": email,
                        "content": f"Semoga banjir cepat surut, komentar nomor {n}."}
                try:
                    async with session.post(f"{base}/v1/comments", json=body,
                                            headers={"Authorization": f"Bearer {key}"}) as resp:
                        if resp.status == 201:
                            acknowledged[email] = (await resp.json())["id"]
                except (TimeoutError, aiohttp.ClientError):
                    pass  # the killed worker's connections: not acknowledged, so nothing is promised

        tasks = [asyncio.create_task(client()) for _ in range(8)]
        if during is not None:
            await asyncio.sleep(0.3)
            await asyncio.to_thread(during)
        await asyncio.gather(*tasks)
    return acknowledged


async def wait_ready(base: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            try:
                async with session.get(f"{base}/readyz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("service not ready")


async def test_sigkill_of_a_worker_loses_no_acknowledged_comment(service) -> None:  # type: ignore[no-untyped-def]
    proc, base, key, db = service
    await wait_ready(base)
    workers_before = children(proc.pid)
    victim = min(workers_before)

    acknowledged = await submit_many(base, key, 0, 300, during=lambda: os.kill(victim, signal.SIGKILL))
    # The supervisor starts a new worker in the victim's place.
    def replaced() -> set[int] | None:
        now = children(proc.pid)
        return now if len(now) == 2 and victim not in now else None

    workers_after = await asyncio.to_thread(wait_for, replaced)
    assert victim not in workers_after
    await wait_ready(base)
    later = await submit_many(base, key, 1000, 40)
    assert len(later) == 40  # both workers serve again, nothing refused
    acknowledged.update(later)
    assert len(acknowledged) > 100

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=40) == 0
    assert not children(proc.pid)
    with sqlite3.connect(db) as conn:
        stored = dict(conn.execute("SELECT author_email, COUNT(*) FROM comments GROUP BY author_email").fetchall())
        ids = dict(conn.execute("SELECT author_email, id FROM comments").fetchall())
    for email, comment_id in acknowledged.items():
        assert stored.get(email) == 1, email  # every acknowledged comment, exactly once
        assert ids[email] == comment_id
