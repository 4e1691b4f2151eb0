"""Database faults: bounded store calls, 503 + Retry-After while the database is gone, recovery without a restart.

The outage test runs a real replica against PostgreSQL through a small TCP proxy in this test that can
drop every connection (reset), swallow traffic (black hole: the server looks hung) and recover; the
shared PostgreSQL server itself is never stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from moderation.appkeys import STORE
from moderation.errors import StoreUnavailable
from moderation.settings import DatabaseSettings, Settings
from moderation.store.faults import GuardedStore
from moderation.webhook_targets import TargetPolicy
from moderation.webhooks import DeliveryConfig, WebhookDispatcher

from .conftest import MakeApi, valid_comment
from .postgres import PG_URL, drop_schema, postgres_available, skip_without_postgres
from .served import free_port

FAST = DatabaseSettings(connect_timeout_seconds=0.5, statement_timeout_seconds=0.5, retry_after_seconds=3)


class SlowBackend:
    def __init__(self) -> None:
        self.calls = 0

    async def ping(self) -> None:
        self.calls += 1
        await asyncio.sleep(30)

    async def find_api_key(self, key_hash: str) -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    async def get_comment(self, site_id: str, comment_id: int) -> None:
        raise ValueError("a bug, not an outage")

    async def migrate(self) -> None:
        await asyncio.sleep(0.01)


async def test_guard_bounds_calls_and_names_outages() -> None:
    seen: list[str] = []
    store = GuardedStore(SlowBackend(), FAST, on_unavailable=seen.append)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as slow:
        await store.ping()
    assert time.monotonic() - started < FAST.call_timeout_seconds + 0.5
    assert slow.value.headers() == {"Retry-After": "3"} and slow.value.http_status == 503
    with pytest.raises(StoreUnavailable):
        await store.find_api_key("x")
    with pytest.raises(ValueError):  # not every failure is an outage: bugs stay bugs (500, logged)
        await store.get_comment("s", 1)
    await store.migrate()  # not bounded
    assert seen == ["ping", "find_api_key"]


async def test_submission_answers_503_with_retry_after_when_the_store_fails(
    make_api: MakeApi, settings: Settings,
) -> None:
    api = await make_api(replace(settings, database=FAST))
    key = await api.key()
    backend = api.app[STORE].inner

    async def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionResetError(104, "Connection reset by peer")

    real_insert = backend.insert_comment
    backend.insert_comment = unreachable
    resp = await api.post_comment(key=key)
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "3"
    body = await resp.json()
    assert body["error"]["code"] == "store_unavailable"
    assert "budi" not in json.dumps(body).lower()  # nothing of the comment is echoed back
    metrics = await (await api.client.get("/metrics")).text()
    assert 'moderation_store_unavailable_total{operation="insert_comment"} 1.0' in metrics
    backend.insert_comment = real_insert
    resp = await api.post_comment(key=key)
    assert resp.status == 201  # the next call simply works


async def test_dispatcher_backs_off_while_the_store_fails() -> None:
    class DownStore:
        calls = 0

        async def due_webhooks(self, now: Any, limit: int) -> list[Any]:
            self.calls += 1
            raise StoreUnavailable()

    store = DownStore()
    dispatcher = WebhookDispatcher(store, None, lambda: None, DeliveryConfig(poll_interval=0.01),  # type: ignore[arg-type]
                                   TargetPolicy())
    task = asyncio.get_running_loop().create_task(dispatcher.run())
    await asyncio.sleep(0.6)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    # Without backoff, 0.6 s at 10 ms per round is ~60 rounds; doubling gives about 6.
    assert 3 <= store.calls <= 8
    assert dispatcher.pause >= 0.01 * 2 ** (store.calls - 1)


# -- a real replica, a real PostgreSQL, a proxy between them ------------------------------------------


class FlakyProxy:
    """127.0.0.1:<port> → PostgreSQL. ``mode``: up (forward), reset (drop all, refuse new), hang (black hole)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.mode = "up"
        self.port = free_port()
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        if mode != "up":
            self._drop_all()

    def _drop_all(self) -> None:
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            _shut(conn)  # the client sees its connection die

    def _track(self, *socks: socket.socket) -> None:
        with self._lock:
            self._conns.update(socks)

    def _accept(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.mode == "reset":
                client.close()
                continue
            self._track(client)
            if self.mode == "hang":
                continue  # accepted, never answered: a hung server
            try:
                upstream = socket.create_connection(self.target, timeout=2)
            except OSError:
                _shut(client)
                continue
            upstream.settimeout(None)
            self._track(upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data or self.mode != "up":
                    break
                dst.sendall(data)
        except OSError:
            pass
        _shut(src)
        _shut(dst)

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._drop_all()
        self._thread.join(timeout=5)


def acknowledged_ids(results: list[tuple[float, float, int, dict[str, str], dict[str, Any], str]]) -> list[int]:
    return [r[4]["id"] for r in results if r[2] == 201]


def _shut(sock: socket.socket) -> None:
    # shutdown first: close() alone leaves the connection up while the other pipe thread is in recv().
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


def _post(url: str, key: str, body: dict[str, Any], timeout: float) -> tuple[int, dict[str, str], dict[str, Any]]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read() or b"{}")


def _status(url: str, timeout: float) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


async def _stored(schema: str) -> dict[int, tuple[str, int]]:
    import asyncpg

    conn = await asyncpg.connect(PG_URL, server_settings={"search_path": schema})
    try:
        rows = await conn.fetch("SELECT c.id, c.content, count(e.id) AS events FROM comments c "
                                "LEFT JOIN comment_events e ON e.comment_id = c.id GROUP BY c.id, c.content")
    finally:
        await conn.close()
    return {r["id"]: (r["content"], r["events"]) for r in rows}


@pytest.mark.postgres
def test_outage_fails_fast_loses_nothing_and_recovers(tiny_models_dir: Path, tmp_path: Path) -> None:
    if not asyncio.run(postgres_available()):
        skip_without_postgres()
    schema = f"scaleout_outage_{os.getpid()}"
    pg = PG_URL.removeprefix("postgresql://").split("/")[0].split("@")[-1]
    host, _, port = pg.partition(":")
    proxy = FlakyProxy((host, int(port or 5432)))
    via_proxy = PG_URL.replace(pg, f"127.0.0.1:{proxy.port}") + f"?schema={schema}"
    connect_s, statement_s = 1.0, 1.0
    bound = connect_s + statement_s + 1.5  # the guard's bound, plus HTTP and scheduling slack on 2 cores
    env = {**os.environ, "MODERATION_DATABASE_URL": via_proxy, "MODERATION_LOG_JSON": "1",
           "MODERATION_DB_CONNECT_TIMEOUT_SECONDS": str(connect_s),
           "MODERATION_DB_STATEMENT_TIMEOUT_SECONDS": str(statement_s), "MODERATION_DB_POOL_MAX": "4"}
    key = subprocess.run(
        [sys.executable, "-m", "moderation", "keys", "create", "--role", "site", "--site", "kompas-test"],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    ).stdout.strip().splitlines()[-1]
    service_port = free_port()
    log_path = tmp_path / "replica.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "moderation", "serve", "--port", str(service_port), "--data-dir",
             str(tmp_path / "data"), "--models-dir", str(tiny_models_dir)],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )
    url = f"http://127.0.0.1:{service_port}"
    results: list[tuple[float, float, int, dict[str, str], dict[str, Any], str]] = []
    stop = threading.Event()
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError):
                if _status(f"{url}/readyz", 1) == 200:
                    break
            assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)

        def load(worker: int) -> None:
            n = 0
            while not stop.is_set() and n < 3000:  # bounded
                n += 1
                content = f"Komentar {worker}-{n}: semoga banjir cepat surut di kampung kami."
                body = valid_comment(author_email=f"o{worker}-{n}@example.co.id", author_ip=f"2001:db8::{worker}:{n:x}",
                                     content=content)
                started = time.monotonic()
                try:
                    status, headers, answer = _post(f"{url}/v1/comments", key, body, timeout=30)
                except OSError as exc:
                    status, headers, answer = -1, {}, {"exception": repr(exc)}
                results.append((started, time.monotonic() - started, status, headers, answer, content))
                if status != 201:
                    time.sleep(0.05)

        threads = [threading.Thread(target=load, args=(i,)) for i in range(3)]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        readiness: dict[str, list[int]] = {"reset": [], "hang": []}
        for mode in ("reset", "hang"):
            proxy.set_mode(mode)
            phase_end = time.monotonic() + 3.0
            while time.monotonic() < phase_end:
                readiness[mode].append(_status(f"{url}/readyz", timeout=bound + 2))
                time.sleep(0.2)
        proxy.set_mode("up")
        recovered_at = time.monotonic()
        ready_again = None
        while time.monotonic() < recovered_at + 15:
            if _status(f"{url}/readyz", timeout=bound + 2) == 200:
                ready_again = time.monotonic()
                break
            time.sleep(0.1)
        time.sleep(2.0)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        assert process.poll() is None, "the replica must keep running through the outage"

        assert ready_again is not None, "not ready again within 15 s of the database returning"
        assert 503 in readiness["reset"] and 503 in readiness["hang"], readiness
        statuses = {r[2] for r in results}
        assert statuses <= {201, 503}, [r for r in results if r[2] not in (201, 503)][:3]
        unavailable = [r for r in results if r[2] == 503]
        assert len(unavailable) >= 3
        for *_, headers, answer, _content in unavailable:
            assert headers.get("Retry-After") and answer["error"]["code"] in ("store_unavailable", "unavailable")
        slowest = max(r[1] for r in results)
        assert slowest < bound, f"a request took {slowest:.2f} s (bound {bound} s)"
        after = [r for r in results if r[0] > recovered_at + (ready_again - recovered_at) + 0.5]
        assert after and all(r[2] == 201 for r in after), "submissions must succeed again without a restart"

        print(f"\noutage: {len(results)} submissions, {len(acknowledged_ids(results))} acknowledged, "
              f"{len(unavailable)} answered 503, slowest {slowest:.2f} s (bound {bound} s), "
              f"ready again {ready_again - recovered_at:.2f} s after the database returned")
        stored = asyncio.run(_stored(schema))
        acknowledged = {r[4]["id"]: r[5] for r in results if r[2] == 201}
        missing = [i for i in acknowledged if i not in stored]
        assert not missing, f"{len(missing)} acknowledged comments lost"
        assert all(stored[i][0] == content for i, content in acknowledged.items())
        # Nothing half-stored: every comment in the database has its audit event, acknowledged or not.
        assert all(events >= 1 for _, events in stored.values())
        assert len(stored) - len(acknowledged) <= len(unavailable)
    finally:
        stop.set()
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        proxy.close()
        asyncio.run(drop_schema(schema))
