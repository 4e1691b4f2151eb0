"""Issue 14, item 5: the comment.created webhook event (with the decision), chosen per site."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from moderation.__main__ import main
from moderation.domain import Role
from moderation.appkeys import STORE
from moderation.settings import Settings
from moderation.webhooks import SIGNATURE_HEADER, verify

from .conftest import Api
from .test_webhooks import (  # noqa: F401  (fixtures used by name)
    EMAIL,
    SECRET,
    StartApi,
    approve,
    eventually,
    free_port,
    held_comment,
    hook_settings,
    receiver_at,
    start_api,
)

BOTH = ["comment.created", "comment.status_changed"]


class Receiver:
    """Keeps each verified delivery with its X-Moderation-Event header."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[str, dict[str, Any], str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        if not verify(SECRET, request.headers.get(SIGNATURE_HEADER, ""), body, now=int(time.time())):
            return web.Response(status=401)
        self.deliveries.append((request.headers.get("X-Moderation-Event", ""), json.loads(body), body))
        return web.Response(status=204)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hooks/moderation", self.handle)
        return app


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def outbox(settings: Settings) -> list[tuple[str, dict[str, Any]]]:
    with sqlite3.connect(settings.effective_database_url.removeprefix("sqlite:///")) as conn:
        return [(e, json.loads(p)) for e, p in conn.execute("SELECT event, payload FROM webhook_outbox ORDER BY id")]


async def use_webhook(api: Api, url: str, event_types: list[str] | None) -> None:
    await api.app[STORE].set_webhook("kompas-test", url, SECRET, datetime.now(timezone.utc), event_types=event_types)


async def test_created_and_status_changed_reach_the_receiver_in_order(start_api: StartApi) -> None:
    receiver = Receiver()
    server = await receiver_at(free_port(), receiver)  # type: ignore[arg-type]
    try:
        api = await start_api()
        await use_webhook(api, str(server.make_url("/hooks/moderation")), BOTH)
        comment = await held_comment(api, 1)
        await approve(api, comment["id"])
        await eventually(lambda: len(receiver.deliveries) == 2)
    finally:
        await server.close()
    (kind1, created, raw1), (kind2, changed, raw2) = receiver.deliveries
    assert (kind1, kind2) == ("comment.created", "comment.status_changed")
    assert created["event"] == "comment.created" and created["comment_id"] == comment["id"]
    assert (created["status"], created["decision"], created["revision"]) == ("held", "hold", 1)
    assert "policy.hold_all" in created["reasons"] and created["model_version"]
    assert set(created["scores"]) >= {"spam", "toxic"}
    assert created["event_id"] < changed["event_id"] and changed["revision"] == 2
    assert EMAIL not in raw1 and EMAIL not in raw2


async def test_the_default_is_status_changes_only_and_a_site_may_choose_created_only(
        start_api: StartApi, hook_settings: Settings) -> None:  # noqa: F811
    api = await start_api()
    await use_webhook(api, "https://kompas.example/hook", None)
    first = await held_comment(api, 1)
    assert outbox(hook_settings) == []  # sites that never chose keep what they had
    await approve(api, first["id"])
    assert [e for e, _ in outbox(hook_settings)] == ["comment.status_changed"]
    await use_webhook(api, "https://kompas.example/hook", ["comment.created"])
    second = await held_comment(api, 2)
    await approve(api, second["id"])
    events = outbox(hook_settings)
    assert [e for e, _ in events] == ["comment.status_changed", "comment.created"]
    assert events[1][1]["comment_id"] == second["id"]


async def test_admin_chooses_events_and_bad_choices_name_the_field(api: Api) -> None:
    admin = await api.key(Role.ADMIN)
    resp = await api.client.put("/v1/admin/webhook", json={"url": "https://kompas.example/hook",
                                                           "event_types": BOTH}, headers=auth(admin))
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["event_types"] == BOTH
    shown = await (await api.client.get("/v1/admin/webhook", headers=auth(admin))).json()
    assert shown["event_types"] == BOTH and "secret" not in shown
    for bad in (["comment.deleted"], [], "comment.created", [1]):
        resp = await api.client.put("/v1/admin/webhook", json={"url": "https://kompas.example/hook",
                                                               "event_types": bad}, headers=auth(admin))
        assert resp.status == 422, bad
        assert list((await resp.json())["error"]["fields"]) == ["event_types"]
    shown = await (await api.client.get("/v1/admin/webhook", headers=auth(admin))).json()
    assert shown["event_types"] == BOTH  # a refused change changed nothing
    resp = await api.client.put("/v1/admin/webhook", json={"url": "https://kompas.example/hook"}, headers=auth(admin))
    assert (await resp.json())["event_types"] == ["comment.status_changed"]


def test_cli_chooses_events(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    assert main(["sites", "set-webhook", "--site", "kompas-id", "--url", "https://kompas.example/hook",
                 "--events", "comment.created", "--data-dir", str(data)]) == 0
    with sqlite3.connect(data / "moderation.sqlite3") as conn:
        assert conn.execute("SELECT webhook_events FROM sites").fetchone() == ("comment.created",)
    assert main(["sites", "set-webhook", "--site", "kompas-id", "--url", "https://kompas.example/hook",
                 "--events", "comment.deleted", "--data-dir", str(data)]) == 2
    assert "comment.deleted" in capsys.readouterr().err
