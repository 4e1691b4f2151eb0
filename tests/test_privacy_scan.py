"""The issue's done-when scan: a full run of the real service, every output searched for the submitted e-mails and IPs.

The service runs as ops run it (``moderation serve``, JSON logs) with a webhook receiver. Every route a site,
a moderator, an admin and the operator use is called — submissions in JSON, WordPress form and Akismet shape,
refusals of every kind, idempotent replays, the queue, decisions, reports, audit, webhooks, the moderator page,
metrics, erasure. Then every response (status line, headers, body), every webhook body, the whole log and the
metrics page are searched for each submitted e-mail (as typed and as stored) and IP (as sent and canonical):
they may appear only in the moderators' views (the queue API and the /moderate page), and after the erasure
that author's do not remain in the database either.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from .served import create_key, free_port, serve

AUTHORS = [
    # (e-mail as typed, as stored, IP as sent, canonical IP)
    ("Pindai.Satu@Contoh-Rahasia.CO.ID", "pindai.satu@contoh-rahasia.co.id", "203.0.113.71", "203.0.113.71"),
    ("pindai.dua@contoh-rahasia.co.id", "pindai.dua@contoh-rahasia.co.id", "::ffff:198.51.100.72", "198.51.100.72"),
    ("pindai.tiga@contoh-rahasia.co.id", "pindai.tiga@contoh-rahasia.co.id", "2001:db8::73", "2001:db8::73"),
    ("pindai.empat@contoh-rahasia.co.id", "pindai.empat@contoh-rahasia.co.id", "203.0.113.74", "203.0.113.74"),
]
SECRETS = sorted({s for a in AUTHORS for s in a} | {a[1].split("@")[0] for a in AUTHORS} | {"contoh-rahasia"})
# Where the e-mail is shown on purpose, to moderators only: the queue (flat and by cluster) and the page.
MODERATOR_VIEWS = ("/v1/queue", "/v1/queue/clusters", "/moderate", "/moderate/clusters")


def leaks(text: str) -> list[str]:
    low = text.lower()
    return [s for s in SECRETS if s.lower() in low]


class Recorder:
    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session, self.base = session, base
        self.outputs: list[tuple[str, str]] = []  # (what, text)

    async def call(self, method: str, path: str, *, expect: int | None = None, **kwargs: Any) -> Any:
        async with self.session.request(method, self.base + path, allow_redirects=False, **kwargs) as resp:
            body = await resp.text()
            headers = "\n".join(f"{k}: {v}" for k, v in resp.headers.items())
            self.outputs.append((f"{method} {path} -> {resp.status}", f"{resp.status}\n{headers}\n{body}"))
            if expect is not None:
                assert resp.status == expect, (method, path, resp.status, body[:300])
            return json.loads(body) if resp.content_type == "application/json" and body else body


async def test_no_submitted_email_or_ip_leaves_the_service_outside_moderator_views(tmp_path: Path,
                                                                                  tiny_models_dir: Path) -> None:
    data = tmp_path / "data"
    site, mod, admin = (create_key(data, role) for role in ("site", "moderator", "admin"))
    operator = subprocess.run([sys.executable, "-m", "moderation", "keys", "create", "--role", "operator",
                               "--data-dir", str(data)], capture_output=True, text=True, check=True,
                              timeout=120).stdout.strip().splitlines()[-1]
    policy = tmp_path / "policy.toml"
    policy.write_text('[default]\nhold_all = true\nflood_interval_seconds = 0\n', encoding="utf-8")
    hooks: list[str] = []

    async def receive(request: web.Request) -> web.Response:
        hooks.append(await request.text())
        return web.Response(status=204)

    receiver_app = web.Application()
    receiver_app.router.add_post("/hook", receive)
    receiver = TestServer(receiver_app, host="127.0.0.1", port=free_port())
    await receiver.start_server()
    env = {"MODERATION_LOG_JSON": "true", "MODERATION_POLICY_FILE": str(policy),
           "MODERATION_WEBHOOK_ALLOW_HTTP": "true", "MODERATION_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8"}
    try:
        with serve(data, tiny_models_dir, **env) as served:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:  # 127.0.0.1
                rec = Recorder(session, served.url)
                await run_everything(rec, site, mod, admin, operator, str(receiver.make_url("/hook")), hooks)
            log = served.log_text()
    finally:
        await receiver.close()

    assert hooks, "the webhook receiver got events"
    shown = [text for what, text in rec.outputs if what.split()[1].split("?")[0] in MODERATOR_VIEWS]
    assert any(AUTHORS[0][1] in text for text in shown), "the moderators do see the e-mail (the scan is not vacuous)"
    found = []
    for what, text in rec.outputs:
        if what.split()[1].split("?")[0] not in MODERATOR_VIEWS and leaks(text):
            found.append(f"response {what}: {leaks(text)}")
    found += [f"webhook body: {leaks(body)}" for body in hooks if leaks(body)]
    found += [f"log line: {line[:200]}" for line in log.splitlines() if leaks(line)]
    assert not found, "\n".join(found)

    # The database holds the others (until their retention), but nothing of the erased author.
    with sqlite3.connect(data / "moderation.sqlite3") as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        dump = "\n".join(repr(row) for t in tables for row in conn.execute(f'SELECT * FROM "{t}"'))
    erased = AUTHORS[3]
    assert erased[1] not in dump and erased[3] not in dump
    assert AUTHORS[0][1] in dump
    assert all(a[3] in dump for a in AUTHORS[:3])

    # ...until their retention ends: with retention of a second, a purge leaves no IP at all.
    short = tmp_path / "short.toml"
    short.write_text("[default]\nretain_addresses_days = 0.00001\nretain_rejected_days = 0.00001\n", encoding="utf-8")
    await asyncio.sleep(1.0)
    purged = subprocess.run([sys.executable, "-m", "moderation", "purge", "--apply", "--policy", str(short),
                             "--data-dir", str(data)], capture_output=True, text=True, timeout=120)
    assert purged.returncode == 0, purged.stderr
    assert json.loads(purged.stdout)["sites"]["kompas-test"]["addresses"] == 3
    with sqlite3.connect(data / "moderation.sqlite3") as conn:
        dump = "\n".join(repr(row) for t in tables for row in conn.execute(f'SELECT * FROM "{t}"'))
    assert not [a[3] for a in AUTHORS if a[3] in dump]
    assert len(rec.outputs) > 40 and len(log.splitlines()) > 40  # the scan covered a real run


async def run_everything(rec: Recorder, site: str, mod: str, admin: str, operator: str, hook_url: str,
                         hooks: list[str]) -> None:
    as_site, as_mod = {"Authorization": f"Bearer {site}"}, {"Authorization": f"Bearer {mod}"}
    as_admin, as_op = {"Authorization": f"Bearer {admin}"}, {"Authorization": f"Bearer {operator}"}
    for path in ("/healthz", "/readyz", "/v1/openapi.json"):
        await rec.call("GET", path, expect=200)
    await rec.call("PUT", "/v1/admin/webhook", json={"url": hook_url}, headers=as_admin, expect=200)

    ids = []
    for n, (email, _, ip, _) in enumerate(AUTHORS[:3]):
        body = {"article_id": "2026/12/02/pindai", "author_name": f"Pembaca {n}", "author_email": email,
                "content": f"Komentar nomor {n} tentang banjir di kota kami", "author_ip": ip,
                "user_agent": "Mozilla/5.0 (Pindai)", "referrer": "https://news.example/pindai"}
        answer = await rec.call("POST", "/v1/comments", json=body, headers={**as_site, "Idempotency-Key": f"k{n}"},
                                expect=201)
        ids.append(answer["id"])
        await rec.call("POST", "/v1/comments", json=body, headers={**as_site, "Idempotency-Key": f"k{n}"},
                       expect=201)  # replayed
        await rec.call("POST", "/v1/comments", json=body, headers=as_site, expect=409)  # duplicate
    # A WordPress form post, an invalid submission whose error must not echo the address, a bad IP.
    email, _, ip, _ = AUTHORS[3]
    form = {"author": "Pembaca Empat", "email": email, "comment": "Komentar dari formulir WordPress",
            "comment_post_ID": "77", "author_ip": ip}
    ids.append((await rec.call("POST", "/v1/comments", data=form, headers=as_site, expect=201))["id"])
    await rec.call("POST", "/v1/comments", json={"author_email": email + "@@", "author_ip": ip, "content": ""},
                   headers=as_site, expect=422)
    await rec.call("POST", "/v1/comments", json={"article_id": "a", "author_name": "x", "author_email": email,
                                                 "content": "isi", "author_ip": "not-an-ip " + ip},
                   headers=as_site, expect=422)
    # The drop-in APIs carry the same personal fields.
    akismet = {"api_key": site, "blog": "https://news.example", "user_ip": AUTHORS[0][2],
               "comment_author_email": AUTHORS[0][0], "comment_content": "Semoga banjir cepat surut"}
    for path in ("/1.1/comment-check", "/1.1/submit-ham", "/1.1/verify-key"):
        await rec.call("POST", path, data={**akismet, "key": site}, expect=200)
    await rec.call("POST", f"/v1alpha1/comments:analyze?key={site}",
                   json={"comment": {"text": "slot gacor"}, "requestedAttributes": {"SPAM": {}}}, expect=200)

    for cid in ids:
        await rec.call("GET", f"/v1/comments/{cid}", headers=as_site, expect=200)
    queue = await rec.call("GET", "/v1/queue?limit=50", headers=as_mod, expect=200)
    revisions = {item["comment"]["id"]: item["revision"] for item in queue["items"]}
    await rec.call("GET", "/v1/queue/counts", headers=as_mod, expect=200)
    await rec.call("GET", "/v1/queue/clusters?min_size=1", headers=as_mod, expect=200)
    await rec.call("POST", f"/v1/comments/{ids[0]}/decision", headers=as_mod, expect=200,
                   json={"action": "approve", "label": "ham", "revision": revisions[ids[0]]})
    await rec.call("POST", "/v1/decisions", headers=as_mod, expect=200, json={"decisions": [
        {"comment_id": ids[1], "action": "reject", "label": "spam", "revision": revisions[ids[1]]}]})
    await rec.call("POST", f"/v1/comments/{ids[0]}/reports", headers=as_site, expect=201,
                   json={"reason": "spam", "reporter": "reader-1"})
    await rec.call("GET", "/v1/audit", headers=as_mod, expect=200)
    await rec.call("GET", "/v1/campaigns/signatures", headers=as_mod, expect=200)
    for path in ("/v1/admin/webhook", "/v1/admin/webhooks/deliveries", "/v1/admin/stats", "/v1/admin/models"):
        await rec.call("GET", path, headers=as_admin, expect=200)
    await rec.call("POST", "/v1/admin/models/reload", headers=as_op, expect=200)

    # The moderator page: sign in, the queue, a decision from the page.
    signin = await rec.call("GET", "/moderate/sign-in", expect=200)
    token = re.search(r'name="csrf" value="([^"]+)"', signin).group(1)  # type: ignore[union-attr]
    await rec.call("POST", "/moderate/sign-in", data={"csrf": token, "key": mod}, expect=303)
    page = await rec.call("GET", "/moderate", expect=200)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    await rec.call("GET", "/moderate/clusters", expect=200)
    await rec.call("POST", "/moderate/decide", expect=303,
                   data={"csrf": csrf, "one": f"approve:{ids[2]}:{revisions[ids[2]]}", "back": ""})

    # Erasure of the fourth author; then what the site and operations see.
    erased = await rec.call("DELETE", "/v1/authors", json={"author_email": AUTHORS[3][0]}, headers=as_admin,
                            expect=200)
    assert erased["erased"]["comments"] == 1
    for _ in range(200):  # the webhook events of the decisions
        if len(hooks) >= 3:
            break
        await asyncio.sleep(0.05)
    await rec.call("GET", "/v1/admin/webhooks/deliveries", headers=as_admin, expect=200)
    await rec.call("GET", "/metrics", expect=200)
