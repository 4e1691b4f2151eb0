"""Schemathesis against the live service: no 5xx, and every answer as moderation/openapi.json describes it.

The real app (``create_app``, a tiny model fitted in a temp dir, SQLite in ``tmp_path``) serves on a
127.0.0.1 port from a thread of this process; ``schemathesis run`` (its CLI, in a subprocess) reads the
served description and sends generated requests with a key of the right role for each operation
(site, moderator, admin, Perspective's ``?key=``, Akismet's ``api_key``, the page's session cookie).
Phases: examples, coverage (boundary values of every schema), fuzzing (positive and negative data)
and stateful (POST /v1/comments → read, report, decide through the description's links).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import web

from moderation.app import create_app
from moderation.auth import hash_key, new_key
from moderation.domain import Role
from moderation.appkeys import STORE
from moderation.settings import Settings

SITE = "fuzz-site"
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "ignored_auth",
)
# Bounded so the whole run stays within about two minutes on two shared cores.
MAX_EXAMPLES = int(os.environ.get("MODERATION_FUZZ_EXAMPLES", "25"))
STATEFUL_STEPS = int(os.environ.get("MODERATION_FUZZ_STATEFUL_STEPS", "40"))
SEED = int(os.environ.get("MODERATION_FUZZ_SEED", "20261202"))


class LiveServer:
    """The app on a real 127.0.0.1 port, served by its own event loop in a thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._started = threading.Event()
        self._error: BaseException | None = None
        self.app: web.Application | None = None
        self.runner: web.AppRunner | None = None
        self.thread = threading.Thread(target=self._run, name="live-server", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._start())
        except BaseException as exc:  # noqa: BLE001  # re-raised in the test thread by start()
            self._error = exc
            self._started.set()
            return
        self._started.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.runner.cleanup() if self.runner else asyncio.sleep(0))
        self.loop.close()

    async def _start(self) -> None:
        self.app = create_app(self.settings)
        self.runner = web.AppRunner(self.app, handle_signals=False)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()  # port 0: the system picks a free one
        self.port = int(self.runner.addresses[0][1])

    def start(self) -> None:
        self.thread.start()
        self._started.wait(60)
        if self._error is not None:
            raise self._error
        assert self.port, "the server did not start"

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def create_key(self, role: Role, site: str = SITE) -> str:
        key = new_key(role)
        assert self.app is not None
        self.call(self.app[STORE].create_api_key(site_id=site, role=role, key_hash=hash_key(key), prefix=key[:12],
                                                 now=datetime.now(UTC)))
        return key


def sign_in(port: int, moderator_key: str) -> str:
    """A /moderate session cookie, through the real sign-in form."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/moderate/sign-in")
    form = conn.getresponse()
    page = form.read().decode()
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    cookie = next((v for k, v in form.getheaders() if k.lower() == "set-cookie" and v.startswith("mod_signin=")), "")
    assert token and cookie, "the sign-in form gave no CSRF token"
    body = urlencode({"csrf": token.group(1), "key": moderator_key})
    conn.request("POST", "/moderate/sign-in", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie.split(";", 1)[0]})
    answer = conn.getresponse()
    answer.read()
    assert answer.status == 303
    session = next(v for k, v in answer.getheaders() if k.lower() == "set-cookie" and v.startswith("mod_session="))
    conn.close()
    return session.split(";", 1)[0].split("=", 1)[1]


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    server = LiveServer(settings)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid TOML basic string


def write_config(path: Path, keys: dict[str, str]) -> Path:
    """schemathesis.toml: one credential per security scheme of the description, bounded generation."""
    lines = [
        f"seed = {SEED}",
        "workers = 1",
        "max-redirects = 0",  # the page's 303s are part of the description; follow none
        "request-timeout = 20",
        "warnings = false",
        "[generation]",
        f"max-examples = {MAX_EXAMPLES}",
        "database = \"none\"",
        "[phases.stateful]",
        f"max-steps = {STATEFUL_STEPS}",
        "[checks]",
        "enabled = false",
        *(f"{check}.enabled = true" for check in CHECKS),
    ]
    for scheme, key in keys.items():
        lines.append(f"[auth.openapi.{scheme}]")
        field = "bearer" if scheme.endswith(("siteKey", "moderatorKey", "adminKey")) else "api_key"
        lines.append(f"{field} = {toml_string(key)}")
    # The drop-in protocols answer a wrong key as the real services do, not with 401/403: Akismet with
    # 200 "invalid", Perspective (like every Google API) with 400 "API key not valid". Not an ignored key.
    for tag in ("akismet", "perspective"):
        lines += ["[[operations]]", f'include-tag = "{tag}"', "checks.ignored_auth.enabled = false"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.timeout(600)
def test_schemathesis_finds_no_server_error_and_no_broken_answer(live_server: LiveServer, tmp_path: Path) -> None:
    site = live_server.create_key(Role.SITE)
    moderator = live_server.create_key(Role.MODERATOR)
    admin = live_server.create_key(Role.ADMIN)
    config = write_config(tmp_path / "schemathesis.toml", {
        "siteKey": site, "moderatorKey": moderator, "adminKey": admin,
        "perspectiveKey": site, "googApiKey": site, "akismetKey": site, "coralKey": site,
        "moderatorSession": sign_in(live_server.port, moderator),
    })
    report = tmp_path / "report"
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color", "run",
        f"http://127.0.0.1:{live_server.port}/v1/openapi.json",
        "--report", "junit", "--report-dir", str(report),
    ]
    env = dict(os.environ)
    env.pop("SCHEMATHESIS_HOOKS", None)  # unrestricted: no hook filters what the fuzzer may send
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=540, cwd=tmp_path, env=env)
    output = done.stdout + done.stderr
    # Exit 0: every check passed for every generated request; the summary names any failure otherwise.
    assert done.returncode == 0, output[-20000:]
    assert re.search(r"\b\d+ passed\b|No issues found", output), output[-5000:]
    # It really ran: the live server counted far more requests than operations.
    answered = live_server.call(_answers(live_server))
    served = sum(answered.values())
    for (method, route, status), n in sorted(answered.items(), key=lambda kv: (kv[0][1], kv[0][0], kv[0][2])):
        print(f"{n:6.0f}  {status}  {method} {route}")
    assert served > 200, f"only {served} requests reached the service"
    # ... and got past validation into the store, the models and the moderator workflow.
    for route in (("POST", "/v1/comments", "201"), ("GET", "/v1/comments/{comment_id}", "200"),
                  ("POST", "/v1alpha1/comments:analyze", "200"), ("GET", "/v1/queue", "200")):
        assert answered.get(route), f"the fuzzer never reached {route}"
    # ... and the process still serves.
    conn = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=10)
    try:
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 200
    finally:
        conn.close()
    print(output[output.find("Test Phases:"):])  # the summary, shown with pytest -rP


async def _answers(server: LiveServer) -> dict[tuple[str, str, str], float]:
    """(method, route, status) → how many requests the service answered so, from its own metrics."""
    from moderation.appkeys import METRICS

    assert server.app is not None
    counts: dict[tuple[str, str, str], float] = {}
    for metric in server.app[METRICS].requests.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                labels = sample.labels
                counts[(labels["method"], labels["route"], labels["status"])] = sample.value
    return counts
