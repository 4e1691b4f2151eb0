"""Request bodies are read whole over a real socket: split, chunked, stalled, cut off, too large."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from urllib.parse import urlencode

import pytest

from moderation.domain import Role
from moderation.appkeys import STORE
from moderation.settings import Settings

from .conftest import Api, MakeApi, valid_comment
from .rawhttp import request_head, send_in_pieces, split
from .test_submissions import stored_count

LONG_TEXT = "Saya setuju dengan artikel ini TIDAK BENAR bahwa pemerintah gagal menangani banjir di kota kami."


def addr(api: Api) -> tuple[str, int]:
    return str(api.client.host), int(api.client.port)


async def post_raw(api: Api, body: bytes, content_type: str, *, pieces: int = 3, pause: float = 0.3,
                   extra: dict[str, str] | None = None, key: str | None = None) -> tuple[int, dict]:
    key = key or await api.key()
    head = request_head("POST", "/v1/comments", {
        "Authorization": f"Bearer {key}", "Content-Type": content_type, "Content-Length": str(len(body)),
        **(extra or {}),
    })
    size = max(1, -(-len(body) // pieces))
    resp = await send_in_pieces(*addr(api), head, split(body, size), pause=pause)
    return resp.status, resp.json() if resp.body else {}


async def stored_content(api: Api, comment_id: int) -> str:
    key = await api.key()
    resp = await api.client.get(f"/v1/comments/{comment_id}", headers={"Authorization": f"Bearer {key}"})
    return (await resp.json())["comment"]["content"]


async def test_json_body_split_with_pauses_is_stored_whole(api: Api) -> None:
    body = json.dumps(valid_comment(content=LONG_TEXT)).encode()
    status, answer = await post_raw(api, body, "application/json")
    assert status == 201, answer
    assert answer["comment"]["content"] == LONG_TEXT
    assert await stored_content(api, answer["id"]) == LONG_TEXT


async def test_wordpress_form_split_with_pauses_is_stored_whole(api: Api) -> None:
    form = {"author": "Budi", "email": "budi@example.co.id", "comment": LONG_TEXT,
            "comment_post_ID": "42", "comment_parent": "0"}
    status, answer = await post_raw(api, urlencode(form).encode(), "application/x-www-form-urlencoded")
    assert status == 201, answer
    assert await stored_content(api, answer["id"]) == LONG_TEXT


async def test_12kb_json_in_1448_byte_segments_works_every_time(api: Api, settings: Settings) -> None:
    content = ("Warga berharap pemerintah segera memperbaiki tanggul. " * 230)[:12_000]
    for attempt in range(20):
        body = json.dumps(valid_comment(content=f"{attempt} {content}",
                                        author_email=f"warga{attempt}@example.co.id")).encode()
        assert len(body) > 12_000
        key = await api.key()
        head = request_head("POST", "/v1/comments", {
            "Authorization": f"Bearer {key}", "Content-Type": "application/json", "Content-Length": str(len(body)),
        })
        resp = await send_in_pieces(*addr(api), head, split(body, 1448), pause=0.002)
        assert resp.status == 201, (attempt, resp.body[:200])
        assert resp.json()["comment"]["content"] == f"{attempt} {content}".strip()
    assert stored_count(settings) == 20


async def test_chunked_body_in_pieces_is_stored_whole(api: Api) -> None:
    body = json.dumps(valid_comment(content=LONG_TEXT)).encode()
    chunks = [b"%x\r\n%s\r\n" % (len(part), part) for part in split(body, 40)] + [b"0\r\n\r\n"]
    key = await api.key()
    head = request_head("POST", "/v1/comments", {
        "Authorization": f"Bearer {key}", "Content-Type": "application/json", "Transfer-Encoding": "chunked",
    })
    resp = await send_in_pieces(*addr(api), head, chunks, pause=0.05)
    assert resp.status == 201, resp.body
    assert resp.json()["comment"]["content"] == LONG_TEXT


async def test_chunked_body_over_the_limit_is_413_while_reading(make_api: MakeApi, settings: Settings) -> None:
    api = await make_api(replace(settings, max_body_bytes=2000))
    key = await api.key()
    head = request_head("POST", "/v1/comments", {
        "Authorization": f"Bearer {key}", "Content-Type": "application/json", "Transfer-Encoding": "chunked",
    })
    chunk = b"400\r\n" + b"x" * 0x400 + b"\r\n"
    resp = await send_in_pieces(*addr(api), head, [chunk] * 3, pause=0.01)  # no final chunk: refused early
    assert resp.status == 413
    assert resp.json()["error"]["code"] == "payload_too_large"
    assert stored_count(settings) == 0


@pytest.fixture
def quick_timeout(settings: Settings) -> Settings:
    return replace(settings, body_timeout_seconds=0.5)


async def test_content_length_with_no_body_is_408_within_the_timeout(make_api: MakeApi,
                                                                     quick_timeout: Settings) -> None:
    api = await make_api(quick_timeout)
    key = await api.key()
    head = request_head("POST", "/v1/comments", {
        "Authorization": f"Bearer {key}", "Content-Type": "application/json", "Content-Length": "100",
    })
    started = time.monotonic()
    resp = await send_in_pieces(*addr(api), head, [], timeout=5)
    assert resp.status == 408
    assert resp.json()["error"]["code"] == "body_timeout"
    assert resp.headers.get("connection", "").lower() == "close"
    assert time.monotonic() - started < 3


async def test_content_length_larger_than_the_body_is_408_and_nothing_stored(make_api: MakeApi,
                                                                            quick_timeout: Settings) -> None:
    api = await make_api(quick_timeout)
    body = json.dumps(valid_comment()).encode()
    status, answer = await post_raw(api, body, "application/json", pieces=1, pause=0,
                                    extra={"Content-Length": str(len(body) + 50)})
    assert status == 408
    assert answer["error"]["code"] == "body_timeout"
    assert stored_count(quick_timeout) == 0


async def test_trickling_client_is_timed_out_as_a_whole(make_api: MakeApi, quick_timeout: Settings) -> None:
    # A byte every 0.1 s never pauses long, but the whole body takes far longer than the timeout.
    api = await make_api(quick_timeout)
    body = json.dumps(valid_comment()).encode()[:30]
    key = await api.key()
    head = request_head("POST", "/v1/comments", {
        "Authorization": f"Bearer {key}", "Content-Type": "application/json", "Content-Length": "200",
    })
    try:
        resp = await send_in_pieces(*addr(api), head, split(body, 1), pause=0.1, timeout=5)
    except ConnectionError:  # closed while we were still sending: also acceptable
        pass
    else:
        assert resp.status == 408
    assert stored_count(quick_timeout) == 0
    assert (await api.client.get("/healthz")).status == 200


async def test_client_that_disconnects_mid_body_stores_nothing(api: Api, settings: Settings) -> None:
    body = json.dumps(valid_comment()).encode()
    key = await api.key()
    head = request_head("POST", "/v1/comments", {
        "Authorization": f"Bearer {key}", "Content-Type": "application/json", "Content-Length": str(len(body)),
    })
    _reader, writer = await asyncio.open_connection(*addr(api))
    writer.write(head + body[: len(body) // 2])
    await writer.drain()
    await asyncio.sleep(0.1)
    writer.close()
    await writer.wait_closed()
    await asyncio.sleep(0.2)
    assert stored_count(settings) == 0
    assert (await api.client.get("/healthz")).status == 200


async def test_moderator_endpoints_read_split_bodies_whole(api: Api) -> None:
    posted = await (await api.post_comment(content="slot gacor maxwin daftar sekarang situs judi terpercaya")).json()
    assert posted["status"] == "held"
    mod = await api.key(Role.MODERATOR)
    note = "Catatan panjang moderator: " + "promosi judi online yang disamarkan. " * 20
    body = json.dumps({"action": "reject", "label": "spam", "revision": 1, "note": note}).encode()
    head = request_head("POST", f"/v1/comments/{posted['id']}/decision", {
        "Authorization": f"Bearer {mod}", "Content-Type": "application/json", "Content-Length": str(len(body)),
    })
    resp = await send_in_pieces(*addr(api), head, split(body, 100), pause=0.1)
    assert resp.status == 200, resp.body
    audit = await (await api.client.get(f"/v1/audit?comment_id={posted['id']}",
                                        headers={"Authorization": f"Bearer {mod}"})).json()
    assert any(e.get("note") == note.strip() for e in audit["items"])


async def test_compat_endpoints_read_split_bodies_whole(api: Api) -> None:
    key = await api.key()
    body = json.dumps({"comment": {"text": LONG_TEXT}, "requestedAttributes": {"TOXICITY": {}}}).encode()
    head = request_head("POST", f"/v1alpha1/comments:analyze?key={key}", {
        "Content-Type": "application/json", "Content-Length": str(len(body)),
    })
    resp = await send_in_pieces(*addr(api), head, split(body, 30), pause=0.1)
    assert resp.status == 200, resp.body
    assert "TOXICITY" in resp.json()["attributeScores"]

    form = urlencode({"api_key": key, "comment_content": LONG_TEXT, "blog": "https://kompas.example"}).encode()
    head = request_head("POST", "/1.1/submit-spam", {
        "Content-Type": "application/x-www-form-urlencoded", "Content-Length": str(len(form)),
    })
    resp = await send_in_pieces(*addr(api), head, split(form, 50), pause=0.1)
    assert resp.status == 200, resp.body
    labels = await api.app[STORE].list_training_labels()
    assert [(label["text"], label["label"]) for label in labels] == [(LONG_TEXT, "spam")]
