"""Every answer of a scripted walk through the API matches moderation/openapi.json: status, content type, headers, body.

The fuzzer (test_openapi_fuzz.py) rarely reaches some states (a queue with held and reported comments,
stale decisions, a bulk result that failed, an audit log, a set webhook); this walk reaches each of
them on purpose and checks the answer against the description.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
import pytest
from aiohttp import ClientResponse

from moderation.domain import Role
from moderation.settings import Settings
from moderation.web.openapi import load_description

from .conftest import Api, FakeClock, MakeApi, valid_comment
from .test_compat_coral import JUDOL, PATH, SECRET, coral_body, coral_request, coral_settings, coral_signature

DOC = json.loads(load_description())


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = DOC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


class Conformance:
    """Checks answers against the description and remembers which (method, path, status) it saw."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, str, str]] = set()

    async def check(self, response: ClientResponse, method: str, path: str) -> Any:
        operation = DOC["paths"][path][method.lower()]
        status = str(response.status)
        assert status in operation["responses"], (
            f"{method} {path} answered {status}, not described (described: {sorted(operation['responses'])})")
        described = resolve(operation["responses"][status])
        for name, header in described.get("headers", {}).items():
            if header.get("required"):
                assert name in response.headers, f"{method} {path} {status}: missing header {name}"
        self.seen.add((method.upper(), path, status))
        content = described.get("content")
        body = await response.read()
        if not content:
            return None
        assert response.content_type in content, f"{method} {path} {status}: {response.content_type}"
        schema = content[response.content_type].get("schema", {})
        if response.content_type != "application/json":
            return body.decode()
        value = json.loads(body)
        root = {"$schema": "https://json-schema.org/draft/2020-12/schema", "components": DOC["components"], **schema}
        errors = [f"{e.instance_path}: {e.message}" for e in jsonschema_rs.validator_for(root).iter_errors(value)]
        assert not errors, f"{method} {path} {status}: {errors}"
        return value


@pytest.fixture
def conf() -> Conformance:
    return Conformance()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_comments_and_moderation_answers_conform(api: Api, clock: FakeClock, conf: Conformance) -> None:
    site, mod = await api.key(Role.SITE), await api.key(Role.MODERATOR)
    post = "/v1/comments"
    c = api.client

    published = await conf.check(await api.post_comment(), "POST", post)
    assert published["status"] == "published" and "author_email" not in json.dumps(published)
    clock.advance(60)
    replay_headers = {"Idempotency-Key": "retry-1"}
    held = await conf.check(await api.post_comment(
        valid_comment(author_email="b@example.co.id", content="Ikut komentar ya teman teman", honeypot="http://x"),
        headers=replay_headers), "POST", post)
    assert held["status"] == "held" and held["reasons"]
    replayed = await api.post_comment(valid_comment(author_email="b@example.co.id", content="Ikut komentar ya teman teman",
                                                    honeypot="http://x"), headers=replay_headers)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    await conf.check(replayed, "POST", post)
    clock.advance(60)
    form = {"author": "Siti", "email": "siti@example.co.id", "comment": "Terima kasih beritanya.",
            "comment_post_ID": "812", "comment_parent": "0"}
    await conf.check(await c.post(post, data=form, headers=bearer(site)), "POST", post)
    await conf.check(await api.post_comment(), "POST", post)  # 409 duplicate
    await conf.check(await api.post_comment(author_email="siti@example.co.id", content="Lagi lagi cepat sekali"),
                     "POST", post)  # 429 flood: Siti again within the interval
    await conf.check(await api.post_comment(author_email="not an e-mail"), "POST", post)  # 422
    await conf.check(await c.post(post, data=b"{", headers={**bearer(site), "Content-Type": "application/json"}),
                     "POST", post)  # 400
    await conf.check(await c.post(post, data=b"x", headers={**bearer(site), "Content-Type": "text/plain"}),
                     "POST", post)  # 415
    await conf.check(await c.post(post, data=b"x" * 300_000, headers={**bearer(site), "Content-Type": "application/json"}),
                     "POST", post)  # 413
    await conf.check(await c.post(post, json=valid_comment()), "POST", post)  # 401
    await conf.check(await c.post(post, json=valid_comment(), headers=bearer(mod)), "POST", post)  # 403

    one = "/v1/comments/{comment_id}"
    state = await conf.check(await c.get(f"/v1/comments/{held['id']}", headers=bearer(site)), "GET", one)
    await conf.check(await c.get("/v1/comments/999999", headers=bearer(mod)), "GET", one)
    await conf.check(await c.get("/v1/comments/1"), "GET", one)

    reports = "/v1/comments/{comment_id}/reports"
    report = {"reason": "spam", "reporter": "reader-1", "note": "iklan"}
    await conf.check(await c.post(f"/v1/comments/{published['id']}/reports", json=report, headers=bearer(site)),
                     "POST", reports)
    await conf.check(await c.post(f"/v1/comments/{published['id']}/reports", json=report, headers=bearer(site)),
                     "POST", reports)  # the same reader again: 200 duplicate
    await conf.check(await c.post(f"/v1/comments/{published['id']}/reports", json={"reason": "rude"},
                                  headers=bearer(site)), "POST", reports)  # 422
    await conf.check(await c.post("/v1/comments/999999/reports", json={}, headers=bearer(site)), "POST", reports)

    queue = await conf.check(await c.get("/v1/queue", params={"limit": "1"}, headers=bearer(mod)), "GET", "/v1/queue")
    assert queue["items"] and queue["items"][0]["author_email"]
    reported = await conf.check(await c.get("/v1/queue", params={"reason": "reported"}, headers=bearer(mod)),
                                "GET", "/v1/queue")
    assert reported["items"][0]["reports"]["open"] == 1
    await conf.check(await c.get("/v1/queue", params={"limit": "0"}, headers=bearer(mod)), "GET", "/v1/queue")
    await conf.check(await c.get("/v1/queue", params={"cursor": "zzz"}, headers=bearer(mod)), "GET", "/v1/queue")
    await conf.check(await c.get("/v1/queue/counts", headers=bearer(mod)), "GET", "/v1/queue/counts")
    await conf.check(await c.get("/v1/queue/counts", headers=bearer(site)), "GET", "/v1/queue/counts")

    decide = "/v1/comments/{comment_id}/decision"
    url = f"/v1/comments/{held['id']}/decision"
    await conf.check(await c.post(url, json={"action": "approve", "revision": state["revision"]}, headers=bearer(mod)),
                     "POST", decide)
    await conf.check(await c.post(url, json={"action": "approve", "revision": state["revision"]}, headers=bearer(mod)),
                     "POST", decide)  # 409 stale
    await conf.check(await c.post(url, json={"action": "maybe"}, headers=bearer(mod)), "POST", decide)  # 422
    bulk = await conf.check(await c.post("/v1/decisions", json={"decisions": [
        {"comment_id": published["id"], "action": "reject", "label": "spam", "revision": 1},
        {"comment_id": 999999, "action": "approve", "revision": 1},
        {"action": "approve"},
    ]}, headers=bearer(mod)), "POST", "/v1/decisions")
    assert [r["ok"] for r in bulk["results"]] == [True, False, False]
    await conf.check(await c.post("/v1/decisions", json={"decisions": []}, headers=bearer(mod)), "POST", "/v1/decisions")

    audit = await conf.check(await c.get("/v1/audit", params={"limit": "2"}, headers=bearer(mod)), "GET", "/v1/audit")
    assert audit["next_cursor"]
    await conf.check(await c.get("/v1/audit", params={"cursor": audit["next_cursor"]}, headers=bearer(mod)),
                     "GET", "/v1/audit")
    await conf.check(await c.get("/v1/audit", params={"limit": "x"}, headers=bearer(mod)), "GET", "/v1/audit")
    statuses = {s for _, _, s in conf.seen}
    missing = {"200", "201", "400", "401", "403", "404", "409", "413", "415", "422", "429"} - statuses
    assert not missing, sorted(conf.seen)


async def test_admin_and_operations_answers_conform(api: Api, conf: Conformance) -> None:
    admin, mod = await api.key(Role.ADMIN), await api.key(Role.MODERATOR)
    c = api.client
    hook = "/v1/admin/webhook"
    await conf.check(await c.put(hook, json={"url": "https://hooks.example.com/hook"}, headers=bearer(admin)), "PUT", hook)
    shown = await conf.check(await c.get(hook, headers=bearer(admin)), "GET", hook)
    assert shown["url"] == "https://hooks.example.com/hook" and "secret" not in shown
    await conf.check(await c.put(hook, json={"url": "ftp://x"}, headers=bearer(admin)), "PUT", hook)
    await conf.check(await c.put(hook, json={"url": "http://x"}, headers=bearer(mod)), "PUT", hook)
    await conf.check(await c.delete(hook, headers=bearer(admin)), "DELETE", hook)
    await conf.check(await c.get("/v1/admin/webhooks/deliveries", headers=bearer(admin)),
                     "GET", "/v1/admin/webhooks/deliveries")
    await conf.check(await c.post("/v1/admin/webhooks/retry", headers=bearer(admin)), "POST", "/v1/admin/webhooks/retry")
    await conf.check(await c.get("/v1/admin/models", headers=bearer(admin)), "GET", "/v1/admin/models")
    await conf.check(await c.post("/v1/admin/models/reload", headers=bearer(admin)), "POST", "/v1/admin/models/reload")
    operator = await api.key(Role.OPERATOR)
    await conf.check(await c.post("/v1/admin/models/reload", headers=bearer(operator)), "POST",
                     "/v1/admin/models/reload")
    await conf.check(await c.get("/v1/admin/stats", headers=bearer(admin)), "GET", "/v1/admin/stats")
    erased = await conf.check(await c.delete("/v1/authors", json={"author_email": "budi@example.co.id"},
                                             headers=bearer(admin)), "DELETE", "/v1/authors")
    assert set(erased["erased"]) == {"comments", "training_labels_unlinked", "idempotency_records"}
    await conf.check(await c.delete("/v1/authors", json={"author_email": "x"}, headers=bearer(admin)),
                     "DELETE", "/v1/authors")
    await conf.check(await c.get("/healthz"), "GET", "/healthz")
    await conf.check(await c.get("/readyz"), "GET", "/readyz")
    assert "moderation_http_requests_total" in await conf.check(await c.get("/metrics"), "GET", "/metrics")
    await conf.check(await c.get("/v1/openapi.json"), "GET", "/v1/openapi.json")


async def test_compat_answers_conform(api: Api, conf: Conformance) -> None:
    site = await api.key(Role.SITE)
    c = api.client
    analyze, suggest = "/v1alpha1/comments:analyze", "/v1alpha1/comments:suggestscore"
    body = {"comment": {"text": "Dasar bodoh kamu. Semoga cepat surut."}, "requestedAttributes": {"TOXICITY": {}},
            "spanAnnotations": True, "clientToken": "t-1"}
    scored = await conf.check(await c.post(analyze, params={"key": site}, json=body), "POST", analyze)
    assert scored["attributeScores"]["TOXICITY"]["spanScores"] and scored["clientToken"] == "t-1"
    await conf.check(await c.post(analyze, params={"key": site}, json={"comment": {"text": ""}}), "POST", analyze)
    await conf.check(await c.post(analyze, json=body), "POST", analyze)  # 403: no key
    await conf.check(await c.post(suggest, params={"key": site}, json={
        "comment": {"text": "slot gacor"}, "attributeScores": {"SPAM": {"summaryScore": {"value": 1}}}}), "POST", suggest)
    await conf.check(await c.get("/$discovery/rest", params={"version": "v1alpha1"}), "GET", "/$discovery/rest")
    await conf.check(await c.get("/$discovery/rest", params={"version": "v9"}), "GET", "/$discovery/rest")
    check = "/1.1/comment-check"
    answer = await conf.check(await c.post(check, data={"api_key": site, "blog": "https://x", "comment_content":
                                                        "slot gacor hari ini maxwin daftar sekarang"}), "POST", check)
    assert answer in ("true", "false")
    assert await conf.check(await c.post(check, data={"api_key": "nope"}), "POST", check) == "invalid"
    assert await conf.check(await c.post("/1.1/verify-key", data={"key": site}), "POST", "/1.1/verify-key") == "valid"
    for path in ("/1.1/submit-spam", "/1.1/submit-ham"):
        await conf.check(await c.post(path, data={"api_key": site, "comment_content": "teks"}), "POST", path)


async def test_coral_answers_conform(make_api: MakeApi, settings: Settings, clock: FakeClock,
                                     conf: Conformance) -> None:
    api = await make_api(coral_settings(settings))
    site = await api.key(Role.SITE)

    async def post(request: dict[str, Any] | bytes, *, key: str | None = site, signature: bool = True) -> Any:
        body = request if isinstance(request, bytes) else coral_body(request)
        headers = {"Content-Type": "application/json"}
        if signature:
            headers["X-Coral-Signature"] = coral_signature(body, SECRET)
        clock.advance(60)
        resp = await api.client.post(PATH, params={"key": key} if key else {}, data=body, headers=headers)
        return await conf.check(resp, "POST", PATH)

    assert await post(coral_request("Semoga banjir cepat surut dan warga bisa kembali ke rumah.")) == {}
    assert (await post(coral_request(JUDOL, author="u2")))["actions"]
    await post(coral_request(JUDOL, author="u2", action="EDIT"))
    await post(coral_request(JUDOL), signature=False)  # 401
    await post(coral_request(JUDOL), key=None)  # 401
    await post(coral_request(JUDOL, action="DELETE"))  # 422
    await post(b"[]")  # 400
    other = await api.key(Role.SITE, site="tanpa-coral")
    await post(coral_request(JUDOL), key=other)  # 403: no secret for this site
    assert {s for _, _, s in conf.seen} == {"200", "400", "401", "403", "422"}


async def test_page_answers_conform(api: Api, conf: Conformance) -> None:
    c = api.client
    await conf.check(await c.get("/moderate", allow_redirects=False), "GET", "/moderate")
    await conf.check(await c.get("/moderate/sign-in"), "GET", "/moderate/sign-in")
    await conf.check(await c.post("/moderate/sign-in", data={"csrf": "forged", "key": "k"}), "POST", "/moderate/sign-in")
    await conf.check(await c.get("/moderate/language", params={"to": "id"}, allow_redirects=False),
                     "GET", "/moderate/language")
    await conf.check(await c.post("/moderate/decide", data={"csrf": "x"}, allow_redirects=False),
                     "POST", "/moderate/decide")
