"""Signed webhooks to a real receiver on 127.0.0.1: signature, retries, outages, restarts, delivery log."""

from __future__ import annotations

import asyncio
import json
import random
import socket
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from structlog.testing import capture_logs

from moderation.__main__ import main
from moderation.app import create_app
from moderation.domain import Role
from moderation.appkeys import STORE, WEBHOOK_CONFIG
from moderation.policy import Policy, PolicyBook
from moderation.settings import Settings
from moderation.webhook_targets import TargetPolicy, parse_networks
from moderation.webhooks import SIGNATURE_HEADER, DeliveryConfig, backoff_delay, sign, verify

from .conftest import Api, dump

FAST = DeliveryConfig(poll_interval=0.02, backoff_base=0.02, backoff_cap=0.1, max_attempts=10_000, timeout=2)
SECRET = "whsec_test-secret-value"
EMAIL = "rahasia@example.co.id"


@dataclass
class Receiver:
    """The site's webhook endpoint: verifies every signature, can answer 503 for a while."""

    secret: str = SECRET
    failures_left: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)
    bad_signatures: int = 0
    requests: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = await request.text()
        if not verify(self.secret, request.headers.get(SIGNATURE_HEADER, ""), body, now=int(time.time())):
            self.bad_signatures += 1
            return web.Response(status=401)
        if self.failures_left > 0:
            self.failures_left -= 1
            return web.Response(status=503, text="maintenance")
        self.bodies.append(body)
        self.events.append(json.loads(body))
        return web.Response(status=204)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hooks/moderation", self.handle)
        return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def eventually(condition: Callable[[], Any], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@pytest.fixture
def hook_settings(settings: Settings) -> Settings:
    # Every comment held, no flood interval: tests make held comments quickly with the real clock.
    # The receivers listen on plain http on 127.0.0.1, which production refuses (test_webhook_targets.py).
    return replace(settings, policy=PolicyBook(default=Policy(hold_all=True, flood_interval_seconds=0)),
                   webhook_targets=TargetPolicy(allow_http=True, allowed_networks=parse_networks("127.0.0.0/8")))


StartApi = Callable[..., Awaitable[Api]]


@pytest.fixture
def start_api(aiohttp_client: Any, hook_settings: Settings) -> StartApi:
    """The real app with the real clock (backoff is scheduled in wall time) and millisecond retries."""

    async def start(config: DeliveryConfig = FAST) -> Api:
        app = create_app(hook_settings)
        app[WEBHOOK_CONFIG] = config
        return Api(client=await aiohttp_client(app), app=app)

    return start


async def receiver_at(port: int, receiver: Receiver) -> TestServer:
    server = TestServer(receiver.app(), host="127.0.0.1", port=port)
    await server.start_server()
    return server


async def held_comment(api: Api, n: int) -> dict[str, Any]:
    resp = await api.post_comment(content=f"Komentar nomor {n} tentang banjir", author_email=EMAIL)
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def approve(api: Api, comment_id: int, revision: int = 1) -> dict[str, Any]:
    mod = await api.key(Role.MODERATOR)
    resp = await api.client.post(f"/v1/comments/{comment_id}/decision", json={"action": "approve", "revision": revision},
                                 headers={"Authorization": f"Bearer {mod}"})
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def use_webhook(api: Api, url: str, secret: str = SECRET) -> None:
    await api.app[STORE].set_webhook("kompas-test", url, secret, datetime.now(timezone.utc))


# -- delivery ------------------------------------------------------------------------------------------


async def test_approval_reaches_the_receiver_signed(start_api: StartApi) -> None:
    receiver = Receiver()
    server = await receiver_at(free_port(), receiver)
    try:
        api = await start_api()
        await use_webhook(api, str(server.make_url("/hooks/moderation")))
        comment = await held_comment(api, 1)
        decided = await approve(api, comment["id"])
        assert decided["webhook_queued"] is True
        await eventually(lambda: receiver.events)
        await asyncio.sleep(0.1)  # nothing else arrives
    finally:
        await server.close()
    assert receiver.bad_signatures == 0
    [event] = receiver.events
    assert event["event"] == "comment.status_changed"
    assert event["comment_id"] == comment["id"]
    assert event["article_id"] == comment["comment"]["article_id"]
    assert (event["status"], event["previous_status"], event["label"]) == ("published", "held", "ham")
    assert event["revision"] == 2 and event["decided_at"] and event["event_id"]
    assert EMAIL not in receiver.bodies[0]


async def test_signature_checks() -> None:
    body = '{"event":"comment.status_changed"}'
    header = sign(SECRET, 1_700_000_000, body)
    assert header.startswith("t=1700000000,v1=")
    assert verify(SECRET, header, body, now=1_700_000_100)
    assert not verify("whsec_other", header, body, now=1_700_000_100)
    assert not verify(SECRET, header, body + " ", now=1_700_000_100)
    assert not verify(SECRET, header, body, now=1_700_000_000 + 3600)  # a replay an hour later
    assert not verify(SECRET, "garbage", body, now=1_700_000_000)


def test_backoff_grows_is_capped_and_jittered() -> None:
    config = DeliveryConfig(backoff_base=1.0, backoff_cap=60.0)
    rng = random.Random(7)
    delays = [backoff_delay(n, config, rng) for n in range(1, 12)]
    assert 0.5 <= delays[0] <= 1.0 and 1.0 <= delays[1] <= 2.0 and 2.0 <= delays[2] <= 4.0
    assert all(30.0 <= d <= 60.0 for d in delays[7:])
    assert len({round(d, 6) for d in delays[7:]}) > 1  # jitter: failing sites do not retry in lockstep


async def test_receiver_errors_are_retried_and_logged(start_api: StartApi) -> None:
    receiver = Receiver(failures_left=3)
    server = await receiver_at(free_port(), receiver)
    try:
        api = await start_api()
        await use_webhook(api, str(server.make_url("/hooks/moderation")))
        comment = await held_comment(api, 1)
        await approve(api, comment["id"])
        await eventually(lambda: receiver.events)
    finally:
        await server.close()
    assert len(receiver.events) == 1 and receiver.requests == 4
    admin = await api.key(Role.ADMIN)
    resp = await api.client.get("/v1/admin/webhooks/deliveries", headers={"Authorization": f"Bearer {admin}"})
    log = (await resp.json())["items"]
    assert [d["status_code"] for d in log] == [204, 503, 503, 503]  # newest first
    assert [d["attempt"] for d in log] == [4, 3, 2, 1]
    assert log[-1]["error"] == "HTTP 503" and log[0]["error"] is None  # the receiver's "maintenance" is not kept
    assert {d["state"] for d in log} == {"delivered"}


async def test_outage_across_a_restart_loses_no_event(start_api: StartApi) -> None:
    """The receiver is down while decisions are made and the service restarts; it still gets everything."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/hooks/moderation"
    api = await start_api()
    await use_webhook(api, url)
    comments = [await held_comment(api, n) for n in range(3)]
    for comment in comments:
        await approve(api, comment["id"])
    store = api.app[STORE]
    await asyncio.sleep(0.2)  # several failed attempts (connection refused)
    failed = await store.list_webhook_deliveries("kompas-test", before_id=None, limit=100)
    assert failed and all(d.status_code is None for d in failed)
    assert all(d.comment_id == comments[0]["id"] for d in failed)  # in order: the first event blocks the rest
    await api.client.close()  # the service stops with three events pending

    receiver = Receiver()
    server = await receiver_at(port, receiver)
    try:
        again = await start_api()  # a new process on the same SQLite file
        await eventually(lambda: len(receiver.events) >= 3)
        await asyncio.sleep(0.1)
    finally:
        await server.close()
    assert [e["comment_id"] for e in receiver.events] == [c["id"] for c in comments]
    assert receiver.bad_signatures == 0
    backlog = await again.app[STORE].webhook_backlog("kompas-test")
    assert backlog == {"pending": 0, "failed": 0, "delivered": 3}


async def test_events_of_one_comment_arrive_in_order(start_api: StartApi) -> None:
    receiver = Receiver(failures_left=2)
    server = await receiver_at(free_port(), receiver)
    try:
        api = await start_api()
        await use_webhook(api, str(server.make_url("/hooks/moderation")))
        comment = await held_comment(api, 1)
        await approve(api, comment["id"])
        mod = await api.key(Role.MODERATOR)
        resp = await api.client.post(f"/v1/comments/{comment['id']}/decision", headers={"Authorization": f"Bearer {mod}"},
                                     json={"action": "remove", "label": "toxic", "revision": 2})
        assert resp.status == 200
        await eventually(lambda: len(receiver.events) == 2)
    finally:
        await server.close()
    assert [(e["previous_status"], e["status"]) for e in receiver.events] == [("held", "published"),
                                                                            ("published", "removed")]


async def test_gives_up_after_max_attempts_and_admin_can_redeliver(start_api: StartApi) -> None:
    port = free_port()
    api = await start_api(replace(FAST, max_attempts=2))
    await use_webhook(api, f"http://127.0.0.1:{port}/hooks/moderation")
    comment = await held_comment(api, 1)
    await approve(api, comment["id"])
    store = api.app[STORE]
    await eventually_async(lambda: store.webhook_backlog("kompas-test"), {"pending": 0, "failed": 1, "delivered": 0})
    receiver = Receiver()
    server = await receiver_at(port, receiver)
    try:
        admin = await api.key(Role.ADMIN)
        resp = await api.client.post("/v1/admin/webhooks/retry", headers={"Authorization": f"Bearer {admin}"})
        assert (await resp.json()) == {"requeued": 1}
        await eventually(lambda: receiver.events)
    finally:
        await server.close()


async def eventually_async(fetch: Callable[[], Awaitable[Any]], expected: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while (value := await fetch()) != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"{value!r} != {expected!r}")
        await asyncio.sleep(0.02)


async def test_no_event_without_a_webhook_or_status_change(start_api: StartApi, hook_settings: Settings) -> None:
    api = await start_api()
    comment = await held_comment(api, 1)
    decided = await approve(api, comment["id"])
    assert decided["webhook_queued"] is False
    with sqlite3.connect(hook_settings.effective_database_url.removeprefix("sqlite:///")) as conn:
        assert conn.execute("SELECT COUNT(*) FROM webhook_outbox").fetchone()[0] == 0


async def test_secret_and_email_never_logged_or_stored_in_events(start_api: StartApi, hook_settings: Settings,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    receiver = Receiver(failures_left=1)
    server = await receiver_at(free_port(), receiver)
    try:
        with capture_logs() as logs:
            api = await start_api()
            await use_webhook(api, str(server.make_url("/hooks/moderation")))
            comment = await held_comment(api, 1)
            await approve(api, comment["id"])
            # The receiver sees the event before the dispatcher logs the delivery: wait for the log line too.
            await eventually(
                lambda: any(entry.get("event") == "webhook_delivery" and entry.get("delivered") for entry in logs),
                timeout=30.0,
            )
    finally:
        await server.close()
    assert receiver.events
    everything = dump(logs) + caplog.text
    assert SECRET not in everything and EMAIL not in everything
    with sqlite3.connect(hook_settings.effective_database_url.removeprefix("sqlite:///")) as conn:
        stored = dump(conn.execute("SELECT payload, last_error FROM webhook_outbox").fetchall())
        stored += dump(conn.execute("SELECT * FROM webhook_deliveries").fetchall())
    assert EMAIL not in stored and SECRET not in stored


# -- configuring the webhook -----------------------------------------------------------------------------


async def test_admin_sets_the_webhook_and_sees_the_secret_once(start_api: StartApi) -> None:
    api = await start_api()
    admin = {"Authorization": f"Bearer {await api.key(Role.ADMIN)}"}
    mod = {"Authorization": f"Bearer {await api.key(Role.MODERATOR)}"}
    url = "https://kompas.example/hooks/moderation"
    assert (await api.client.put("/v1/admin/webhook", json={"url": url}, headers=mod)).status == 403
    assert (await api.client.put("/v1/admin/webhook", json={"url": "ftp://x"}, headers=admin)).status == 422
    resp = await api.client.put("/v1/admin/webhook", json={"url": url}, headers=admin)
    assert resp.status == 200
    secret = (await resp.json())["secret"]
    assert secret.startswith("whsec_")
    shown = await (await api.client.get("/v1/admin/webhook", headers=admin)).json()
    assert shown["url"] == url and secret not in dump(shown)
    assert shown["events"] == {"pending": 0, "failed": 0, "delivered": 0}
    assert (await api.client.get("/v1/admin/webhooks/deliveries", headers=mod)).status == 403
    resp = await api.client.delete("/v1/admin/webhook", headers=admin)
    assert (await resp.json())["url"] is None


def test_cli_sets_the_webhook_and_prints_the_secret_once(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    code = main(["sites", "set-webhook", "--site", "kompas-id", "--url", "https://kompas.example/hook",
                 "--data-dir", str(data)])
    assert code == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("whsec_")
    with sqlite3.connect(data / "moderation.sqlite3") as conn:
        assert conn.execute("SELECT webhook_url, webhook_secret FROM sites").fetchone() == (
            "https://kompas.example/hook", out[-1])
    assert main(["sites", "set-webhook", "--site", "kompas-id", "--url", "javascript:alert(1)",
                 "--data-dir", str(data)]) == 2
