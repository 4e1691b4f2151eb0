"""Every item of issue 9's "hostile input" list: each gets a 4xx naming the field, nothing half-stored,
the same on SQLite and PostgreSQL, and the service keeps serving."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from moderation.domain import Role
from moderation.appkeys import STORE
from moderation.settings import Secret, Settings

from .conftest import Api, FakeClock, MakeApi, valid_comment
from .postgres import pg_schema

BIG = 2**63


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def post_raw_json(api: Api, path: str, raw: str, key: str, method: str = "POST") -> Any:
    return await api.client.request(method, path, data=raw.encode("utf-8"),
                                    headers={**auth(key), "Content-Type": "application/json"})


async def comment_count(api: Api) -> int:
    counts = await api.app[STORE].queue_counts("kompas-test")
    return int(sum(counts["by_status"].values()))


def with_raw_field(field: str, raw_value: str) -> str:
    """A valid comment's JSON with one field's value replaced by raw JSON text (e.g. a lone surrogate)."""
    body = {k: v for k, v in valid_comment().items() if k != field}
    text = json.dumps(body)
    return text[:-1] + f', "{field}": {raw_value}}}'


def field_names(payload: dict[str, Any]) -> set[str]:
    return set(payload["error"].get("fields", {}))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def backend_api(request: pytest.FixtureRequest, make_api: MakeApi, settings: Settings) -> AsyncIterator[Api]:
    """The app on SQLite, and on a fresh PostgreSQL schema (skipped without PostgreSQL)."""
    if request.param == "sqlite":
        yield await make_api()
        return
    async with pg_schema() as url:
        yield await make_api(replace(settings, database_url=Secret(url)))


# -- text fields: lone surrogates, NUL and other control characters ----------------------------------------


TEXT_FIELDS = ["article_id", "author_name", "author_email", "content", "author_url", "author_ip", "user_agent",
               "referrer", "lang"]


@pytest.mark.parametrize("field", TEXT_FIELDS)
@pytest.mark.parametrize("raw", [r'"a\ud800b"', r'"a\u0000b"', r'"a\u001bb"', r'"a\u0085b"'])
async def test_bad_characters_in_any_comment_field_are_422_naming_it(backend_api: Api, field: str,
                                                                     raw: str) -> None:
    api = backend_api
    resp = await post_raw_json(api, "/v1/comments", with_raw_field(field, raw), await api.key())
    assert resp.status == 422, await resp.text()
    assert field_names(await resp.json()) == {field}
    assert await comment_count(api) == 0


async def test_tab_and_newlines_stay_allowed_in_comment_text(api: Api) -> None:
    content = "Baris pertama.\r\n\tBaris kedua, dengan tab."
    resp = await api.post_comment(content=content)
    assert resp.status == 201
    assert (await resp.json())["comment"]["content"] == content
    resp = await api.post_comment(author_name="Budi\nSantoso", author_email="lain@example.com")
    assert resp.status == 422 and field_names(await resp.json()) == {"author_name"}


async def test_bidi_and_zero_width_are_stripped_from_names_kept_in_text(api: Api) -> None:
    content = "s\u200bl\u200bo\u200bt gacor di berita ini \u202eterbalik\u202c"
    resp = await api.post_comment(author_name="\u202eBudi\u200b Santoso\u2066\ufeff", content=content)
    assert resp.status == 201
    body = await resp.json()
    assert body["comment"]["author_name"] == "Budi Santoso"
    assert body["comment"]["content"] == content  # the normaliser needs them as evidence
    resp = await api.post_comment(author_name="\u200b\u202e", author_email="lain@example.com")
    assert resp.status == 422 and field_names(await resp.json()) == {"author_name"}


# -- JSON itself --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ['{"article_id": NaN}', '{"article_id": Infinity}', '{"article_id": -Infinity}',
                                 '{"article_id": 1e400}', '{"article_id": ' + "9" * 5000 + "}"])
async def test_non_finite_and_unbounded_numbers_are_400(api: Api, raw: str) -> None:
    resp = await post_raw_json(api, "/v1/comments", raw, await api.key())
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "malformed_json"


async def test_json_nested_100000_deep_is_400_everywhere(api: Api) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    site, mod = await api.key(), await api.key(Role.MODERATOR)
    for path, key in (("/v1/comments", site), ("/v1/decisions", mod), ("/v1/comments/1/decision", mod),
                      ("/v1/comments/1/reports", site)):
        resp = await post_raw_json(api, path, deep, key)
        assert resp.status == 400, path
        assert (await resp.json())["error"]["code"] == "malformed_json"
    resp = await post_raw_json(api, f"/v1alpha1/comments:analyze?key={site}", '{"comment": ' + deep + "}", site)
    assert resp.status == 400
    # Unterminated strings full of escaped quotes: refused, not scanned quadratically.
    resp = await post_raw_json(api, "/v1/comments", '{"content": "' + 'a\\"' * 60_000, site)
    assert resp.status == 400
    # 900 levels parse in the C decoder, but are still refused past the bound of 32.
    resp = await post_raw_json(api, "/v1/comments", "[" * 900 + "]" * 900, site)
    assert resp.status == 400
    deep_object = '{"a":' * 50 + "1" + "}" * 50
    resp = await post_raw_json(api, "/v1/comments", deep_object, site)
    assert resp.status == 400
    assert (await api.client.get("/healthz")).status == 200


# -- numbers the database cannot hold ---------------------------------------------------------------------------


async def test_ids_of_2_63_and_more_in_paths_are_404(backend_api: Api) -> None:
    api = backend_api
    site, mod = await api.key(), await api.key(Role.MODERATOR)
    for value in (str(BIG), str(BIG * 10**20), "²", "١٢", "1_0", "-1", "0"):
        assert (await api.client.get(f"/v1/comments/{value}", headers=auth(site))).status == 404, value
        resp = await api.client.post(f"/v1/comments/{value}/decision", headers=auth(mod),
                                     json={"action": "approve", "revision": 1})
        assert resp.status == 404, value
        resp = await api.client.post(f"/v1/comments/{value}/reports", headers=auth(site), json={})
        assert resp.status == 404, value


async def test_ids_of_2_63_in_bulk_decisions_name_the_field(backend_api: Api) -> None:
    api = backend_api
    mod = await api.key(Role.MODERATOR)
    resp = await api.client.post("/v1/decisions", headers=auth(mod), json={"decisions": [
        {"comment_id": BIG, "action": "approve", "revision": 1},
        {"comment_id": 1, "action": "approve", "revision": BIG},
        {"comment_id": -5, "action": "approve", "revision": 1},
    ]})
    assert resp.status == 200, await resp.text()
    results = (await resp.json())["results"]
    assert [r["ok"] for r in results] == [False, False, False]
    assert [set(r["error"]["fields"]) for r in results] == [{"comment_id"}, {"revision"}, {"comment_id"}]
    assert all(r["http_status"] == 422 for r in results)
    resp = await api.client.post("/v1/comments/1/decision", headers=auth(mod),
                                 json={"action": "approve", "revision": BIG})
    assert resp.status == 422 and field_names(await resp.json()) == {"revision"}


async def test_numbers_in_queries_and_cursors_are_range_checked(backend_api: Api) -> None:
    api = backend_api
    mod, admin = await api.key(Role.MODERATOR), await api.key(Role.ADMIN)
    for name in ("cursor", "comment_id", "limit"):
        for value in (str(BIG), "²", "١", "1e3"):
            resp = await api.client.get(f"/v1/audit?{name}={value}", headers=auth(mod))
            assert resp.status == 422, (name, value)
            assert field_names(await resp.json()) == {name}
    resp = await api.client.get(f"/v1/admin/webhooks/deliveries?cursor={BIG}", headers=auth(admin))
    assert resp.status == 422 and field_names(await resp.json()) == {"cursor"}

    # The queue cursor is opaque JSON: a forged one with a huge id, a NaN risk or deep nesting is a 400.
    page = await (await api.client.get("/v1/queue?limit=1", headers=auth(mod))).json()
    assert page["next_cursor"] is None
    fingerprint = _queue_fingerprint()
    for raw in ({"f": fingerprint, "r": 0.5, "i": BIG}, {"f": fingerprint, "r": 1e308, "i": 1},
                {"f": fingerprint, "r": True, "i": 1}, [1, 2], "x"):
        cursor = base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")
        resp = await api.client.get(f"/v1/queue?cursor={cursor}", headers=auth(mod))
        assert resp.status == 400, raw
        assert (await resp.json())["error"]["code"] == "invalid_cursor"
    for cursor in (base64.urlsafe_b64encode(b"[" * 5000).decode(), "%F0%9F", "NaN"):
        resp = await api.client.get(f"/v1/queue?cursor={cursor}", headers=auth(mod))
        assert resp.status == 400, cursor


async def test_bad_characters_in_query_filters(backend_api: Api) -> None:
    api = backend_api
    mod = await api.key(Role.MODERATOR)
    for value in ("%00", "a%1Bb", "%ED%A0%80", "%FF"):
        resp = await api.client.get(f"/v1/queue?article_id={value}", headers=auth(mod))
        assert resp.status in (200, 422), value
        if resp.status == 422:
            assert field_names(await resp.json()) == {"article_id"}
    resp = await api.client.get("/v1/queue?article_id=%00", headers=auth(mod))
    assert resp.status == 422
    await signed_in(api)
    for path in ("/moderate?article_id=%00", "/moderate?article_id=%ED%A0%80",
                 "/moderate/language?to=id&article_id=%ED%A0%80", "/moderate?cursor=%00&order=%FF"):
        resp = await api.client.get(path, allow_redirects=False)
        assert resp.status < 500, path


def _queue_fingerprint() -> str:
    import hashlib

    return hashlib.sha256(json.dumps([["held"], None, None, "oldest"]).encode()).hexdigest()[:12]


# -- dates and booleans -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59",
                                   "1900-01-01T00:00:00Z", "２０２６-11-25T10:00:00Z", 20261125, True])
async def test_extreme_dates_are_422(api: Api, value: Any) -> None:
    resp = await api.post_comment(form_rendered_at=value)
    assert resp.status == 422
    assert field_names(await resp.json()) == {"form_rendered_at"}


@pytest.mark.parametrize("value", [False, 0, 0.0, "0", "", "  ", "false", "off", None])
async def test_an_empty_honeypot_is_not_a_bot(api: Api, value: Any) -> None:
    resp = await api.post_comment(honeypot=value)
    assert resp.status == 201
    body = await resp.json()
    assert "honeypot" not in [r["code"] for r in body["reasons"]]
    assert body["status"] == "published"


@pytest.mark.parametrize("value", [True, 1, "1", "http://spam.example", "yes"])
async def test_a_filled_honeypot_is_a_bot(api: Api, value: Any, clock: FakeClock) -> None:
    resp = await api.post_comment(honeypot=value)
    assert resp.status == 201
    assert "honeypot" in [r["code"] for r in (await resp.json())["reasons"]]


@pytest.mark.parametrize("value", [[1], {"a": 1}])
async def test_a_structured_honeypot_is_422(api: Api, value: Any) -> None:
    resp = await api.post_comment(honeypot=value)
    assert resp.status == 422 and field_names(await resp.json()) == {"honeypot"}


# -- flood and duplicate checks cannot be sidestepped ---------------------------------------------------------------


async def test_ipv4_mapped_address_does_not_bypass_the_flood_check(backend_api: Api) -> None:
    api = backend_api
    first = await api.post_comment(author_ip="203.0.113.9", author_email="satu@example.com")
    assert first.status == 201
    again = await api.post_comment(author_ip="::ffff:203.0.113.9", author_email="dua@example.com",
                                   content="Komentar yang lain sama sekali.")
    assert again.status == 429, await again.text()


async def test_email_in_another_case_does_not_bypass_flood_or_duplicate(backend_api: Api,
                                                                         clock: FakeClock) -> None:
    api = backend_api
    assert (await api.post_comment(author_email="Budi.Santoso@Example.co.id")).status == 201
    resp = await api.post_comment(author_email="BUDI.SANTOSO@example.co.id", content="Komentar kedua saya.")
    assert resp.status == 429
    clock.advance(60)
    resp = await api.post_comment(author_email="budi.santoso@EXAMPLE.CO.ID")
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "duplicate_comment"


# -- moderator endpoints --------------------------------------------------------------------------------------------


async def held(api: Api) -> dict[str, Any]:
    resp = await api.post_comment(content="slot gacor maxwin daftar sekarang situs judi terpercaya",
                                  author_email="bot@example.com")
    body = await resp.json()
    assert body["status"] == "held"
    return body


@pytest.mark.parametrize("note", ["catatan\u0000", "catatan\ud800", "catatan\u0007"])
async def test_bad_characters_in_notes_are_422_and_nothing_changes(backend_api: Api, note: str) -> None:
    api = backend_api
    comment = await held(api)
    mod, site = await api.key(Role.MODERATOR), await api.key()
    raw = json.dumps({"action": "reject", "label": "spam", "revision": 1, "note": note})
    resp = await post_raw_json(api, f"/v1/comments/{comment['id']}/decision", raw, mod)
    assert resp.status == 422 and field_names(await resp.json()) == {"note"}
    raw = json.dumps({"reason": "spam", "note": note})
    resp = await post_raw_json(api, f"/v1/comments/{comment['id']}/reports", raw, site)
    assert resp.status == 422 and field_names(await resp.json()) == {"note"}
    raw = json.dumps({"reason": "spam", "reporter": note})
    resp = await post_raw_json(api, f"/v1/comments/{comment['id']}/reports", raw, site)
    assert resp.status == 422 and field_names(await resp.json()) == {"reporter"}
    current = await api.app[STORE].get_comment("kompas-test", comment["id"])
    assert current is not None and current.revision == 1 and current.status.value == "held"
    events = await api.app[STORE].list_events("kompas-test", before_id=None, limit=10, comment_id=comment["id"])
    assert len(events) == 1  # only the automatic decision: no half-applied moderator action or report


async def test_notes_keep_tab_and_newlines(api: Api) -> None:
    comment = await held(api)
    mod = await api.key(Role.MODERATOR)
    resp = await api.client.post(f"/v1/comments/{comment['id']}/decision", headers=auth(mod),
                                 json={"action": "reject", "label": "spam", "revision": 1, "note": "a\n\tb"})
    assert resp.status == 200


@pytest.mark.parametrize("url", ["https://site.example/\ud800", "https://site.example/\u0000",
                                 "https://site.example/a\nb"])
async def test_bad_characters_in_the_webhook_url_are_422(backend_api: Api, url: str) -> None:
    api = backend_api
    admin = await api.key(Role.ADMIN)
    resp = await post_raw_json(api, "/v1/admin/webhook", json.dumps({"url": url}), admin, "PUT")
    assert resp.status == 422 and field_names(await resp.json()) == {"url"}
    shown = await (await api.client.get("/v1/admin/webhook", headers=auth(admin))).json()
    assert shown["url"] is None


# -- drop-in compatibility endpoints --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["teks\ud800", "teks\u0000", "teks\u001b"])
async def test_perspective_text_with_bad_characters_is_400(backend_api: Api, text: str) -> None:
    api = backend_api
    key = await api.key()
    for path, extra in (("comments:analyze", {"requestedAttributes": {"TOXICITY": {}}}),
                        ("comments:suggestscore", {"attributeScores": {"TOXICITY": {"summaryScore": {"value": 1}}}})):
        raw = json.dumps({"comment": {"text": text}, **extra})
        resp = await post_raw_json(api, f"/v1alpha1/{path}?key={key}", raw, key)
        assert resp.status == 400, path
        assert "comment.text" in (await resp.json())["error"]["message"]
    assert await api.app[STORE].list_training_labels() == []


@pytest.mark.parametrize("scores", [{"spanScores": 5}, {"spanScores": "x"}, {"spanScores": {"a": 1}},
                                    {"summaryScore": {"value": 2}}])
async def test_perspective_malformed_suggested_scores_are_400(api: Api, scores: dict[str, Any]) -> None:
    key = await api.key()
    resp = await api.client.post(f"/v1alpha1/comments:suggestscore?key={key}",
                                 json={"comment": {"text": "teks"}, "attributeScores": {"TOXICITY": scores}})
    assert resp.status == 400, await resp.text()
    assert await api.app[STORE].list_training_labels() == []


@pytest.mark.parametrize("threshold", [10**30, -1, 2])
async def test_perspective_threshold_out_of_range_is_400(api: Api, threshold: Any) -> None:
    key = await api.key()
    resp = await api.client.post(f"/v1alpha1/comments:analyze?key={key}", json={
        "comment": {"text": "teks"}, "requestedAttributes": {"TOXICITY": {"scoreThreshold": threshold}}})
    assert resp.status == 400
    assert "score_threshold" in (await resp.json())["error"]["message"]


async def test_perspective_community_id_with_nul_is_400(backend_api: Api) -> None:
    api = backend_api
    key = await api.key()
    resp = await api.client.post(f"/v1alpha1/comments:suggestscore?key={key}", json={
        "comment": {"text": "teks"}, "communityId": "a\u0000b",
        "attributeScores": {"TOXICITY": {"summaryScore": {"value": 1}}}})
    assert resp.status == 400
    assert await api.app[STORE].list_training_labels() == []


@pytest.mark.parametrize("field", ["comment_content", "blog"])
async def test_akismet_training_text_with_nul_is_422(backend_api: Api, field: str) -> None:
    api = backend_api
    key = await api.key()
    form = {"api_key": key, "comment_content": "slot gacor", "blog": "https://kompas.example", field: "a\x00b"}
    resp = await api.client.post("/1.1/submit-spam", data=form)
    assert resp.status == 422
    assert field in resp.headers["X-akismet-debug-help"]
    assert await api.app[STORE].list_training_labels() == []


# -- the /moderate page ----------------------------------------------------------------------------------------------


async def signed_in(api: Api) -> str:
    """Sign in through the page and return the session's CSRF token (cookies stay in the client)."""
    import re

    page = await (await api.client.get("/moderate/sign-in")).text()
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None
    resp = await api.client.post("/moderate/sign-in", data={"csrf": token.group(1),
                                                            "key": await api.key(Role.MODERATOR)},
                                 allow_redirects=False)
    assert resp.status == 303
    queue = await (await api.client.get("/moderate")).text()
    found = re.search(r'name="csrf" value="([^"]+)"', queue)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize("token", ["tökén", "²", "\u0661\u0662", "a" * 5000])
async def test_non_ascii_csrf_tokens_are_403(api: Api, token: str) -> None:
    await api.client.get("/moderate/sign-in")  # sets the sign-in cookie
    resp = await api.client.post("/moderate/sign-in", data={"csrf": token, "key": "x"}, allow_redirects=False)
    assert resp.status == 403
    await signed_in(api)
    resp = await api.client.post("/moderate/decide", data={"csrf": token, "one": "approve:1:1"},
                                 allow_redirects=False)
    assert resp.status == 403


async def test_non_ascii_digits_in_page_forms_fail_cleanly(api: Api) -> None:
    comment = await held(api)
    csrf = await signed_in(api)
    for target in (f"{comment['id']}:²", f"²:{comment['id']}", f"{BIG}:1", f"{comment['id']}:{BIG}", "١:١"):
        resp = await api.client.post("/moderate/decide", data={"csrf": csrf, "one": f"approve:{target}",
                                                               "pos": "²"}, allow_redirects=False)
        assert resp.status == 303, target
        assert "failed=1" in resp.headers["Location"] and "pos=" not in resp.headers["Location"]
    current = await api.app[STORE].get_comment("kompas-test", comment["id"])
    assert current is not None and current.status.value == "held"
    resp = await api.client.get("/moderate?done=²&failed=" + str(BIG))
    assert resp.status == 200


async def test_page_forms_in_bad_utf8_are_400(api: Api) -> None:
    await signed_in(api)
    resp = await api.client.post("/moderate/decide", data=b"csrf=%FF%FE&one=approve:1:1",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"},
                                 allow_redirects=False)
    assert resp.status == 400


# -- headers -----------------------------------------------------------------------------------------------------


async def test_non_ascii_bearer_key_and_request_id(api: Api) -> None:
    from .rawhttp import request_head, send_in_pieces

    host, port = str(api.client.host), int(api.client.port)
    head = request_head("GET", "/v1/comments/1", {"Authorization": "Bearer mod_site_\udcff\udcfe",
                                                  "X-Request-ID": "²²"})
    resp = await send_in_pieces(host, port, head, [])
    assert resp.status == 401
    head = request_head("GET", "/healthz", {"X-Request-ID": "\u0661\u0662-\u00b2"})
    resp = await send_in_pieces(host, port, head, [])
    assert resp.status == 200
    assert resp.headers["x-request-id"].isascii()
