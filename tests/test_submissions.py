"""POST /v1/comments and GET /v1/comments/{id} through the real app factory."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from moderation.domain import Role
from moderation.policy import Policy, PolicyBook
from moderation.settings import Settings

from .conftest import Api, MakeApi, dump, valid_comment

EMAIL = "budi.santoso@example.co.id"


def stored_count(settings: Settings) -> int:
    path = settings.effective_database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT COUNT(*) FROM comments").fetchone()[0]


async def test_normal_indonesian_comment_is_published(api: Api) -> None:
    resp = await api.post_comment()
    assert resp.status == 201
    body = await resp.json()
    assert body["decision"] == "publish"
    assert body["status"] == "published"
    assert body["reasons"] == []
    assert set(body["scores"]) >= {"spam", "toxic"}
    assert body["models"]["spam"] == "2026.01.01-test"
    assert body["comment"]["content"] == valid_comment()["content"]
    assert body["comment"]["author_name"] == "Budi Santoso"
    assert resp.headers["Location"] == f"/v1/comments/{body['id']}"


async def test_three_links_are_held_for_policy(api: Api) -> None:
    content = "Baca juga https://a.example/1 dan https://b.example/2 serta https://c.example/3 ya"
    body = await (await api.post_comment(content=content)).json()
    assert body["decision"] == "hold"
    assert body["status"] == "held"
    codes = [r["code"] for r in body["reasons"]]
    assert "policy.links" in codes
    links = next(r for r in body["reasons"] if r["code"] == "policy.links")
    assert links["score"] == 3 and links["threshold"] == 2 and links["source"] == "policy"


async def test_two_links_are_allowed(api: Api) -> None:
    content = "Sumbernya https://a.example/1 dan https://b.example/2 menurut saya cukup jelas"
    body = await (await api.post_comment(content=content)).json()
    assert "policy.links" not in [r["code"] for r in body["reasons"]]


async def test_spam_text_is_held_with_explanation(api: Api) -> None:
    body = await (await api.post_comment(content="slot gacor maxwin daftar sekarang situs judi terpercaya")).json()
    assert body["decision"] == "hold"
    spam = next(r for r in body["reasons"] if r["code"] == "spam")
    assert spam["score"] >= spam["threshold"]
    assert spam["source"] == "model:2026.01.01-test"
    assert spam["explanation"], "a held spam comment shows which words drove the score"


async def test_missing_email_names_the_field_in_indonesian(api: Api) -> None:
    payload = valid_comment()
    del payload["author_email"]
    key = await api.key()
    resp = await api.client.post("/v1/comments", json=payload,
                                 headers={"Authorization": f"Bearer {key}", "Accept-Language": "id-ID,id;q=0.9"})
    assert resp.status == 422
    error = (await resp.json())["error"]
    assert error["code"] == "invalid_submission"
    assert list(error["fields"]) == ["author_email"]
    assert error["fields"]["author_email"][0]["code"] == "required"
    assert error["fields"]["author_email"][0]["message"] == "Kolom ini wajib diisi."


async def test_every_failing_field_is_listed_at_once(api: Api) -> None:
    resp = await api.post_comment(author_name="  ", author_email="not-an-email", content="",
                                  author_url="ftp://example.com", article_id=None)
    assert resp.status == 422
    fields = (await resp.json())["error"]["fields"]
    assert set(fields) == {"author_name", "author_email", "content", "author_url", "article_id"}
    assert fields["author_email"][0]["code"] == "invalid"
    assert fields["author_url"][0]["code"] == "invalid"


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("author_name", "x" * 246, "too_long"),
        ("author_email", "a" * 90 + "@example.com", "too_long"),
        ("author_email", "budi@@example.com", "invalid"),
        ("author_email", "budi@localhost", "invalid"),
        ("author_url", "javascript:alert(1)", "invalid"),
        ("author_url", "https://example.com/" + "a" * 190, "too_long"),
        ("content", "a" * 65_526, "too_long"),
        ("content", "é" * 32_763, "too_long"),  # 65,526 bytes in UTF-8
        ("content", "   \n\t ", "required"),
        ("author_ip", "999.1.1.1", "invalid"),
        ("form_rendered_at", "yesterday", "invalid"),
        ("form_rendered_at", "2026-11-25T10:00:00", "invalid"),  # no offset
        ("parent_id", "abc", "invalid_type"),
        ("author_name", 12, "invalid_type"),
        ("content", ["list"], "invalid_type"),
    ],
)
async def test_validation_rules(api: Api, field: str, value: Any, code: str) -> None:
    resp = await api.post_comment(**{field: value})
    assert resp.status == 422
    fields = (await resp.json())["error"]["fields"]
    assert list(fields) == [field]
    assert fields[field][0]["code"] == code


async def test_limits_are_inclusive(api: Api) -> None:
    resp = await api.post_comment(author_name="n" * 245, content="é" * 32_762 + "a")  # 65,525 bytes
    assert resp.status == 201


async def test_fields_are_trimmed_and_email_normalised(api: Api) -> None:
    resp = await api.post_comment(author_name="  Siti  ", author_email=" Siti@EXAMPLE.com ")
    body = await resp.json()
    assert resp.status == 201
    assert body["comment"]["author_name"] == "Siti"


async def test_wordpress_form_post_is_accepted(api: Api) -> None:
    key = await api.key()
    form = {
        "author": "Rina", "email": "rina@example.com", "url": "https://rina.example.com",
        "comment": "Artikel yang sangat informatif, terima kasih.", "comment_post_ID": "123",
        "comment_parent": "0", "submit": "Kirim Komentar",
    }
    resp = await api.client.post("/v1/comments", data=form, headers={"Authorization": f"Bearer {key}"})
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert body["comment"]["article_id"] == "123"
    assert body["comment"]["parent_id"] is None
    assert body["comment"]["author_url"] == "https://rina.example.com"


async def test_reply_to_unknown_parent_is_refused(api: Api) -> None:
    resp = await api.post_comment(parent_id=999)
    assert resp.status == 422
    assert (await resp.json())["error"]["fields"]["parent_id"][0]["code"] == "not_found"


async def test_reply_to_existing_parent(api: Api, clock: Any) -> None:
    parent = await (await api.post_comment()).json()
    clock.advance(60)
    resp = await api.post_comment(parent_id=parent["id"], author_email="lain@example.com", content="Setuju sekali.")
    assert resp.status == 201
    assert (await resp.json())["comment"]["parent_id"] == parent["id"]


# -- bad requests: clear error, nothing stored -----------------------------------------------------------


async def _raw_post(api: Api, data: bytes, content_type: str, key: str | None = None) -> Any:
    key = key or await api.key()
    return await api.client.post(
        "/v1/comments", data=data, headers={"Authorization": f"Bearer {key}", "Content-Type": content_type}
    )


async def test_malformed_json_is_400(api: Api, settings: Settings) -> None:
    resp = await _raw_post(api, b'{"article_id": "1", ', "application/json")
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "malformed_json"
    assert stored_count(settings) == 0


async def test_json_that_is_not_an_object_is_400(api: Api) -> None:
    resp = await _raw_post(api, b'["a", "b"]', "application/json")
    assert resp.status == 400


async def test_invalid_utf8_is_400(api: Api, settings: Settings) -> None:
    resp = await _raw_post(api, b'{"content": "\xff\xfe"}', "application/json")
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "invalid_encoding"
    assert stored_count(settings) == 0


async def test_unsupported_content_type_is_415(api: Api) -> None:
    resp = await _raw_post(api, b"<comment/>", "application/xml")
    assert resp.status == 415
    assert (await resp.json())["error"]["code"] == "unsupported_media_type"


async def test_body_over_limit_is_413(make_api: MakeApi, settings: Settings) -> None:
    from dataclasses import replace

    api = await make_api(replace(settings, max_body_bytes=1000))
    resp = await api.post_comment(content="panjang " * 200)
    assert resp.status == 413
    assert (await resp.json())["error"]["code"] == "payload_too_large"
    assert stored_count(settings) == 0
    assert (await api.post_comment()).status == 201  # and it keeps serving


async def test_missing_key_is_401(api: Api) -> None:
    resp = await api.client.post("/v1/comments", json=valid_comment())
    assert resp.status == 401
    assert "Bearer" in resp.headers["WWW-Authenticate"]


async def test_unknown_key_is_401(api: Api) -> None:
    resp = await api.post_comment(key="mod_site_not-a-real-key")
    assert resp.status == 401


@pytest.mark.parametrize("role", [Role.MODERATOR, Role.ADMIN])
async def test_wrong_role_is_403(api: Api, role: Role) -> None:
    resp = await api.post_comment(key=await api.key(role))
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "forbidden"


async def test_unknown_route_and_method_are_json(api: Api) -> None:
    resp = await api.client.get("/v1/nothing")
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "not_found"
    resp = await api.client.delete("/v1/comments")
    assert resp.status == 405


# -- duplicates, flood, idempotency ---------------------------------------------------------------------


async def test_exact_duplicate_is_409_with_existing_id(api: Api, clock: Any) -> None:
    first = await (await api.post_comment()).json()
    clock.advance(3600)
    resp = await api.post_comment()
    assert resp.status == 409
    error = (await resp.json())["error"]
    assert error["code"] == "duplicate_comment"
    assert error["existing_id"] == first["id"]


async def test_duplicate_is_checked_before_flood(api: Api) -> None:
    await api.post_comment()
    resp = await api.post_comment()  # same instant: both rules apply, duplicate wins
    assert resp.status == 409


async def test_same_text_on_another_article_is_not_a_duplicate(api: Api, clock: Any) -> None:
    await api.post_comment()
    clock.advance(20)
    assert (await api.post_comment(article_id="other-article")).status == 201


async def test_flood_by_email_is_429_with_retry_after(api: Api, clock: Any) -> None:
    assert (await api.post_comment()).status == 201
    clock.advance(5)
    resp = await api.post_comment(content="Komentar kedua yang berbeda isinya.")
    assert resp.status == 429
    assert resp.headers["Retry-After"] == "10"
    assert (await resp.json())["error"]["retry_after"] == 10
    clock.advance(10)
    assert (await api.post_comment(content="Komentar kedua yang berbeda isinya.")).status == 201


async def test_flood_by_ip(api: Api, clock: Any) -> None:
    assert (await api.post_comment(author_ip="203.0.113.7")).status == 201
    clock.advance(1)
    resp = await api.post_comment(author_ip="203.0.113.7", author_email="other@example.com", content="Lain lagi.")
    assert resp.status == 429


async def test_flood_interval_comes_from_policy(make_api: MakeApi, settings: Settings) -> None:
    from dataclasses import replace

    api = await make_api(replace(settings, policy=PolicyBook(default=Policy(flood_interval_seconds=0))))
    assert (await api.post_comment()).status == 201
    assert (await api.post_comment(content="Langsung lagi tanpa menunggu.")).status == 201


async def test_idempotent_retry_returns_first_answer_and_stores_once(api: Api, settings: Settings) -> None:
    headers = {"Idempotency-Key": "req-7f3a"}
    first = await api.post_comment(headers=headers)
    second = await api.post_comment(headers=headers)
    assert first.status == second.status == 201
    assert await first.json() == await second.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["Location"] == first.headers["Location"] == f"/v1/comments/{(await first.json())['id']}"
    assert stored_count(settings) == 1


async def test_idempotency_key_reused_with_other_body_is_409(api: Api) -> None:
    headers = {"Idempotency-Key": "req-1"}
    await api.post_comment(headers=headers)
    resp = await api.post_comment(headers=headers, content="Isi yang lain sama sekali.")
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "idempotency_key_reused"


async def test_get_comment_status(api: Api) -> None:
    created = await (await api.post_comment()).json()
    key = await api.key()
    resp = await api.client.get(f"/v1/comments/{created['id']}", headers={"Authorization": f"Bearer {key}"})
    assert resp.status == 200
    body = await resp.json()
    assert body["status"] == "published"
    assert body["comment"] == created["comment"]
    other = await api.key(site="another-site")
    resp = await api.client.get(f"/v1/comments/{created['id']}", headers={"Authorization": f"Bearer {other}"})
    assert resp.status == 404  # another site's comment does not exist for this key
    resp = await api.client.get("/v1/comments/abc", headers={"Authorization": f"Bearer {key}"})
    assert resp.status == 404


# -- privacy -------------------------------------------------------------------------------------------


async def test_email_ip_and_agent_never_in_responses_or_logs(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    private = {"author_email": EMAIL, "author_ip": "198.51.100.23", "user_agent": "SecretBrowser/9.9"}
    with capture_logs() as logs:
        responses = [
            await api.post_comment(**private),
            await api.post_comment(**private),  # 409
            await api.post_comment(**private, content="Komentar lain."),  # 429
            await api.post_comment(**{**private, "author_email": EMAIL + "x@"}),  # 422
        ]
        texts = [await r.text() for r in responses]
    assert [r.status for r in responses] == [201, 409, 429, 422]
    everything = dump(texts) + dump(logs) + caplog.text
    for secret in (EMAIL, "198.51.100.23", "SecretBrowser"):
        assert secret not in everything
    assert any(entry.get("event") == "request" and entry.get("decision") == "publish" for entry in logs)
    assert EMAIL not in (await (await api.client.get("/metrics")).text())


# -- pipeline signals -------------------------------------------------------------------------------------


async def test_honeypot_holds_as_spam(api: Api) -> None:
    body = await (await api.post_comment(honeypot="http://bot.example")).json()
    assert body["decision"] == "hold"
    assert body["reasons"][0]["code"] == "honeypot"


async def test_submitting_too_fast_holds(api: Api, clock: Any) -> None:
    rendered = (clock.now.replace(microsecond=0)).isoformat().replace("+00:00", "Z")
    clock.advance(1.5)
    body = await (await api.post_comment(form_rendered_at=rendered)).json()
    assert body["decision"] == "hold"
    assert body["reasons"][0]["code"] == "too_fast"


async def test_submitting_at_human_speed_publishes(api: Api, clock: Any) -> None:
    rendered = clock.now.isoformat()
    clock.advance(45)
    body = await (await api.post_comment(form_rendered_at=rendered)).json()
    assert body["decision"] == "publish"


async def test_keyword_lists_see_through_obfuscation(make_api: MakeApi, settings: Settings) -> None:
    from dataclasses import replace

    policy = Policy(disallowed_terms=("pinjol",), moderation_terms=("korupsi",), flood_interval_seconds=0)
    api = await make_api(replace(settings, policy=PolicyBook(default=policy)))
    held = await (await api.post_comment(content="Butuh dana? P I N J O L cepat cair")).json()
    assert [r["code"] for r in held["reasons"]][:1] == ["policy.disallowed_key"]
    review = await (await api.post_comment(content="Kasus K0RUPS1 ini harus diusut")).json()
    assert "policy.moderation_key" in [r["code"] for r in review["reasons"]]
    # word boundaries: "korupsinya" is a different word from the listed term? No: only whole words match.
    fine = await (await api.post_comment(content="Pinjolan bukan kata yang ada")).json()
    assert "policy.disallowed_key" not in [r["code"] for r in fine["reasons"]]


async def test_missing_model_holds_every_comment(make_api: MakeApi, settings: Settings, tmp_path: Path) -> None:
    from dataclasses import replace

    api = await make_api(replace(settings, models_dir=tmp_path / "no-models"))
    resp = await api.post_comment()
    assert resp.status == 201
    body = await resp.json()
    assert body["decision"] == "hold"
    assert [r["code"] for r in body["reasons"]] == ["classifier_unavailable"]
    assert body["models"] == {"spam": None, "toxic": None}
    ready = await api.client.get("/readyz")
    assert ready.status == 503


async def test_model_that_raises_holds_instead_of_500(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from moderation.appkeys import SCORER

    model = api.app[SCORER].current.model

    def broken(texts: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(model, "predict_scores", broken)
    resp = await api.post_comment()
    assert resp.status == 201
    body = await resp.json()
    assert body["decision"] == "hold"
    assert body["reasons"][0]["code"] == "classifier_unavailable"
    metrics = await (await api.client.get("/metrics")).text()
    assert "moderation_classifier_failures_total 1.0" in metrics


async def test_held_all_policy(make_api: MakeApi, settings: Settings) -> None:
    from dataclasses import replace

    api = await make_api(replace(settings, policy=PolicyBook(sites={"kompas-test": Policy(hold_all=True)})))
    body = await (await api.post_comment()).json()
    assert body["decision"] == "hold"
    other = await (await api.post_comment(key=await api.key(site="other"))).json()
    assert other["decision"] == "publish"


# -- durability and operations ------------------------------------------------------------------------


async def test_acknowledged_comment_survives_restart(make_api: MakeApi, settings: Settings) -> None:
    api = await make_api()
    key = await api.key()
    created = await (await api.post_comment(key=key)).json()
    await api.client.close()  # runs the app's cleanup: store closed

    again = await make_api()
    resp = await again.client.get(f"/v1/comments/{created['id']}", headers={"Authorization": f"Bearer {key}"})
    assert resp.status == 200
    assert (await resp.json())["comment"] == created["comment"]


async def test_health_ready_and_metrics(api: Api) -> None:
    assert (await api.client.get("/healthz")).status == 200
    ready = await api.client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["checks"]["models"].startswith("ok")
    await api.post_comment()
    await api.post_comment(author_email="lain@example.com", content="https://a.x/1 https://b.x/2 https://c.x/3")
    text = await (await api.client.get("/metrics")).text()
    assert 'moderation_decisions_total{decision="publish"} 1.0' in text
    assert 'moderation_hold_reasons_total{reason="policy.links"} 1.0' in text
    assert "moderation_http_request_duration_seconds_bucket" in text
    assert 'moderation_model_info{version="2026.01.01-test"} 1.0' in text


async def test_request_id_is_echoed(api: Api) -> None:
    resp = await api.client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert resp.headers["X-Request-ID"] == "abc-123"
