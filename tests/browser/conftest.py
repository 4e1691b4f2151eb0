"""Browser tests: the real app on 127.0.0.1 in a background thread, driven by Debian's Chromium via Playwright.

Skipped when /usr/bin/chromium is missing, unless MODERATION_REQUIRE_BROWSER=1 (CI), where they fail instead.
No browser is ever downloaded.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Coroutine, Iterator
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web

from moderation.app import create_app
from moderation.auth import hash_key, new_key
from moderation.domain import Role
from moderation.appkeys import STORE
from moderation.policy import Policy, PolicyBook
from moderation.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
SITE = "kompas-test"
T = TypeVar("T")


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("MODERATION_REQUIRE_BROWSER") == "1":
        pytest.fail(f"MODERATION_REQUIRE_BROWSER=1 but {CHROMIUM} is missing (apt-get install chromium)")
    pytest.skip(f"{CHROMIUM} not installed")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class LiveServer:
    """``create_app`` served by ``web.AppRunner`` on a free port, in a thread with its own event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="live-server", daemon=True)
        self.runner: web.AppRunner | None = None
        self.app: web.Application | None = None
        self.port = 0
        self.keys: dict[Role, str] = {}

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def start(self) -> None:
        self.thread.start()
        self.run(self._start())

    async def _start(self) -> None:
        self.app = create_app(self.settings)
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    def stop(self) -> None:
        if self.runner is not None:
            self.run(self.runner.cleanup())
        self.run(self.loop.shutdown_default_executor())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)
        self.loop.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def key(self, role: Role) -> str:
        if role not in self.keys:
            key = new_key(role)
            assert self.app is not None
            self.run(self.app[STORE].create_api_key(site_id=SITE, role=role, key_hash=hash_key(key), prefix=key[:12],
                                                    now=datetime.now(timezone.utc)))
            self.keys[role] = key
        return self.keys[role]

    def api(self, method: str, path: str, body: dict[str, Any] | None = None, role: Role = Role.SITE) -> Any:
        request = urllib.request.Request(
            self.url + path, method=method, data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.key(role)}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path}: {exc.code} {exc.read()!r}") from None

    def comment(self, content: str, **fields: Any) -> dict[str, Any]:
        body = {"article_id": "2026/11/25/banjir-jakarta", "author_name": "Budi Santoso",
                "author_email": "budi@example.co.id", "content": content, **fields}
        return self.api("POST", "/v1/comments", body)  # type: ignore[no-any-return]

    def status(self, comment_id: int) -> str:
        return self.api("GET", f"/v1/comments/{comment_id}")["status"]  # type: ignore[no-any-return]


@pytest.fixture
def live(settings: Settings) -> Iterator[LiveServer]:
    # Every comment held (the queue is what is under test); no flood interval between seeded comments.
    policy = PolicyBook(default=Policy(hold_all=True, flood_interval_seconds=0, reject=False))
    server = LiveServer(replace(settings, policy=policy))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def screenshot() -> Any:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
