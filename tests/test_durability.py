"""A 201 / 200 is a promise: SIGKILL the real service mid-stream, restart it, and every acknowledged comment
and decision is there exactly once; nothing is ever half stored.

The service runs as ``python -m moderation serve`` (plus ``SERVE_ARGS`` and the space-separated
``MODERATION_DURABILITY_SERVE_ARGS`` from the environment, e.g. ``--workers 2``), in its own process group so
that every process it starts is killed too. Several threads submit comments (each with an
``Idempotency-Key``) and approve the held ones while the group gets SIGKILL at a random moment; then the
service is started again on the same data. After the last round every submission that was never
acknowledged is retried with its key, as a client would, and must be answered without a second copy.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import random
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from moderation.auth import hash_key, new_key
from moderation.domain import Role
from moderation.store import open_store

from .postgres import PG_URL, drop_schema, new_schema_name, postgres_available, skip_without_postgres

SITE = "durable-site"
# The serve command's extra arguments (the throughput work adds e.g. ["--workers", "2"] here).
SERVE_ARGS: list[list[str]] = [[], ["--workers", "2"]]
ROUNDS = 3
THREADS = 4
POLICY = """\
[default]
hold_all = true              # every comment waits for a decision, so the stream has decisions to make
reject = false               # held, never rejected outright (the tiny model is sure of any spam)
flood_interval_seconds = 0   # all threads post from one address
min_submit_seconds = 0
"""


# -- the service process ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    database_url: str
    models_dir: Path
    workdir: Path
    extra_args: list[str]
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        for _attempt in range(3):  # the free port may be taken between probing and binding
            self.port = free_port()
            self.starts += 1
            log = open(self.workdir / f"serve-{self.starts}.log", "wb")  # noqa: SIM115 - the child owns it
            cmd = [sys.executable, "-m", "moderation", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                   "--data-dir", str(self.workdir / "data"), "--database-url", self.database_url,
                   "--models-dir", str(self.models_dir), "--policy", str(self.workdir / "policy.toml"),
                   *self.extra_args]
            env = {**os.environ, "MODERATION_LOG_JSON": "true"}
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
            log.close()
            if self._wait_ready(timeout=30):
                return
            self.kill()
        raise AssertionError(f"the service did not become ready; see {self.workdir}/serve-*.log")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                return False
            try:
                status, _ = request(self.port, "GET", "/readyz", timeout=1)
                if status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown handler, no flush, as when the machine dies."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        self.proc = None


def request(port: int, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
            timeout: float = 5) -> tuple[int, Any]:
    """(status, parsed JSON body); raises OSError/HTTPException when the answer does not arrive whole."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, json.loads(raw) if raw else None
    finally:
        conn.close()


# -- the client stream --------------------------------------------------------------------------------------


@dataclass
class Ledger:
    """What the clients were told: acknowledged submissions and decisions, and everything they tried."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: dict[str, dict[str, Any]] = field(default_factory=dict)  # idempotency key -> body
    acked: dict[str, int] = field(default_factory=dict)  # idempotency key -> comment id
    decided: set[int] = field(default_factory=set)  # comment ids whose approval got a 200
    tried_decisions: set[int] = field(default_factory=set)
    answers: dict[int, int] = field(default_factory=dict)  # status -> count (anything but 201/200/409 fails)


def client(port: int, keys: dict[str, str], ledger: Ledger, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    site = {"Authorization": f"Bearer {keys['site']}"}
    moderator = {"Authorization": f"Bearer {keys['moderator']}"}
    held: list[int] = []
    while not stop.is_set():
        try:
            if held and rng.random() < 0.5:
                cid = held.pop(rng.randrange(len(held)))
                with ledger.lock:
                    ledger.tried_decisions.add(cid)
                status, _ = request(port, "POST", f"/v1/comments/{cid}/decision",
                                    {"action": "approve", "label": "ham", "revision": 1}, moderator)
                with ledger.lock:
                    ledger.answers[status] = ledger.answers.get(status, 0) + 1
                    if status == 200:
                        ledger.decided.add(cid)
                continue
            idem = uuid.uuid4().hex
            body = {"article_id": "2026/12/02/durability", "author_name": "Pembaca",
                    "author_email": f"{idem[:12]}@example.com", "content": f"Komentar nomor {idem} untuk diuji."}
            with ledger.lock:
                ledger.sent[idem] = body
            status, answer = request(port, "POST", "/v1/comments", body, {**site, "Idempotency-Key": idem})
            with ledger.lock:
                ledger.answers[status] = ledger.answers.get(status, 0) + 1
                if status == 201:
                    ledger.acked[idem] = answer["id"]
                    held.append(answer["id"])
        except (OSError, http.client.HTTPException, ValueError):
            time.sleep(0.01)  # the service is gone (killed) or the answer was cut: not acknowledged


# -- what is stored -----------------------------------------------------------------------------------------


def fetch(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    queries = {
        "comments": f"SELECT id, content, status, revision FROM comments WHERE site_id = '{SITE}'",
        "events": f"SELECT comment_id, action, to_status FROM comment_events WHERE site_id = '{SITE}'",
        "labels": f"SELECT comment_id, source, label FROM training_labels WHERE site_id = '{SITE}'",
        "outbox": f"SELECT comment_id, payload FROM webhook_outbox WHERE site_id = '{SITE}'",
        "idempotency": f"SELECT key, comment_id FROM idempotency_keys WHERE site_id = '{SITE}'",
    }
    if database_url.startswith("sqlite:///"):
        import sqlite3

        with sqlite3.connect(database_url.removeprefix("sqlite:///")) as conn:
            return {name: [tuple(r) for r in conn.execute(sql)] for name, sql in queries.items()}

    async def pg() -> dict[str, list[tuple[Any, ...]]]:
        import asyncpg

        base, _, schema = database_url.partition("?schema=")
        conn = await asyncpg.connect(base, server_settings={"search_path": schema})
        try:
            return {name: [tuple(r) for r in await conn.fetch(sql)] for name, sql in queries.items()}
        finally:
            await conn.close()

    return asyncio.run(pg())


def check_stored(database_url: str, ledger: Ledger) -> None:
    data = fetch(database_url)
    by_content: dict[str, list[tuple[Any, ...]]] = {}
    for row in data["comments"]:
        by_content.setdefault(row[1], []).append(row)
    sent_contents = {body["content"]: key for key, body in ledger.sent.items()}
    assert set(by_content) <= set(sent_contents), "a stored comment nobody sent (cut short?)"
    duplicates = {c: len(rows) for c, rows in by_content.items() if len(rows) > 1}
    assert not duplicates, f"stored more than once: {duplicates}"
    for key, cid in ledger.acked.items():
        rows = by_content.get(ledger.sent[key]["content"])
        assert rows and rows[0][0] == cid, f"acknowledged comment {cid} is lost"
    idem = dict(data["idempotency"])
    for content, [(cid, _, _, _)] in by_content.items():
        assert idem.get(sent_contents[content]) == cid, f"comment {cid} stored without its idempotency key"

    events: dict[int, list[str]] = {}
    for cid, action, _ in data["events"]:
        events.setdefault(cid, []).append(action)
    labels: dict[int, list[str]] = {}
    for cid, source, _ in data["labels"]:
        labels.setdefault(cid, []).append(source)
    published_events: dict[int, int] = {}
    for cid, payload in data["outbox"]:
        if json.loads(payload).get("status") == "published":
            published_events[cid] = published_events.get(cid, 0) + 1
    for cid, _, status, revision in data["comments"]:
        # a decision is all of these or none of them: status, revision, audit event, label, webhook event
        approved = status == "published"
        assert status in ("held", "published"), (cid, status)
        assert revision == (2 if approved else 1), (cid, status, revision)
        assert sorted(events.get(cid, [])) == (["approve", "submitted"] if approved else ["submitted"]), cid
        assert labels.get(cid, []) == (["moderator"] if approved else []), cid
        assert published_events.get(cid, 0) == (1 if approved else 0), cid
        if cid in ledger.decided:
            assert approved, f"acknowledged decision on {cid} is lost"
        elif approved:
            assert cid in ledger.tried_decisions, f"{cid} published without a decision"


# -- fixtures -----------------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'moderation.sqlite3'}"
        return
    if not asyncio.run(postgres_available()):
        skip_without_postgres()
    schema = new_schema_name()
    try:
        yield f"{PG_URL}?schema={schema}"
    finally:
        asyncio.run(drop_schema(schema))


def prepare(database_url: str) -> dict[str, str]:
    """Migrate, create a site and a moderator key, point the site's webhook at a closed port (events queue up)."""

    async def run() -> dict[str, str]:
        store = open_store(database_url)
        try:
            await store.migrate()
            now = datetime.now(timezone.utc)
            keys = {}
            for name, role in (("site", Role.SITE), ("moderator", Role.MODERATOR)):
                key = new_key(role)
                await store.create_api_key(site_id=SITE, role=role, key_hash=hash_key(key), prefix=key[:12], now=now)
                keys[name] = key
            await store.set_webhook(SITE, "http://127.0.0.1:9/hooks", "secret", now)
            return keys
        finally:
            await store.close()

    return asyncio.run(run())


@pytest.mark.timeout(120)
@pytest.mark.parametrize("extra_args", SERVE_ARGS, ids=lambda a: " ".join(a) or "default")
def test_sigkill_keeps_every_acknowledged_write(database_url: str, tiny_models_dir: Path, tmp_path: Path,
                                                extra_args: list[str]) -> None:
    (tmp_path / "policy.toml").write_text(POLICY, encoding="utf-8")
    keys = prepare(database_url)
    extra = extra_args + shlex.split(os.environ.get("MODERATION_DURABILITY_SERVE_ARGS", ""))
    service = Service(database_url, tiny_models_dir, tmp_path, extra)
    ledger = Ledger()
    rng = random.Random(20261202)
    try:
        for round_no in range(ROUNDS):
            service.start()
            stop = threading.Event()
            threads = [threading.Thread(target=client, args=(service.port, keys, ledger, stop, round_no * 10 + i))
                       for i in range(THREADS)]
            before = len(ledger.acked), len(ledger.decided)
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.6, 1.2))
            service.kill()  # while the threads are still sending
            stop.set()
            for t in threads:
                t.join(timeout=15)
            assert len(ledger.acked) > before[0] and len(ledger.decided) > before[1], "the stream never got going"
        service.start()
        check_stored(database_url, ledger)
        # A client retries what was never acknowledged, with the same key: answered now, never stored twice.
        site = {"Authorization": f"Bearer {keys['site']}"}
        for key, body in list(ledger.sent.items()):
            if key not in ledger.acked:
                status, answer = request(service.port, "POST", "/v1/comments", body, {**site, "Idempotency-Key": key})
                assert status == 201, (status, answer)
                ledger.acked[key] = answer["id"]
        check_stored(database_url, ledger)
    finally:
        service.kill()
    unexpected = {s: n for s, n in ledger.answers.items() if s not in (200, 201)}
    assert not unexpected, f"answers other than 200/201: {unexpected}"
    assert len(ledger.acked) == len(ledger.sent) and ledger.decided
