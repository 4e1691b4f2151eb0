"""The hostile-input suite against the real service process: hypothesis puts any JSON value (or any
bytes, for forms) in every field of the submission and moderator endpoints, and raw sockets send what
no client library would. Never a 5xx; a 4xx names the field; nothing is stored on a 4xx; and after all
of it the process still answers /healthz."""

from __future__ import annotations

import http.client
import itertools
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .rawhttp import request_head, send_in_pieces, split
from .served import Served, create_key, serve

# Text with everything JSON can carry: lone surrogates, NUL, controls, bidi, astral characters.
NASTY = ["\ud800", "a\udfffb", "\x00", "a\x1bb", "\u202eBudi", "\u200b", "²", "١٢", str(2**63), "-1", "0",
         "0001-01-01T00:00:00+23:59", "::ffff:10.0.0.1", "Budi@EXAMPLE.com", "", " ", "\t\n"]
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=30) | st.sampled_from(NASTY)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=2**62, max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3),
    max_leaves=6,
)
# Any value, text (the most dangerous kind) half of the time.
ANY_VALUE = ANY_TEXT | JSON_VALUES
FUZZ = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
COMMENT_FIELDS = ["article_id", "author_name", "author_email", "content", "author_url", "parent_id",
                  "author_ip", "user_agent", "referrer", "honeypot", "form_rendered_at", "lang"]
WORDPRESS_FIELDS = {"author": "author_name", "email": "author_email", "url": "author_url", "comment": "content",
                    "comment_post_ID": "article_id", "comment_parent": "parent_id"}
serial = itertools.count()


class Service:
    def __init__(self, served: Served, db: Path, site: str, moderator: str, admin: str) -> None:
        self.served, self.db = served, db
        self.site, self.moderator, self.admin = site, moderator, admin

    def request(self, method: str, path: str, body: bytes = b"", *, key: str | None = None,
                content_type: str = "application/json") -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.served.port, timeout=30)
        try:
            headers = {"Content-Type": content_type}
            if key:
                headers["Authorization"] = f"Bearer {key}"
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        try:
            return resp.status, json.loads(data)
        except ValueError:
            return resp.status, data

    def count(self, table: str = "comments") -> int:
        with sqlite3.connect(self.db) as conn:
            return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # fixed table names, never input

    def comment(self, **fields: Any) -> dict[str, Any]:
        n = next(serial)
        return {"article_id": "2026/11/25/banjir", "author_name": "Budi", "author_email": f"budi{n}@example.com",
                "content": f"Komentar nomor {n} tentang banjir.", **fields}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, tiny_models_dir: Path) -> Iterator[Service]:
    data = tmp_path_factory.mktemp("hostile")
    policy = data / "policy.toml"
    # No flood interval, so every valid example can be stored; every comment held (none rejected outright: the
    # tiny model is sure of its spam), so there is a queue.
    policy.write_text("[default]\nflood_interval_seconds = 0\nhold_all = true\nreject = false\n")
    site = create_key(data)
    moderator = create_key(data, role="moderator")
    admin = create_key(data, role="admin")
    with serve(data, tiny_models_dir, MODERATION_POLICY_FILE=str(policy), MODERATION_LOG_JSON="true",
               MODERATION_BODY_TIMEOUT_SECONDS="1") as served:
        yield Service(served, data / "moderation.sqlite3", site, moderator, admin)
        assert served.process.poll() is None
        assert "Traceback" not in served.log_text() and "unhandled_error" not in served.log_text()


def named(answer: Any) -> set[str]:
    return set(answer["error"].get("fields", {})) if isinstance(answer, dict) and "error" in answer else set()


@FUZZ
@given(field=st.sampled_from(COMMENT_FIELDS), value=ANY_VALUE)
def test_any_json_value_in_any_comment_field(service: Service, field: str, value: Any) -> None:
    before = service.count()
    body = json.dumps(service.comment(**{field: value})).encode()
    status, answer = service.request("POST", "/v1/comments", body, key=service.site)
    assert status in (201, 409, 422), (status, answer)
    if status == 422:
        assert named(answer) == {field}, answer
    assert service.count() == before + (status == 201)


@FUZZ
@given(field=st.sampled_from(sorted(WORDPRESS_FIELDS)), value=st.binary(max_size=40))
def test_any_bytes_in_any_wordpress_form_field(service: Service, field: str, value: bytes) -> None:
    before = service.count()
    n = next(serial)
    form = {"author": "Budi", "email": f"budi{n}@example.com", "comment": f"Komentar nomor {n}.",
            "comment_post_ID": "42"}
    body = urlencode(form) + f"&{quote_from_bytes(field.encode())}={quote_from_bytes(value)}"
    form_body = body.encode()
    status, answer = service.request("POST", "/v1/comments", form_body, key=service.site,
                                     content_type="application/x-www-form-urlencoded")
    assert status in (201, 400, 409, 422), (status, answer)
    if status == 400:
        assert answer["error"]["code"] == "invalid_encoding"
    if status == 422:
        assert named(answer) == {WORDPRESS_FIELDS[field]}, answer
    assert service.count() == before + (status == 201)


def held_id(service: Service) -> int:
    status, answer = service.request("POST", "/v1/comments", json.dumps(service.comment()).encode(),
                                     key=service.site)
    assert status == 201 and answer["status"] == "held"
    return int(answer["id"])


@FUZZ
@given(field=st.sampled_from(["action", "label", "revision", "note"]), value=ANY_VALUE)
def test_any_json_value_in_a_decision(service: Service, field: str, value: Any) -> None:
    comment_id = held_id(service)
    events = service.count("comment_events")
    decision = {"action": "reject", "label": "spam", "revision": 1, "note": "catatan", field: value}
    status, answer = service.request("POST", f"/v1/comments/{comment_id}/decision", json.dumps(decision).encode(),
                                     key=service.moderator)
    assert status in (200, 409, 422), (status, answer)
    if status == 422:
        assert named(answer) and named(answer) <= {field, "label"}, answer  # a bad action also voids the label
        assert service.count("comment_events") == events


@FUZZ
@given(entries=st.lists(JSON_VALUES | st.fixed_dictionaries(
    {"comment_id": ANY_VALUE, "action": st.sampled_from(["approve", "reject"]), "revision": ANY_VALUE,
     "note": ANY_VALUE}),
    min_size=1, max_size=4))
def test_any_bulk_decisions(service: Service, entries: list[Any]) -> None:
    status, answer = service.request("POST", "/v1/decisions", json.dumps({"decisions": entries}).encode(),
                                     key=service.moderator)
    assert status == 200, (status, answer)
    assert len(answer["results"]) == len(entries)
    for result in answer["results"]:
        assert result["ok"] or 400 <= result["http_status"] < 500


@FUZZ
@given(field=st.sampled_from(["reason", "note", "reporter"]), value=ANY_VALUE)
def test_any_json_value_in_a_report(service: Service, field: str, value: Any) -> None:
    comment_id = held_id(service)
    reports = service.count("comment_reports")
    status, answer = service.request("POST", f"/v1/comments/{comment_id}/reports",
                                     json.dumps({field: value}).encode(), key=service.site)
    assert status in (200, 201, 422), (status, answer)
    if status == 422:
        assert named(answer) == {field}, answer
        assert service.count("comment_reports") == reports


@FUZZ
@given(body=st.dictionaries(st.sampled_from(["comment", "requestedAttributes", "languages", "spanAnnotations",
                                             "clientToken", "doNotStore", "communityId", "attributeScores"]),
                            JSON_VALUES, max_size=4),
       text=ANY_TEXT, endpoint=st.sampled_from(["analyze", "suggestscore"]))
def test_any_perspective_request(service: Service, body: dict[str, Any], text: str, endpoint: str) -> None:
    body.setdefault("comment", {"text": text})
    status, answer = service.request("POST", f"/v1alpha1/comments:{endpoint}?key={service.site}",
                                     json.dumps(body).encode())
    assert status in (200, 400), (status, answer)


@FUZZ
@given(query=st.dictionaries(st.sampled_from(["status", "reason", "order", "article_id", "limit", "cursor"]),
                             ANY_TEXT, max_size=3))
def test_any_queue_query(service: Service, query: dict[str, str]) -> None:
    path = "/v1/queue?" + urlencode({k: v.encode("utf-8", "surrogatepass") for k, v in query.items()})
    status, answer = service.request("GET", path, key=service.moderator)
    assert status in (200, 400, 422), (status, answer)
    if status == 422:
        assert named(answer) <= set(query), answer


# -- raw sockets -------------------------------------------------------------------------------------------------


async def test_raw_socket_abuse_then_healthz(service: Service) -> None:
    port = service.served.port
    text = "Saya setuju dengan artikel ini TIDAK BENAR bahwa pemerintah gagal"

    async def post(body: bytes, content_type: str, pieces: list[bytes] | None = None, pause: float = 0.0,
                   **headers: str) -> Any:
        head = request_head("POST", "/v1/comments", {
            "Authorization": f"Bearer {service.site}", "Content-Type": content_type,
            "Content-Length": str(len(body)), **headers,
        })
        return await send_in_pieces("127.0.0.1", port, head, pieces if pieces is not None else [body], pause=pause)

    # Split bodies, JSON and WordPress form, pieces 0.3 s apart: stored whole.
    body = json.dumps(service.comment(content=text)).encode()
    resp = await post(body, "application/json", split(body, len(body) // 3 + 1), pause=0.3)
    assert resp.status == 201 and resp.json()["comment"]["content"] == text
    n = next(serial)
    form = urlencode({"author": "Budi", "email": f"f{n}@example.com", "comment": f"{text} {n}",
                      "comment_post_ID": "7"}).encode()
    resp = await post(form, "application/x-www-form-urlencoded", split(form, len(form) // 3 + 1), pause=0.3)
    assert resp.status == 201 and resp.json()["comment"]["content"] == f"{text} {n}"

    # Invalid UTF-8 in JSON and in a form: 400 invalid_encoding, nothing stored.
    before = service.count()
    for content_type, bad in (("application/json", b'{"content": "\xff\xfe"}'),
                              ("application/x-www-form-urlencoded", b"comment=%FF%FE&author=\xc3")):
        resp = await post(bad, content_type)
        assert resp.status == 400 and resp.json()["error"]["code"] == "invalid_encoding"
    assert service.count() == before

    # Huge headers: refused by the HTTP parser with a 4xx, not a crash.
    head = request_head("GET", "/healthz", {"X-Huge": "a" * 100_000})
    resp = await send_in_pieces("127.0.0.1", port, head, [])
    assert 400 <= resp.status < 500
    head = request_head("GET", "/healthz", {f"X-Many-{i}": "b" * 100 for i in range(500)})
    resp = await send_in_pieces("127.0.0.1", port, head, [])
    assert 400 <= resp.status < 500 or resp.status == 200

    # A slow client: Content-Length 100 and no body gets 408 within the (1 s) timeout.
    started = time.monotonic()
    resp = await post(b"x" * 100, "application/json", [])
    assert resp.status == 408 and resp.json()["error"]["code"] == "body_timeout"
    assert time.monotonic() - started < 5

    status, _ = service.request("GET", "/healthz")
    assert status == 200
