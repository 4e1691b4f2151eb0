"""The moderator page, server side: sessions, CSRF, security headers, escaping, decisions, language, scale."""

from __future__ import annotations

import html
import json
import re
import sqlite3
import time
from dataclasses import replace
from typing import Any

from moderation.domain import Role
from moderation.policy import Policy, PolicyBook
from moderation.settings import Settings
from moderation.web.moderate.render import explanation_terms, highlight

from .conftest import Api, FakeClock, MakeApi

LINKS = "Baca https://a.example/1 dan https://b.example/2 serta https://c.example/3 ya"


def db(settings: Settings) -> sqlite3.Connection:
    return sqlite3.connect(settings.effective_database_url.removeprefix("sqlite:///"))


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "every form carries a CSRF token"
    return match.group(1)


async def sign_in(api: Api, role: Role = Role.MODERATOR, site: str = "kompas-test") -> str:
    """Sign in through the form; returns the queue page's HTML."""
    form = await (await api.client.get("/moderate/sign-in")).text()
    resp = await api.client.post("/moderate/sign-in", data={"csrf": csrf_of(form), "key": await api.key(role, site)},
                                 allow_redirects=False)
    assert resp.status == 303, await resp.text()
    assert resp.headers["Location"] == "/moderate"
    page = await api.client.get("/moderate")
    assert page.status == 200
    return await page.text()


async def post(api: Api, clock: FakeClock, **fields: Any) -> dict[str, Any]:
    resp = await api.post_comment(**fields)
    assert resp.status == 201, await resp.text()
    clock.advance(60)
    return await resp.json()


async def decide(api: Api, page: str, **form: str) -> Any:
    back = html.unescape(re.search(r'name="back" value="([^"]*)"', page).group(1))  # type: ignore[union-attr]
    return await api.client.post("/moderate/decide", data={"csrf": csrf_of(page), "back": back, **form},
                                 allow_redirects=False)


# -- signing in -------------------------------------------------------------------------------------------


async def test_queue_needs_a_session(api: Api) -> None:
    resp = await api.client.get("/moderate", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/moderate/sign-in"
    resp = await api.client.post("/moderate/decide", data={"one": "approve:1:1"}, allow_redirects=False)
    assert resp.status == 303


async def test_sign_in_sets_a_strict_session_cookie(api: Api, settings: Settings) -> None:
    form_resp = await api.client.get("/moderate/sign-in")
    form = await form_resp.text()
    key = await api.key(Role.MODERATOR)
    resp = await api.client.post("/moderate/sign-in", data={"csrf": csrf_of(form), "key": key}, allow_redirects=False)
    assert resp.status == 303
    cookie = next(v for v in resp.headers.getall("Set-Cookie") if v.startswith("mod_session="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/moderate" in cookie
    assert "Secure" not in cookie  # plain HTTP in tests; see the next test
    assert f"Max-Age={settings.session_max_age_seconds}" in cookie
    session_id = cookie.split(";")[0].split("=", 1)[1]
    with db(settings) as conn:
        stored = [r[0] for r in conn.execute("SELECT id_hash FROM moderator_sessions")]
    assert stored and session_id not in stored  # only a hash is stored


async def test_secure_cookie_behind_tls(make_api: MakeApi, settings: Settings) -> None:
    api = await make_api(replace(settings, secure_cookies=True))
    form_resp = await api.client.get("/moderate/sign-in")
    assert "Secure" in form_resp.headers["Set-Cookie"]
    token = csrf_of(await form_resp.text())
    # A browser sends Secure cookies over TLS only; the test talks plain HTTP, so it sends it by hand.
    api.client.session.cookie_jar.clear()
    resp = await api.client.post("/moderate/sign-in", data={"csrf": token, "key": await api.key(Role.MODERATOR)},
                                 headers={"Cookie": f"mod_signin={token}"}, allow_redirects=False)
    cookie = next(v for v in resp.headers.getall("Set-Cookie") if v.startswith("mod_session="))
    assert "Secure" in cookie


async def test_sign_in_refuses_bad_keys_and_forged_forms(api: Api) -> None:
    form = await (await api.client.get("/moderate/sign-in")).text()
    token = csrf_of(form)
    resp = await api.client.post("/moderate/sign-in", data={"csrf": token, "key": await api.key(Role.SITE)})
    assert resp.status == 401
    retry = await resp.text()
    assert "not a valid moderator key" in retry
    assert csrf_of(retry) != token  # every form gets a fresh token
    resp = await api.client.post("/moderate/sign-in", data={"csrf": csrf_of(retry), "key": "mod_mod_guess"})
    assert resp.status == 401
    resp = await api.client.post("/moderate/sign-in", data={"csrf": "forged", "key": await api.key(Role.MODERATOR)})
    assert resp.status == 403
    assert resp.content_type == "text/html"


async def test_admin_key_can_moderate(api: Api) -> None:
    assert "Held" in await sign_in(api, Role.ADMIN)


async def test_sign_out_ends_the_session(api: Api, settings: Settings) -> None:
    page = await sign_in(api)
    resp = await api.client.post("/moderate/sign-out", data={"csrf": csrf_of(page)}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/moderate/sign-in"
    with db(settings) as conn:
        assert conn.execute("SELECT COUNT(*) FROM moderator_sessions").fetchone()[0] == 0
    assert (await api.client.get("/moderate", allow_redirects=False)).status == 303


async def test_page_forms_refuse_other_bodies(api: Api) -> None:
    # Multipart (here without its boundary, which the form parser cannot even read) or JSON: 415, never a 500.
    page = await sign_in(api)
    for path in ("/moderate/sign-in", "/moderate/sign-out", "/moderate/decide"):
        for content_type, body in (("multipart/form-data", "csrf=&key="), ("application/json", '{"csrf": ""}')):
            resp = await api.client.post(path, data=body, headers={"Content-Type": content_type},
                                         allow_redirects=False)
            assert resp.status == 415, (path, content_type)
            assert resp.content_type == "text/html" and "<script" not in await resp.text()
    assert "Held" in (await (await api.client.get("/moderate")).text()) and csrf_of(page)


async def test_sign_out_needs_the_csrf_token(api: Api) -> None:
    await sign_in(api)
    resp = await api.client.post("/moderate/sign-out", data={}, allow_redirects=False)
    assert resp.status == 403


async def test_session_expires(api: Api, clock: FakeClock, settings: Settings) -> None:
    await sign_in(api)
    clock.advance(settings.session_max_age_seconds + 1)
    assert (await api.client.get("/moderate", allow_redirects=False)).status == 303


async def test_revoked_key_ends_its_sessions(api: Api, settings: Settings) -> None:
    await sign_in(api)
    with db(settings) as conn:
        conn.execute("UPDATE api_keys SET revoked_at = '2026-01-01T00:00:00.000000Z' WHERE role = 'moderator'")
    assert (await api.client.get("/moderate", allow_redirects=False)).status == 303


# -- headers and escaping ------------------------------------------------------------------------------------


async def test_security_headers_and_no_inline_script(api: Api, clock: FakeClock) -> None:
    await post(api, clock, content=LINKS)
    await sign_in(api)
    resp = await api.client.get("/moderate")
    csp = resp.headers["Content-Security-Policy"]
    for directive in ("default-src 'none'", "script-src 'self'", "style-src 'self'", "form-action 'self'",
                      "frame-ancestors 'none'", "base-uri 'none'"):
        assert directive in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    assert resp.headers["Cache-Control"] == "no-store"
    page = await resp.text()
    scripts = re.findall(r"<script[^>]*>", page)
    assert scripts and all('src="/moderate/static/moderate.js' in s for s in scripts)
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", page)  # no on*= handlers
    js = await api.client.get(re.search(r'src="([^"]+)"', scripts[0]).group(1))  # type: ignore[union-attr]
    assert js.status == 200 and "javascript" in js.content_type
    assert js.headers["X-Content-Type-Options"] == "nosniff"


async def test_attacker_text_is_escaped(api: Api, clock: FakeClock, settings: Settings) -> None:
    await post(api, clock, author_name='<script>alert("name")</script>',
               content=f'<img src=x onerror=alert(1)> "><svg onload=alert(2)> {LINKS}')
    with db(settings) as conn:  # data from before validation existed: URLs are shown as text, never linked
        conn.execute("UPDATE comments SET author_url = 'javascript:alert(3)//\"><svg onload=alert(4)>'")
    page = await sign_in(api)
    assert "<img src=x" not in page and "<svg" not in page and '<script>alert("name")' not in page
    assert 'href="javascript:' not in page and "javascript:alert(3)//&#34;&gt;&lt;svg" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;" in page


def test_highlight_escapes_first() -> None:
    text = '<b>slot</b> gacor & "SLOT" slotmachine <script>'
    out = str(highlight(text, ["slot", "<script>", "gacor"]))
    assert out == ('&lt;b&gt;<mark>slot</mark>&lt;/b&gt; <mark>gacor</mark> &amp; &#34;<mark>SLOT</mark>&#34; '
                   'slotmachine <mark>&lt;script&gt;</mark>')
    assert str(highlight("s l o t gacor", ["s l o t"])) == "<mark>s l o t</mark> gacor"
    assert str(highlight("<i>x</i>", [])) == "&lt;i&gt;x&lt;/i&gt;"
    assert explanation_terms([{"text": "gacor", "weight": 1.2}, {"text": "gacor"}, {"weight": 1}, "junk"]) == ["gacor"]


# -- the queue on the page ---------------------------------------------------------------------------------


async def test_queue_shows_reasons_scores_words_and_history(api: Api, clock: FakeClock) -> None:
    await post(api, clock, author_email="sering@example.com")
    await post(api, clock, content="slot gacor maxwin daftar sekarang situs judi terpercaya",
               author_email="sering@example.com")
    await post(api, clock, content=LINKS, article_id="2026/11/25/jalan-rusak")
    page = await sign_in(api)
    assert page.count('class="item ') == 2
    assert "sering@example.com" in page
    assert "Too many links" in page and "Spam" in page
    assert re.search(r"<mark>(slot|gacor|maxwin|judi|daftar|situs)</mark>", page), "words that drove the score"
    assert "1 published · 1 held · 0 rejected · 0 removed" in page
    assert 'id="tab-held">Held <span class="count">2</span>' in page
    policy_only = await (await api.client.get("/moderate", params={"reason": "policy"})).text()
    assert policy_only.count('class="item ') == 1 and "jalan-rusak" in policy_only


async def test_approve_from_the_page(api: Api, clock: FakeClock) -> None:
    comment = await post(api, clock, content=LINKS)
    page = await sign_in(api)
    resp = await decide(api, page, one=f"approve:{comment['id']}:1", pos="0")
    assert resp.status == 303
    assert "done=1" in resp.headers["Location"] and "pos=0" in resp.headers["Location"]
    after = await (await api.client.get(resp.headers["Location"])).text()
    assert "1 decided." in after and 'class="item ' not in after
    site = await api.key()
    status = await (await api.client.get(f"/v1/comments/{comment['id']}",
                                         headers={"Authorization": f"Bearer {site}"})).json()
    assert status["status"] == "published"


async def test_bulk_reject_and_stale_items(api: Api, clock: FakeClock) -> None:
    comments = [await post(api, clock, content=f"{LINKS} {i}", author_email=f"p{i}@example.com") for i in range(3)]
    page = await sign_in(api)
    # Someone else decides the first comment meanwhile (through the API).
    mod = await api.key(Role.MODERATOR)
    await api.client.post(f"/v1/comments/{comments[0]['id']}/decision", json={"action": "approve", "revision": 1},
                          headers={"Authorization": f"Bearer {mod}"})
    back = html.unescape(re.search(r'name="back" value="([^"]*)"', page).group(1))  # type: ignore[union-attr]
    resp = await api.client.post("/moderate/decide", allow_redirects=False, data=[
        ("csrf", csrf_of(page)), ("back", back), ("bulk", "spam"),
        *[("select", f"{c['id']}:1") for c in comments],
    ])
    location = resp.headers["Location"]
    assert "done=2" in location and "stale=1" in location
    after = await (await api.client.get(location)).text()
    assert "2 decided." in after and "1 had changed" in after


async def test_decisions_need_the_session_csrf_token(api: Api, clock: FakeClock) -> None:
    comment = await post(api, clock, content=LINKS)
    await sign_in(api)
    resp = await api.client.post("/moderate/decide", data={"csrf": "nope", "one": f"approve:{comment['id']}:1"},
                                 allow_redirects=False)
    assert resp.status == 403


async def test_redirect_keeps_only_listing_parameters(api: Api, clock: FakeClock) -> None:
    await post(api, clock, content=LINKS)
    page = await sign_in(api)
    resp = await decide(api, page, bulk="spam")
    location = resp.headers["Location"]
    assert location.startswith("/moderate") and "none=1" in location
    resp = await api.client.post("/moderate/decide", allow_redirects=False, data={
        "csrf": csrf_of(page), "back": "reason=spam&next=https://evil.example", "bulk": "approve"})
    assert resp.headers["Location"].startswith("/moderate?reason=spam") and "evil" not in resp.headers["Location"]


async def test_reported_view(api: Api, clock: FakeClock) -> None:
    comment = await post(api, clock)
    site = await api.key()
    await api.client.post(f"/v1/comments/{comment['id']}/reports", json={"reason": "toxic"},
                          headers={"Authorization": f"Bearer {site}"})
    await sign_in(api)
    page = await (await api.client.get("/moderate", params={"reason": "reported"})).text()
    assert f'id="c{comment["id"]}"' in page and "toxic × 1" in page and "Keep up" in page


# -- language ------------------------------------------------------------------------------------------------


async def test_indonesian_from_accept_language_and_the_toggle(api: Api) -> None:
    resp = await api.client.get("/moderate/sign-in", headers={"Accept-Language": "id-ID,id;q=0.9,en;q=0.5"})
    assert "Masuk dengan kunci moderator" in await resp.text()
    await api.client.get("/moderate/language", params={"to": "en"})
    resp = await api.client.get("/moderate/sign-in", headers={"Accept-Language": "id"})
    assert "Sign in with your moderator key" in await resp.text()
    page = await sign_in(api)
    assert "Held" in page
    await api.client.get("/moderate/language", params={"to": "id"})
    assert "Ditahan" in await (await api.client.get("/moderate")).text()


# -- scale -----------------------------------------------------------------------------------------------------


async def test_thousands_of_held_comments_stay_fast(make_api: MakeApi, settings: Settings) -> None:
    api = await make_api(replace(settings, policy=PolicyBook(default=Policy(hold_all=True))))
    await api.key(Role.MODERATOR)
    reasons = json.dumps([{"code": "spam", "message": "spam", "source": "model:v", "score": 0.9, "threshold": 0.5,
                           "explanation": [{"text": "gacor", "weight": 1.0}]}])
    rows = [
        ("kompas-test", f"art-{i % 40}", "Pembaca", f"p{i % 300}@example.com", f"slot gacor nomor {i}", f"h{i}",
         "{}", "held", "hold", reasons, json.dumps({"spam": (i % 97) / 97, "toxic": 0.1}), "v",
         f"2026-11-25T08:{i // 1000:02d}:{i % 60:02d}.{i:06d}Z")
        for i in range(3000)
    ]
    with db(settings) as conn:
        conn.executemany(
            "INSERT INTO comments (site_id, article_id, author_name, author_email, content, content_hash, signals, "
            "status, decision, reasons, scores, model_version, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?13)", rows)
    await sign_in(api)
    for params in ({}, {"order": "risk"}, {"reason": "spam", "order": "risk"}, {"article_id": "art-7"}):
        started = time.perf_counter()
        resp = await api.client.get("/moderate", params=params)
        page = await resp.text()
        elapsed = time.perf_counter() - started
        assert resp.status == 200
        assert page.count('class="item ') == 50
        assert 'id="next-page"' in page
        assert elapsed < 1.0, f"{params}: {elapsed:.2f}s"
    counts = await (await api.client.get("/v1/queue/counts",
                                         headers={"Authorization": f"Bearer {await api.key(Role.MODERATOR)}"})).json()
    assert counts["held"] == 3000 and counts["held_by_reason"]["spam"] == 3000
