"""POST /v1/comments/{id}/status: a decision made in the site's own admin (wp-admin), as a moderator's."""

from __future__ import annotations

from typing import Any

from moderation.domain import Role

from .conftest import Api, FakeClock
from .test_queue import auth, db, decide, held, post


async def set_status(api: Api, comment_id: int, **body: Any) -> Any:
    return await api.client.post(f"/v1/comments/{comment_id}/status", json=body, headers=auth(await api.key()))


async def test_approve_spam_trash_map_to_the_moderator_decisions(api: Api, clock: FakeClock, settings: Any) -> None:
    approve, spam = await held(api, clock, n=2)
    published = await post(api, clock, content="Semoga warga lekas pulih dan bisa kembali ke rumah.",
                           author_email="warga@example.com")
    assert published["status"] == "published"

    resp = await set_status(api, approve["id"], status="approved", revision=1)
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body == {"id": approve["id"], "status": "published", "previous_status": "held", "revision": 2,
                    "action": "approve", "label": "ham", "reports_closed": 0, "webhook_queued": False,
                    "changed": True}
    # Held and marked spam: refused. Published and trashed: taken down (label "other": not wanted here).
    assert (await (await set_status(api, spam["id"], status="spam", revision=1)).json())["status"] == "rejected"
    trashed = await (await set_status(api, published["id"], status="trash", revision=1, note="wp-admin: user #1")).json()
    assert (trashed["status"], trashed["action"], trashed["label"]) == ("removed", "remove", "other")

    with db(settings) as conn:
        labels = conn.execute("SELECT comment_id, label, source FROM training_labels ORDER BY id").fetchall()
        events = conn.execute("SELECT comment_id, action, to_status, note FROM comment_events "
                              "WHERE actor LIKE 'key:%' ORDER BY id").fetchall()
    assert labels == [(approve["id"], "ham", "moderator"), (spam["id"], "spam", "moderator"),
                      (published["id"], "other", "moderator")]
    assert events == [(approve["id"], "approve", "published", None), (spam["id"], "reject", "rejected", None),
                      (published["id"], "remove", "removed", "wp-admin: user #1")]


async def test_conflicts_and_echoes(api: Api, clock: FakeClock, settings: Any) -> None:
    [comment] = await held(api, clock)
    moderator = await api.key(Role.MODERATOR)
    rejected = await decide(api, moderator, comment["id"], action="reject", label="spam", revision=1)
    assert rejected.status == 200
    # Approved in wp-admin after a moderator rejected it on /moderate: a conflict, nothing changes.
    late = await set_status(api, comment["id"], status="approved", revision=1)
    assert late.status == 409
    error = (await late.json())["error"]
    assert (error["code"], error["current_revision"], error["status"]) == ("stale_revision", 2, "rejected")
    # The site's echo of our own webhook (spam in WordPress too): already so, nothing decided or learnt.
    echo = await set_status(api, comment["id"], status="spam", revision=1)
    assert echo.status == 200
    assert await echo.json() == {"id": comment["id"], "status": "rejected", "previous_status": "rejected",
                                 "revision": 2, "changed": False}
    with db(settings) as conn:
        assert conn.execute("SELECT count(*) FROM training_labels").fetchone() == (1,)
        assert conn.execute("SELECT revision FROM comments WHERE id = ?", (comment["id"],)).fetchone() == (2,)


async def test_unapprove_and_not_spam_undo_in_either_direction(api: Api, clock: FakeClock, settings: Any) -> None:
    [comment] = await held(api, clock)
    moderator = await api.key(Role.MODERATOR)
    assert (await decide(api, moderator, comment["id"], action="reject", label="spam", revision=1)).status == 200
    # "Not spam" in wp-admin on the revision the webhook brought: a person decided again, the comment is restored.
    restored = await set_status(api, comment["id"], status="approved", revision=2)
    assert restored.status == 200, await restored.text()
    body = await restored.json()
    assert (body["status"], body["previous_status"], body["action"], body["label"], body["revision"]) == (
        "published", "rejected", "restore", "ham", 3)
    # "Unapprove": back in the held queue, and it teaches nothing.
    reopened = await (await set_status(api, comment["id"], status="unapproved", revision=3)).json()
    assert (reopened["status"], reopened["action"], reopened["label"]) == ("held", "reopen", None)
    queue = await api.client.get("/v1/queue?status=held", headers=auth(moderator))
    assert [item["id"] for item in (await queue.json())["items"]] == [comment["id"]]
    # Unapproving what is already held is the echo case; the held comment can be decided on /moderate again.
    echo = await (await set_status(api, comment["id"], status="unapproved", revision=4)).json()
    assert echo["changed"] is False
    assert (await decide(api, moderator, comment["id"], action="approve", label="ham", revision=4)).status == 200
    # The moderator queue API itself does not take the site's undo actions.
    refused = await decide(api, moderator, comment["id"], action="reopen", label="ham", revision=5)
    assert refused.status == 422
    with db(settings) as conn:
        labels = conn.execute("SELECT label FROM training_labels WHERE comment_id = ? ORDER BY id",
                              (comment["id"],)).fetchall()
        events = conn.execute("SELECT action, from_status, to_status FROM comment_events "
                              "WHERE comment_id = ? AND actor LIKE 'key:%' ORDER BY id", (comment["id"],)).fetchall()
    assert labels == [("spam",), ("ham",), ("ham",)]
    assert events == [("reject", "held", "rejected"), ("restore", "rejected", "published"),
                      ("reopen", "published", "held"), ("approve", "held", "published")]


async def test_bad_requests_name_their_fields(api: Api, clock: FakeClock) -> None:
    [comment] = await held(api, clock)
    resp = await set_status(api, comment["id"], status="pending", revision=True, note="a\x00b")
    assert resp.status == 422
    error = (await resp.json())["error"]
    assert error["code"] == "invalid_status_change" and set(error["fields"]) == {"status", "revision", "note"}
    missing = await api.client.post(f"/v1/comments/{comment['id'] + 99}/status", json={"status": "spam", "revision": 1},
                                    headers=auth(await api.key()))
    assert missing.status == 404
    not_json = await api.client.post(f"/v1/comments/{comment['id']}/status", data="status=spam",
                                     headers={**auth(await api.key()), "Content-Type": "application/x-www-form-urlencoded"})
    assert not_json.status == 415
    other_site = await api.client.post(f"/v1/comments/{comment['id']}/status", json={"status": "spam", "revision": 1},
                                       headers=auth(await api.key(site="another-site")))
    assert other_site.status == 404
    got = await api.client.get(f"/v1/comments/{comment['id']}", headers=auth(await api.key()))
    assert (await got.json())["status"] == "held"  # nothing of the refused calls was applied
