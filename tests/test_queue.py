"""The moderator API: queue, counts, decisions, bulk decisions, take-downs, readers' reports, audit log."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from typing import Any

import pytest

from moderation.domain import Role
from moderation.policy import Policy, PolicyBook
from moderation.settings import Settings

from .conftest import Api, FakeClock, MakeApi

LINKS = "Baca https://a.example/1 dan https://b.example/2 serta https://c.example/3 ya"
SPAM = "slot gacor maxwin daftar sekarang situs judi terpercaya"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def db(settings: Settings) -> sqlite3.Connection:
    return sqlite3.connect(settings.effective_database_url.removeprefix("sqlite:///"))


@pytest.fixture
async def mod(api: Api) -> str:
    return await api.key(Role.MODERATOR)


async def post(api: Api, clock: FakeClock, **fields: Any) -> dict[str, Any]:
    """Post a comment as the site and move the clock past the flood interval."""
    resp = await api.post_comment(**fields)
    assert resp.status == 201, await resp.text()
    clock.advance(60)
    return await resp.json()


async def held(api: Api, clock: FakeClock, n: int = 1, **fields: Any) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        defaults = {"content": f"{LINKS} nomor {i}", "author_email": f"pembaca{i}@example.com"}
        body = await post(api, clock, **{**defaults, **fields})
        assert body["status"] == "held"
        out.append(body)
    return out


async def queue(api: Api, key: str, **params: Any) -> dict[str, Any]:
    resp = await api.client.get("/v1/queue", params={k: str(v) for k, v in params.items()}, headers=auth(key))
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def decide(api: Api, key: str, comment_id: int, **body: Any) -> Any:
    return await api.client.post(f"/v1/comments/{comment_id}/decision", json=body, headers=auth(key))


# -- the queue -----------------------------------------------------------------------------------------


async def test_held_comment_is_in_the_queue_with_its_evidence(api: Api, clock: FakeClock, mod: str) -> None:
    await post(api, clock, author_email="budi@example.co.id")  # published: not in the held queue
    [comment] = await held(api, clock, author_email="budi@example.co.id")
    body = await queue(api, mod)
    assert [i["id"] for i in body["items"]] == [comment["id"]]
    item = body["items"][0]
    assert item["status"] == "held" and item["revision"] == 1
    assert item["author_email"] == "budi@example.co.id"  # moderators see the e-mail
    assert item["comment"] == comment["comment"]
    assert [r["code"] for r in item["reasons"]] == ["policy.links"]
    assert item["reason_kinds"] == ["policy"]
    assert set(item["scores"]) >= {"spam", "toxic"}
    assert item["risk"] == pytest.approx(max(item["scores"].values()), abs=1e-4)
    assert item["signals"]["links"] == 3
    assert item["author_history"] == {"published": 1, "held": 1, "rejected": 0, "removed": 0, "spam": 0,
                                      "blocked": False}
    assert body["next_cursor"] is None


async def test_roles_and_sites_are_enforced(api: Api, clock: FakeClock, mod: str) -> None:
    await held(api, clock)
    for path in ("/v1/queue", "/v1/queue/counts", "/v1/audit"):
        assert (await api.client.get(path)).status == 401
        assert (await api.client.get(path, headers=auth("mod_mod_wrong"))).status == 401
        assert (await api.client.get(path, headers=auth(await api.key(Role.SITE)))).status == 403
        assert (await api.client.get(path, headers=auth(await api.key(Role.ADMIN)))).status == 200
    resp = await decide(api, await api.key(Role.SITE), 1, action="approve", revision=1)
    assert resp.status == 403
    other_site = await api.key(Role.MODERATOR, site="tempo-test")
    assert (await queue(api, other_site))["items"] == []
    resp = await decide(api, other_site, 1, action="approve", revision=1)
    assert resp.status == 404  # another site's comment does not exist for this key
    resp = await api.client.post("/v1/comments/1/reports", json={}, headers=auth(mod))
    assert resp.status == 403  # reports come from the site's backend


async def test_reason_and_article_filters(api: Api, clock: FakeClock, mod: str) -> None:
    [links] = await held(api, clock)
    spam = await post(api, clock, content=SPAM, author_email="judi@example.com", article_id="other-article")
    assert spam["status"] == "held"
    assert [i["id"] for i in (await queue(api, mod, reason="policy"))["items"]] == [links["id"]]
    assert [i["id"] for i in (await queue(api, mod, reason="spam"))["items"]] == [spam["id"]]
    assert [i["id"] for i in (await queue(api, mod, article_id="other-article"))["items"]] == [spam["id"]]
    assert (await queue(api, mod, reason="toxic"))["items"] == []
    # Riskiest first: the spam comment scores higher than the comment held for its links.
    assert [i["id"] for i in (await queue(api, mod, order="risk"))["items"]] == [spam["id"], links["id"]]


@pytest.mark.parametrize("order", ["oldest", "risk"])
async def test_cursor_pagination_visits_every_comment_once(make_api: MakeApi, settings: Settings,
                                                           clock: FakeClock, order: str) -> None:
    api = await make_api(replace(settings, policy=PolicyBook(default=Policy(hold_all=True))))
    mod = await api.key(Role.MODERATOR)
    created = [(await post(api, clock, content=f"Komentar ke-{i} tentang banjir", author_email=f"p{i}@example.com"))
               for i in range(7)]
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3, "order": order}
        if cursor:
            params["cursor"] = cursor
        body = await queue(api, mod, **params)
        seen += [i["id"] for i in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(c["id"] for c in created) and len(seen) == len(set(seen))


async def test_bad_queue_parameters(api: Api, mod: str) -> None:
    for params in ({"limit": "101"}, {"limit": "0"}, {"reason": "rude"}, {"order": "newest"}, {"status": "x"}):
        resp = await api.client.get("/v1/queue", params=params, headers=auth(mod))
        assert resp.status == 422, params
    resp = await api.client.get("/v1/queue", params={"cursor": "not-a-cursor"}, headers=auth(mod))
    assert resp.status == 400
    assert (await resp.json())["error"]["code"] == "invalid_cursor"


async def test_cursor_belongs_to_its_filters(make_api: MakeApi, settings: Settings, clock: FakeClock) -> None:
    api = await make_api(replace(settings, policy=PolicyBook(default=Policy(hold_all=True))))
    mod = await api.key(Role.MODERATOR)
    for i in range(3):
        await post(api, clock, content=f"Komentar {i}", author_email=f"x{i}@example.com")
    cursor = (await queue(api, mod, limit=1))["next_cursor"]
    resp = await api.client.get("/v1/queue", params={"cursor": cursor, "order": "risk"}, headers=auth(mod))
    assert resp.status == 400


async def test_counts(api: Api, clock: FakeClock, mod: str) -> None:
    await post(api, clock)
    await held(api, clock, 2)
    await post(api, clock, content=SPAM, author_email="judi@example.com")
    resp = await api.client.get("/v1/queue/counts", headers=auth(mod))
    counts = await resp.json()
    assert counts["held"] == 3
    assert counts["by_status"] == {"published": 1, "held": 3, "rejected": 0, "removed": 0, "spam": 0}
    assert counts["held_by_reason"]["policy"] == 2
    assert counts["held_by_reason"]["spam"] == 1
    assert counts["reported"] == 0


# -- decisions -------------------------------------------------------------------------------------------


async def test_approve_publishes_and_bumps_the_revision(api: Api, clock: FakeClock, mod: str,
                                                        settings: Settings) -> None:
    [comment] = await held(api, clock)
    resp = await decide(api, mod, comment["id"], action="approve", revision=1, note="tautan ke sumber resmi")
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body == {
        "id": comment["id"], "status": "published", "previous_status": "held", "revision": 2,
        "action": "approve", "label": "ham", "reports_closed": 0, "webhook_queued": False,
    }
    site = await api.key()
    status = await (await api.client.get(f"/v1/comments/{comment['id']}", headers=auth(site))).json()
    assert status["status"] == "published" and status["revision"] == 2
    assert (await queue(api, mod))["items"] == []
    with db(settings) as conn:
        labels = conn.execute("SELECT label, source, actor, model_version, text FROM training_labels").fetchall()
    assert labels == [("ham", "moderator", labels[0][2], "2026.01.01-test", comment["comment"]["content"])]
    assert labels[0][2].startswith("key:")


async def test_stale_revision_and_already_decided_are_409(api: Api, clock: FakeClock, mod: str) -> None:
    [comment] = await held(api, clock)
    first = await decide(api, mod, comment["id"], action="reject", label="spam", revision=1)
    assert first.status == 200
    # A second moderator still looking at revision 1.
    late = await decide(api, mod, comment["id"], action="approve", revision=1)
    assert late.status == 409
    error = (await late.json())["error"]
    assert error["code"] == "stale_revision"
    assert error["current_revision"] == 2 and error["status"] == "rejected"
    # The current revision, but the comment awaits no decision any more.
    again = await decide(api, mod, comment["id"], action="approve", revision=2)
    assert again.status == 409
    assert (await again.json())["error"]["code"] == "stale_revision"


async def test_invalid_decisions_name_their_fields(api: Api, clock: FakeClock, mod: str) -> None:
    [comment] = await held(api, clock)
    resp = await decide(api, mod, comment["id"], action="reject", label="ham")
    assert resp.status == 422
    fields = (await resp.json())["error"]["fields"]
    assert set(fields) == {"label", "revision"}
    resp = await decide(api, mod, comment["id"], action="publish", revision=1)
    assert set((await resp.json())["error"]["fields"]) == {"action"}
    resp = await decide(api, mod, 99999, action="approve", revision=1)
    assert resp.status == 404
    resp = await api.client.post(f"/v1/comments/{comment['id']}/decision", data=b"{", headers={
        **auth(mod), "Content-Type": "application/json"})
    assert resp.status == 400


async def test_decision_is_one_transaction(api: Api, clock: FakeClock, mod: str, settings: Settings) -> None:
    """If any part of a decision fails, nothing of it remains: status, event, label, outbox."""
    [comment] = await held(api, clock)
    with db(settings) as conn:
        conn.execute("CREATE TRIGGER fail_label BEFORE INSERT ON training_labels "
                     "BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    resp = await decide(api, mod, comment["id"], action="approve", revision=1)
    assert resp.status == 500
    with db(settings) as conn:
        assert conn.execute("SELECT status, revision FROM comments").fetchone() == ("held", 1)
        assert conn.execute("SELECT COUNT(*) FROM comment_events").fetchone()[0] == 1  # only 'submitted'
        conn.execute("DROP TRIGGER fail_label")
    assert (await decide(api, mod, comment["id"], action="approve", revision=1)).status == 200


async def test_bulk_decisions_report_each_result(api: Api, clock: FakeClock, mod: str) -> None:
    a, b, c = await held(api, clock, 3)
    resp = await api.client.post("/v1/decisions", headers=auth(mod), json={"decisions": [
        {"comment_id": a["id"], "action": "reject", "label": "spam", "revision": 1},
        {"comment_id": b["id"], "action": "reject", "label": "spam", "revision": 5},
        {"comment_id": 424242, "action": "reject", "label": "spam", "revision": 1},
        {"comment_id": c["id"], "action": "reject", "label": "nonsense", "revision": 1},
    ]})
    assert resp.status == 200
    body = await resp.json()
    assert body["succeeded"] == 1 and body["failed"] == 3
    results = body["results"]
    assert results[0]["ok"] and results[0]["status"] == "rejected"
    assert [r.get("error", {}).get("code") for r in results[1:]] == ["stale_revision", "not_found", "invalid_decision"]
    assert [i["id"] for i in (await queue(api, mod))["items"]] == [b["id"], c["id"]]
    too_many = {"decisions": [{"comment_id": 1, "action": "approve", "revision": 1}] * 101}
    assert (await api.client.post("/v1/decisions", headers=auth(mod), json=too_many)).status == 422


async def test_moderator_takes_down_a_published_comment(api: Api, clock: FakeClock, mod: str) -> None:
    comment = await post(api, clock)
    assert comment["status"] == "published"
    resp = await decide(api, mod, comment["id"], action="remove", label="toxic", revision=1)
    assert resp.status == 200
    assert (await resp.json())["status"] == "removed"
    metrics = await (await api.client.get("/metrics")).text()
    assert ('moderation_overturned_total{kind="published_then_removed",model_version="2026.01.01-test"} 1.0'
            in metrics)
    assert 'moderation_moderator_actions_total{action="remove",label="toxic"} 1.0' in metrics
    # Removing a held comment is a reject, not a take-down.
    [held_one] = await held(api, clock)
    assert (await decide(api, mod, held_one["id"], action="remove", label="spam", revision=1)).status == 409


async def test_overturned_holds_are_counted(api: Api, clock: FakeClock, mod: str) -> None:
    [comment] = await held(api, clock)
    await decide(api, mod, comment["id"], action="approve", revision=1)
    metrics = await (await api.client.get("/metrics")).text()
    assert 'moderation_overturned_total{kind="held_then_approved",model_version="2026.01.01-test"} 1.0' in metrics


async def test_author_history_counts_decisions(api: Api, clock: FakeClock, mod: str) -> None:
    email = "sering@example.com"
    first, second, third = await held(api, clock, 3, author_email=email)
    await decide(api, mod, first["id"], action="reject", label="spam", revision=1)
    await decide(api, mod, second["id"], action="approve", revision=1)
    [item] = (await queue(api, mod))["items"]
    assert item["id"] == third["id"]
    assert item["author_history"] == {"published": 1, "held": 1, "rejected": 1, "removed": 0, "spam": 0,
                                      "blocked": False}


# -- readers' reports --------------------------------------------------------------------------------------


async def test_reported_comment_stays_up_until_a_moderator_acts(api: Api, clock: FakeClock, mod: str) -> None:
    site = await api.key()
    comment = await post(api, clock)
    url = f"/v1/comments/{comment['id']}/reports"
    resp = await api.client.post(url, json={"reason": "toxic", "reporter": "reader-17", "note": "kasar"},
                                 headers=auth(site))
    assert resp.status == 201
    assert (await resp.json())["open_reports"] == 1
    again = await api.client.post(url, json={"reason": "toxic", "reporter": "reader-17"}, headers=auth(site))
    assert again.status == 200 and (await again.json())["duplicate"] is True
    await api.client.post(url, json={"reason": "spam"}, headers=auth(site))

    status = await (await api.client.get(f"/v1/comments/{comment['id']}", headers=auth(site))).json()
    assert status["status"] == "published"  # still visible while reported, as in Coral
    [item] = (await queue(api, mod, reason="reported"))["items"]
    assert item["id"] == comment["id"]
    assert item["reports"] == {"open": 2, "reasons": {"toxic": 1, "spam": 1}}
    assert (await (await api.client.get("/v1/queue/counts", headers=auth(mod))).json())["reported"] == 1

    # Approving keeps it up and closes the reports; no status change.
    resp = await decide(api, mod, comment["id"], action="approve", revision=1)
    body = await resp.json()
    assert body["status"] == "published" and body["reports_closed"] == 2 and body["revision"] == 2
    assert (await queue(api, mod, reason="reported"))["items"] == []


async def test_rejecting_a_reported_comment_removes_it(api: Api, clock: FakeClock, mod: str) -> None:
    site = await api.key()
    comment = await post(api, clock)
    await api.client.post(f"/v1/comments/{comment['id']}/reports", json={"reason": "spam"}, headers=auth(site))
    resp = await decide(api, mod, comment["id"], action="reject", label="spam", revision=1)
    assert (await resp.json())["status"] == "removed"
    late = await api.client.post(f"/v1/comments/{comment['id']}/reports", json={}, headers=auth(site))
    assert late.status == 201 and (await late.json())["open_reports"] == 0


async def test_report_validation(api: Api, clock: FakeClock) -> None:
    site = await api.key()
    comment = await post(api, clock)
    url = f"/v1/comments/{comment['id']}/reports"
    assert (await api.client.post(url, json={"reason": "boring"}, headers=auth(site))).status == 422
    assert (await api.client.post(url, json={"note": "x" * 1001}, headers=auth(site))).status == 422
    assert (await api.client.post("/v1/comments/999/reports", json={}, headers=auth(site))).status == 404
    other = await api.key(site="tempo-test")
    assert (await api.client.post(url, json={}, headers=auth(other))).status == 404


# -- the audit log -------------------------------------------------------------------------------------------


async def test_audit_log_lists_every_decision(api: Api, clock: FakeClock, mod: str, settings: Settings) -> None:
    [comment] = await held(api, clock)
    await decide(api, mod, comment["id"], action="reject", label="toxic", revision=1, note="menghina")
    resp = await api.client.get("/v1/audit", headers=auth(mod))
    events = (await resp.json())["items"]
    assert [e["action"] for e in events] == ["reject", "submitted"]
    reject, submitted = events
    assert reject["actor"].startswith("key:") and reject["label"] == "toxic" and reject["note"] == "menghina"
    assert (reject["from_status"], reject["to_status"]) == ("held", "rejected")
    assert reject["model_version"] == "2026.01.01-test"
    assert submitted["actor"] == "system" and submitted["reasons"][0]["code"] == "policy.links"
    with db(settings) as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute("DELETE FROM comment_events")  # append-only


async def test_audit_pagination(make_api: MakeApi, settings: Settings, clock: FakeClock) -> None:
    api = await make_api(replace(settings, policy=PolicyBook(default=Policy(hold_all=True))))
    mod = await api.key(Role.MODERATOR)
    for i in range(5):
        await post(api, clock, content=f"Komentar {i}", author_email=f"a{i}@example.com")
    first = await (await api.client.get("/v1/audit", params={"limit": "3"}, headers=auth(mod))).json()
    rest = await (await api.client.get("/v1/audit", params={"limit": "3", "cursor": first["next_cursor"]},
                                       headers=auth(mod))).json()
    ids = [e["id"] for e in first["items"] + rest["items"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 5 and rest["next_cursor"] is None
