"""No SSRF through the webhook: https only, no inside address at registration or at delivery (DNS rebinding)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer

from moderation.__main__ import main
from moderation.domain import Decision, Role
from moderation.appkeys import STORE
from moderation.settings import Settings, SettingsError
from moderation.store import open_store
from moderation.webhook_targets import GuardedResolver, TargetPolicy, check_url, parse_networks
from moderation.webhooks import DeliveryConfig, WebhookDispatcher

from .conftest import Api, FakeClock, MakeApi
from .test_store_contract import decision, new_comment, render
from .test_webhooks import SECRET, Receiver, free_port

STRICT = TargetPolicy()

REFUSED_LITERALS = {
    "https://127.0.0.1/hook": "loopback",
    "https://127.8.9.10:6379/": "loopback",
    "https://[::1]/hook": "loopback",
    "https://10.1.2.3/hook": "private",
    "https://172.16.0.9/hook": "private",
    "https://192.168.0.1/admin": "private",
    "https://169.254.169.254/latest/meta-data/": "link-local",
    "https://[fe80::1]/hook": "link-local",
    "https://[fd12:3456::1]/hook": "unique-local",
    "https://100.64.0.7/hook": "shared (CGNAT)",
    "https://[::ffff:127.0.0.1]/hook": "loopback",  # IPv4-mapped IPv6
    "https://[64:ff9b::a00:1]/hook": "private",  # NAT64 of 10.0.0.1
    "https://0.0.0.0/hook": "unspecified",
    "https://[2002:7f00:1::1]/hook": "loopback",  # 6to4 of 127.0.0.1
    "https://198.51.100.7/hook": "private",  # documentation range (Python counts it private)
    "https://[2001:db8::1]/hook": "private",
    "https://2130706433/hook": "loopback",  # a name to urlsplit, 127.0.0.1 to getaddrinfo
    "https://0x7f.1/hook": "loopback",
}


class FixedResolver(AbstractResolver):
    """Answers every name with the addresses it is told, and counts the questions (DNS the test controls)."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = list(addresses)
        self.calls = 0

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET,
                      ) -> list[ResolveResult]:
        self.calls += 1
        return [ResolveResult(hostname=host, host=a, port=port,
                              family=socket.AF_INET6 if ":" in a else socket.AF_INET, proto=0, flags=0)
                for a in self.addresses]

    async def close(self) -> None:
        pass


@pytest.mark.parametrize("url", list(REFUSED_LITERALS))
async def test_inside_literal_addresses_are_refused_by_name_of_range(url: str) -> None:
    with pytest.raises(Exception) as caught:
        await check_url(url, STRICT)
    error = caught.value
    assert getattr(error, "http_status", None) == 422
    [problem] = error.public["fields"]["url"]  # type: ignore[attr-defined]
    assert problem["code"] == "refused_address"
    assert REFUSED_LITERALS[url] in problem["message"]


async def test_public_https_is_accepted_and_http_only_when_allowed() -> None:
    public = FixedResolver("93.184.216.34")
    assert await check_url("https://hooks.example.com/x", STRICT, public) == "https://hooks.example.com/x"
    assert await check_url("https://93.184.216.34/x", STRICT) == "https://93.184.216.34/x"
    with pytest.raises(Exception) as caught:
        await check_url("http://hooks.example.com/x", STRICT, public)
    assert caught.value.public["fields"]["url"][0]["code"] == "https_required"  # type: ignore[attr-defined]
    relaxed = TargetPolicy(allow_http=True)
    assert await check_url("http://hooks.example.com/x", relaxed, public) == "http://hooks.example.com/x"


async def test_a_name_resolving_inside_is_refused_at_registration() -> None:
    for address, reason in (("127.0.0.1", "loopback"), ("10.0.0.5", "private"), ("::ffff:192.168.1.1", "private")):
        with pytest.raises(Exception) as caught:
            await check_url("https://innocent.example.com/hook", STRICT, FixedResolver("93.184.216.34", address))
        [problem] = caught.value.public["fields"]["url"]  # type: ignore[attr-defined]
        assert problem["code"] == "refused_address" and reason in problem["message"]
    for name in ("https://localhost/hook", "https://api.localhost:8080/hook"):
        with pytest.raises(Exception):
            await check_url(name, STRICT, FixedResolver("93.184.216.34"))


async def test_allowed_networks_open_exactly_those_ranges() -> None:
    policy = TargetPolicy(allowed_networks=parse_networks("10.20.0.0/16, ::1/128"))
    assert await check_url("https://10.20.3.4/hook", policy)
    assert await check_url("https://[::1]/hook", policy)
    assert await check_url("https://[::ffff:10.20.3.4]/hook", policy)  # the mapped form of an allowed one
    with pytest.raises(Exception):
        await check_url("https://10.21.0.1/hook", policy)
    with pytest.raises(Exception):
        await check_url("https://127.0.0.1/hook", policy)


def test_settings_read_the_allowances_and_refuse_bad_networks() -> None:
    settings = Settings.from_env({"MODERATION_WEBHOOK_ALLOW_HTTP": "true",
                                  "MODERATION_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8,fd00::/8"})
    assert settings.webhook_targets.allow_http is True
    assert settings.webhook_targets.allowed_networks == (ipaddress.ip_network("127.0.0.0/8"),
                                                         ipaddress.ip_network("fd00::/8"))
    assert Settings.from_env({}).webhook_targets == TargetPolicy()
    with pytest.raises(SettingsError, match="MODERATION_WEBHOOK_ALLOW_NETWORKS"):
        Settings.from_env({"MODERATION_WEBHOOK_ALLOW_NETWORKS": "10.0.0.0/33"})
    with pytest.raises(SettingsError, match="MODERATION_WEBHOOK_ALLOW_HTTP"):
        Settings.from_env({"MODERATION_WEBHOOK_ALLOW_HTTP": "maybe"})


@pytest.mark.parametrize("url,code", [
    ("http://hooks.example.com/x", "https_required"),
    ("https://127.0.0.1:6379/", "refused_address"),
    ("https://169.254.169.254/latest/meta-data/", "refused_address"),
    ("https://[::ffff:10.0.0.1]/", "refused_address"),
])
async def test_admin_api_refuses_with_422_naming_url_and_stores_nothing(api: Api, url: str, code: str) -> None:
    admin = {"Authorization": f"Bearer {await api.key(Role.ADMIN)}"}
    resp = await api.client.put("/v1/admin/webhook", json={"url": url}, headers=admin)
    assert resp.status == 422
    body = await resp.json()
    assert body["error"]["code"] == "invalid_webhook"
    assert body["error"]["fields"]["url"][0]["code"] == code
    shown = await (await api.client.get("/v1/admin/webhook", headers=admin)).json()
    assert shown["url"] is None


def test_cli_refuses_inside_addresses(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sites", "set-webhook", "--site", "kompas-id", "--url", "https://192.168.1.1/hook",
                 "--data-dir", str(tmp_path / "data")])
    assert code == 2
    assert "private" in capsys.readouterr().err


# -- at delivery: the name is resolved again and the connection goes to the checked address -----------------


async def deliver_once(settings: Settings, url: str, policy: TargetPolicy, resolver: FixedResolver) -> list[Any]:
    """One event through the real dispatcher and store; the client resolves through ``resolver``."""
    store = open_store(settings.effective_database_url)
    await store.migrate()
    try:
        now = datetime.now(timezone.utc)
        await store.set_webhook("kompas-test", url, SECRET, now)
        await queue_one_event(store, now)
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(policy, resolver), use_dns_cache=False)
        async with aiohttp.ClientSession(connector=connector) as session:
            dispatcher = WebhookDispatcher(store, session, lambda: datetime.now(timezone.utc),
                                           DeliveryConfig(timeout=2), policy)
            await dispatcher.deliver_due()
        return await store.list_webhook_deliveries("kompas-test", before_id=None, limit=10)
    finally:
        await store.close()


async def queue_one_event(store: Any, now: datetime) -> None:
    """A held comment of kompas-test approved: one webhook event in the outbox."""
    held = new_comment(content="Komentar untuk webhook", decision=Decision.HOLD, site="kompas-test")
    comment, _, _ = await store.insert_comment(held, now=now, flood_interval=0, idempotency=None, render=render)
    outcome = await store.decide("kompas-test", decision(comment), actor="key:1", now=now)
    assert outcome.webhook_queued


async def test_a_name_rebound_to_loopback_after_registration_is_not_called(settings: Settings) -> None:
    receiver = Receiver()
    port = free_port()
    server = TestServer(receiver.app(), host="127.0.0.1", port=port)
    await server.start_server()
    url = f"http://hooks.example.com:{port}/hooks/moderation"
    try:
        # Registration saw a public address...
        assert await check_url(url, TargetPolicy(allow_http=True), FixedResolver("93.184.216.34"))
        # ...then the name is re-pointed at the receiver on loopback: the delivery refuses, nothing arrives.
        rebound = FixedResolver("127.0.0.1")
        strict = replace(settings, data_dir=settings.data_dir / "strict")
        [attempt] = await deliver_once(strict, url, TargetPolicy(allow_http=True), rebound)
        assert rebound.calls == 1 and receiver.requests == 0
        assert attempt.status_code is None and "refused" in attempt.error and "loopback" in attempt.error
        # Control: with loopback allowed, the same name reaches exactly the address the resolver checked.
        allowed = TargetPolicy(allow_http=True, allowed_networks=parse_networks("127.0.0.0/8"))
        [attempt] = await deliver_once(replace(settings, data_dir=settings.data_dir / "allowed"), url, allowed,
                                       FixedResolver("127.0.0.1"))
        await asyncio.sleep(0)
        assert attempt.status_code == 204 and receiver.requests == 1
    finally:
        await server.close()


async def test_a_literal_inside_address_stored_directly_is_refused_at_delivery(settings: Settings) -> None:
    receiver = Receiver()
    port = free_port()
    server = TestServer(receiver.app(), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        # A row written before this check existed (or by hand) is still refused when it is delivered.
        [attempt] = await deliver_once(settings, f"http://127.0.0.1:{port}/hooks/moderation",
                                       TargetPolicy(allow_http=True), FixedResolver())
        assert receiver.requests == 0 and "loopback" in attempt.error
    finally:
        await server.close()


async def test_the_served_app_refuses_inside_receivers_by_default(make_api: MakeApi, settings: Settings,
                                                                   clock: FakeClock) -> None:
    """The default settings: a receiver on loopback registered straight into the store gets nothing."""
    receiver = Receiver()
    port = free_port()
    server = TestServer(receiver.app(), host="127.0.0.1", port=port)
    await server.start_server()
    try:
        api = await make_api(settings)
        await api.app[STORE].set_webhook("kompas-test", f"https://127.0.0.1:{port}/hooks/moderation", SECRET,
                                         clock())
        await queue_one_event(api.app[STORE], clock())
        admin = {"Authorization": f"Bearer {await api.key(Role.ADMIN)}"}
        for _ in range(200):
            log = await (await api.client.get("/v1/admin/webhooks/deliveries", headers=admin)).json()
            if log["items"]:
                break
            await asyncio.sleep(0.02)
        assert log["items"][0]["error"].startswith("refused") and receiver.requests == 0
    finally:
        await server.close()
