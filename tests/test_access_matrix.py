"""Who may call what: every route of the app x every kind of caller, with the expected answer in one table.

Callers: no key, a malformed key, an unknown key, a revoked key, the site / moderator / admin keys of
site A and of site B, and an operator key. The rule the table states:

- health, metrics, discovery, static files and the sign-in form are public (a key changes nothing);
- a missing, malformed, unknown or revoked key is 401 (the drop-in APIs answer in their own protocol:
  Perspective 403/400, Akismet ``200 invalid``); a key of the wrong role is 403;
- a resource of site A (a comment) is 404 to every key of site B, never 403 or 200; site-wide listings
  (queue, counts, audit, stats, webhook) answer site B with site B's own data, never site A's;
- the /moderate page authenticates by session cookie only (signed in with a moderator or admin key), a
  bearer header does not sign anyone in;
- the operator key belongs to no site: it lists and reloads the shared model and nothing else; no site's
  admin may reload the model;
- ``CASES`` adds rows for SSRF (a webhook URL into the operator's network is 422 for the admins, stored for
  no one) and rate limits (an empty key bucket is 429 only for a key that may call the route; a throttled
  sign-in is 429 for every caller, the key is not looked at).

``test_every_route_has_a_row`` fails when a route is added without a row here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from moderation.app import create_app
from moderation.appkeys import ABUSE_LIMITS, SCORER, STORE
from moderation.auth import hash_key, new_key
from moderation.domain import Role
from moderation.policy import Policy, PolicyBook
from moderation.settings import Settings
from moderation.store.rows import to_ts

from .conftest import Api, FakeClock, MakeApi, valid_comment

SITE_A, SITE_B = "site-a", "site-b"
MARK = "rahasia-situs-a"  # in site A's comment text: must never reach a caller of site B
NONE, BAD, UNKNOWN, REVOKED = "none", "malformed", "unknown", "revoked"
SA, MA, AA, SB, MB, AB = "site A", "moderator A", "admin A", "site B", "moderator B", "admin B"
OP = "operator"  # the operator's key: belongs to no site, reloads the shared model
CALLERS = (NONE, BAD, UNKNOWN, REVOKED, SA, MA, AA, SB, MB, AB, OP)
SITE_B_CALLERS = (SB, MB, AB)


# -- the table ----------------------------------------------------------------------------------------------

# An expected cell is a status, or (status, text) where text must appear in the body or the Location header.
Cell = int | tuple[int, str]


def cells(*values: Cell) -> dict[str, Cell]:
    assert len(values) == len(CALLERS)
    return dict(zip(CALLERS, values, strict=True))


def public(status: Cell = 200) -> dict[str, Cell]:
    return cells(*[status] * len(CALLERS))


#                        none bad  unkn revk  site modA admA  siteB modB admB  oper
SITE_ONLY_CREATE = cells(401, 401, 401, 401, 201, 403, 403, 201, 403, 403, 403)
ANY_ROLE_OWN_SITE = cells(401, 401, 401, 401, 200, 200, 200, 404, 404, 404, 403)
ADMIN_ANY_SITE = cells(401, 401, 401, 401, 403, 403, 200, 403, 403, 200, 403)
ADMIN_OR_OPERATOR = cells(401, 401, 401, 401, 403, 403, 200, 403, 403, 200, 200)
OPERATOR_ONLY = cells(401, 401, 401, 401, 403, 403, 403, 403, 403, 403, 200)
MODERATORS_ANY_SITE = cells(401, 401, 401, 401, 403, 200, 200, 403, 200, 200, 403)
MODERATORS_OWN_SITE = cells(401, 401, 401, 401, 403, 200, 200, 403, 404, 404, 403)
SITE_OWN_RESOURCE = cells(401, 401, 401, 401, 201, 403, 403, 404, 403, 403, 403)
SITE_OWN_DECISION = cells(401, 401, 401, 401, 200, 403, 403, 404, 403, 403, 403)
SITE_CORAL = cells(401, 401, 401, 401, 200, 403, 403, 200, 403, 403, 403)
PERSPECTIVE = cells(403, 400, 400, 400, 200, 403, 403, 200, 403, 403, 403)
# Rollback with nothing promoted before: an operator gets past the key check to 409 nothing_to_roll_back.
OPERATOR_ROLLBACK = cells(401, 401, 401, 401, 403, 403, 403, 403, 403, 403, 409)
SITE_OWN_EDIT = cells(401, 401, 401, 401, 200, 403, 403, 404, 403, 403, 403)
INVALID = (200, "invalid")
SIGNED_IN = (200, 'action="/moderate/sign-out"')
TO_SIGN_IN = (303, "/moderate/sign-in")


def akismet(ok: str) -> dict[str, Cell]:
    return cells(INVALID, INVALID, INVALID, INVALID, (200, ok), INVALID, INVALID, (200, ok), INVALID, INVALID,
                 INVALID)


@dataclass(frozen=True)
class Row:
    method: str  # as registered; "*" routes are called with POST
    route: str  # the router's canonical path
    how: str  # how a caller's key travels: public, bearer, query, form, form-key, sign-in, session
    expect: dict[str, Cell]
    request: Callable[[Ctx, str], Awaitable[dict[str, Any]]] | None = None  # path/json/data for one cell
    after: Callable[[Ctx, str, Any], Awaitable[None]] | None = None  # extra checks on the effect
    case: str = ""  # CASES: what the row adds to the route's own row (SSRF, rate limits)


@dataclass
class Ctx:
    api: Api
    clock: FakeClock
    settings: Settings
    keys: dict[str, str | None]
    revoked_session: str
    comment_id: int = 0

    async def held_comment(self) -> tuple[int, int]:
        """A fresh held comment of site A (its policy holds everything): (id, revision)."""
        self.clock.advance(60)
        body = valid_comment(content=f"Komentar {MARK} nomor {secrets.token_hex(4)} tentang banjir.",
                             author_email=f"{secrets.token_hex(4)}@example.com")
        resp = await self.api.post_comment(body, key=self.keys[SA])
        assert resp.status == 201, await resp.text()
        data = await resp.json()
        assert data["status"] == "held"
        got = await self.api.client.get(f"/v1/comments/{data['id']}",
                                        headers={"Authorization": f"Bearer {self.keys[SA]}"})
        return data["id"], (await got.json())["revision"]

    def status_of(self, comment_id: int) -> str:
        with sqlite3.connect(self.settings.effective_database_url.removeprefix("sqlite:///")) as conn:
            return conn.execute("SELECT status FROM comments WHERE id = ?", (comment_id,)).fetchone()[0]


async def comment_path(ctx: Ctx, suffix: str = "") -> dict[str, Any]:
    return {"path": f"/v1/comments/{ctx.comment_id}{suffix}"}


async def new_submission(ctx: Ctx, caller: str) -> dict[str, Any]:
    ctx.clock.advance(60)  # past the flood interval
    return {"json": valid_comment(author_email=f"{secrets.token_hex(4)}@example.com",
                                  content=f"Semoga lekas pulih, {secrets.token_hex(4)}.")}


async def promote_serving_version(ctx: Ctx, caller: str) -> dict[str, Any]:
    # The version already serving: the shared test models directory's CURRENT stays as it is.
    return {"json": {"version": ctx.api.app[SCORER].version}}


async def edit_of_fresh_comment(ctx: Ctx, caller: str) -> dict[str, Any]:
    cid, rev = await ctx.held_comment()
    return {"path": f"/v1/comments/{cid}", "json": {"content": f"Versi baru {secrets.token_hex(4)}", "revision": rev},
            "comment": cid}


async def decision_on_fresh_comment(ctx: Ctx, caller: str) -> dict[str, Any]:
    cid, rev = await ctx.held_comment()
    return {"path": f"/v1/comments/{cid}/decision", "json": {"action": "approve", "label": "ham", "revision": rev},
            "comment": cid}


async def site_status_on_fresh_comment(ctx: Ctx, caller: str) -> dict[str, Any]:
    cid, rev = await ctx.held_comment()
    return {"path": f"/v1/comments/{cid}/status", "json": {"status": "approved", "revision": rev}, "comment": cid}


async def approved_only_by_site_a(ctx: Ctx, caller: str, req: dict[str, Any]) -> None:
    assert ctx.status_of(req["comment"]) == ("published" if caller == SA else "held"), caller


async def bulk_decision(ctx: Ctx, caller: str) -> dict[str, Any]:
    cid, rev = await ctx.held_comment()
    return {"json": {"decisions": [{"comment_id": cid, "action": "approve", "label": "ham", "revision": rev}]},
            "comment": cid}


async def page_decision(ctx: Ctx, caller: str) -> dict[str, Any]:
    cid, rev = await ctx.held_comment()
    return {"data": {"one": f"approve:{cid}:{rev}", "back": ""}, "comment": cid}


async def page_author_block(ctx: Ctx, caller: str) -> dict[str, Any]:
    cid, _ = await ctx.held_comment()
    return {"data": {"author": f"block:{cid}", "back": ""}, "comment": cid}


async def author_block_of_fresh_comment(ctx: Ctx, caller: str) -> dict[str, Any]:
    cid, _ = await ctx.held_comment()
    return {"path": f"/v1/comments/{cid}/author-block", "comment": cid}


async def author_unblock_of_fresh_comment(ctx: Ctx, caller: str) -> dict[str, Any]:
    cid, _ = await ctx.held_comment()
    await ctx.api.app[STORE].set_author_block(SITE_A, cid, block=True, actor="test", note=None, now=datetime.now(UTC))
    return {"path": f"/v1/comments/{cid}/author-block", "comment": cid}


def author_blocked(ctx: Ctx, comment_id: int) -> bool:
    with sqlite3.connect(ctx.settings.effective_database_url.removeprefix("sqlite:///")) as conn:
        return conn.execute("SELECT COUNT(*) FROM author_blocks WHERE comment_id = ?", (comment_id,)).fetchone()[0] > 0


async def blocked_only_by_site_a_moderators(ctx: Ctx, caller: str, req: dict[str, Any]) -> None:
    assert author_blocked(ctx, req["comment"]) is (caller in (MA, AA)), caller


async def unblocked_only_by_site_a_moderators(ctx: Ctx, caller: str, req: dict[str, Any]) -> None:
    assert author_blocked(ctx, req["comment"]) is (caller not in (MA, AA)), caller


async def approved_only_by_site_a_moderators(ctx: Ctx, caller: str, req: dict[str, Any]) -> None:
    want = "published" if caller in (MA, AA) else "held"
    assert ctx.status_of(req["comment"]) == want, caller


async def bulk_result(ctx: Ctx, caller: str, req: dict[str, Any]) -> None:
    await approved_only_by_site_a_moderators(ctx, caller, req)
    if caller in (MB, AB):
        [result] = req["body"]["results"]
        assert not result["ok"] and result["http_status"] == 404, result


async def sees_nothing_of_site_a(ctx: Ctx, caller: str, req: dict[str, Any]) -> None:
    if caller in SITE_B_CALLERS:
        assert MARK not in req["text"], f"{caller} saw site A's comment"


async def shows_site_a_only_to_site_a(ctx: Ctx, caller: str, req: dict[str, Any]) -> None:
    await sees_nothing_of_site_a(ctx, caller, req)
    if caller in (MA, AA) and req["status"] == 200:
        assert MARK in req["text"], f"{caller} should see its own site's comment"


async def audit_of_site_a_only_to_site_a(ctx: Ctx, caller: str, req: dict[str, Any]) -> None:
    if req["status"] == 200:
        items = req["body"]["items"]
        assert (len(items) > 0) == (caller in (MA, AA)), (caller, items)


CORAL_SECRETS = {SITE_A: "ssc_" + "a" * 64, SITE_B: "ssc_" + "b" * 64}


async def coral_phase_request(ctx: Ctx, caller: str) -> dict[str, Any]:
    """Coral's External Moderation request, signed with the secret of the caller's site (site A for callers
    of no site): a valid signature never lets a key of the wrong role or no key through."""
    text = f"Komentar {MARK} lewat Coral {secrets.token_hex(4)}, semoga banjir cepat surut."
    body = json.dumps({"action": "NEW", "comment": {"body": text, "parentID": None},
                       "author": {"id": secrets.token_hex(6), "role": "COMMENTER"},
                       "story": {"id": "story-1", "url": "https://a.example/story-1"}, "site": {"id": "s1"},
                       "tenantID": "t1", "tenantDomain": "a.example"}, indent=2).encode()
    secret = CORAL_SECRETS[SITE_B if caller in SITE_B_CALLERS else SITE_A]
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"data": body, "headers": {"Content-Type": "application/json", "X-Coral-Signature": signature},
            "text_sent": text}


async def coral_stored_only_for_site_keys(ctx: Ctx, caller: str, req: dict[str, Any]) -> None:
    with sqlite3.connect(ctx.settings.effective_database_url.removeprefix("sqlite:///")) as conn:
        sites = [r[0] for r in conn.execute("SELECT site_id FROM comments WHERE content = ?", (req["text_sent"],))]
    assert sites == ({SA: [SITE_A], SB: [SITE_B]}.get(caller, [])), caller
    if caller == SA:  # site A's policy holds everything: plain pre-moderation, no detector's flag
        assert req["body"] == {"status": "PREMOD", "actions": []}
    if caller == SB:
        assert req["body"] == {}


async def signature_of_site_a(ctx: Ctx, caller: str) -> dict[str, Any]:
    """A fresh learned signature of site A (as a moderator's spam rejection would leave it)."""
    from datetime import timedelta

    from moderation.store import SignatureKey

    store, value = ctx.api.app[STORE], f"merek{secrets.token_hex(3)}88"
    await store.record_campaign_votes(SITE_A, ctx.comment_id, actor="key:1", action="reject", label="spam",
                                      keys=[SignatureKey("brand", value)], now=ctx.clock(), ttl=timedelta(days=1))
    [sig] = [s for s in await store.list_campaign_signatures(SITE_A, now=ctx.clock()) if s.value == value]
    return {"path": f"/v1/campaigns/signatures/{sig.id}"}


async def cluster_of_fresh_comment(ctx: Ctx, caller: str) -> dict[str, Any]:

    cid, _ = await ctx.held_comment()
    cluster, _ = await ctx.api.app[STORE].comment_campaign(SITE_A, cid)
    return {"path": f"/v1/campaigns/clusters/{cluster}/decision", "comment": cid,
            "json": {"action": "approve", "label": "ham", "up_to_id": cid}}


async def page_cluster_decision(ctx: Ctx, caller: str) -> dict[str, Any]:
    req = await cluster_of_fresh_comment(ctx, caller)
    cluster = req["path"].split("/")[4]
    return {"data": {"cluster": f"{cluster}:{req['comment']}", "button": "approve"}, "comment": req["comment"]}


async def erase_site_a_author(ctx: Ctx, caller: str) -> dict[str, Any]:
    """Erase the author of a fresh site A comment (each caller gets its own author)."""
    cid, _ = await ctx.held_comment()
    with sqlite3.connect(ctx.settings.effective_database_url.removeprefix("sqlite:///")) as conn:
        email = conn.execute("SELECT author_email FROM comments WHERE id = ?", (cid,)).fetchone()[0]
    return {"json": {"author_email": email}, "comment": cid}


async def site_a_author_erased_only_by_admin_a(ctx: Ctx, caller: str, req: dict[str, Any]) -> None:
    with sqlite3.connect(ctx.settings.effective_database_url.removeprefix("sqlite:///")) as conn:
        email = conn.execute("SELECT author_email FROM comments WHERE id = ?", (req["comment"],)).fetchone()[0]
    assert (email == "") == (caller == AA), (caller, email)
    if caller == AB:  # site B's admin erased on site B, where that e-mail has nothing
        assert req["body"]["erased"]["comments"] == 0


ROWS: tuple[Row, ...] = (
    Row("GET", "/healthz", "public", public()),
    Row("GET", "/v1/openapi.json", "public", public()),
    Row("GET", "/readyz", "public", public()),
    Row("GET", "/metrics", "public", public(), after=sees_nothing_of_site_a),
    Row("POST", "/v1/comments", "bearer", SITE_ONLY_CREATE, new_submission),
    Row("GET", "/v1/comments/{comment_id}", "bearer", ANY_ROLE_OWN_SITE, lambda c, _: comment_path(c)),
    Row("PATCH", "/v1/comments/{comment_id}", "bearer", SITE_OWN_EDIT, edit_of_fresh_comment),
    Row("GET", "/v1/shadow/report", "bearer", MODERATORS_ANY_SITE, after=sees_nothing_of_site_a),
    Row("GET", "/v1/admin/models", "bearer", ADMIN_OR_OPERATOR),
    Row("POST", "/v1/admin/models/reload", "bearer", OPERATOR_ONLY),
    Row("POST", "/v1/admin/models/promote", "bearer", OPERATOR_ONLY, promote_serving_version),
    Row("POST", "/v1/admin/models/rollback", "bearer", OPERATOR_ROLLBACK),
    Row("GET", "/v1/admin/stats", "bearer", ADMIN_ANY_SITE),
    Row("GET", "/v1/queue", "bearer", MODERATORS_ANY_SITE, after=shows_site_a_only_to_site_a),
    Row("GET", "/v1/queue/counts", "bearer", MODERATORS_ANY_SITE),
    Row("POST", "/v1/comments/{comment_id}/decision", "bearer", MODERATORS_OWN_SITE, decision_on_fresh_comment,
        approved_only_by_site_a_moderators),
    Row("POST", "/v1/comments/{comment_id}/status", "bearer", SITE_OWN_DECISION, site_status_on_fresh_comment,
        approved_only_by_site_a),
    Row("POST", "/v1/decisions", "bearer", MODERATORS_ANY_SITE, bulk_decision, bulk_result),
    Row("PUT", "/v1/comments/{comment_id}/author-block", "bearer", MODERATORS_OWN_SITE, author_block_of_fresh_comment,
        blocked_only_by_site_a_moderators),
    Row("DELETE", "/v1/comments/{comment_id}/author-block", "bearer", MODERATORS_OWN_SITE,
        author_unblock_of_fresh_comment, unblocked_only_by_site_a_moderators),
    Row("POST", "/v1/comments/{comment_id}/reports", "bearer", SITE_OWN_RESOURCE,
        lambda c, _: _with(comment_path(c, "/reports"), json={"reason": "spam"})),
    Row("GET", "/v1/audit", "bearer", MODERATORS_ANY_SITE,
        lambda c, _: _query(f"/v1/audit?comment_id={c.comment_id}"), audit_of_site_a_only_to_site_a),
    Row("GET", "/v1/campaigns/signatures", "bearer", MODERATORS_ANY_SITE, after=sees_nothing_of_site_a),
    Row("GET", "/v1/campaigns/signatures/{signature_id}", "bearer", MODERATORS_OWN_SITE, signature_of_site_a),
    Row("DELETE", "/v1/campaigns/signatures/{signature_id}", "bearer", MODERATORS_OWN_SITE, signature_of_site_a),
    Row("GET", "/v1/queue/clusters", "bearer", MODERATORS_ANY_SITE, after=sees_nothing_of_site_a),
    Row("POST", "/v1/campaigns/clusters/{cluster_id}/decision", "bearer", MODERATORS_OWN_SITE,
        cluster_of_fresh_comment, approved_only_by_site_a_moderators),
    Row("GET", "/v1/admin/webhook", "bearer", ADMIN_ANY_SITE),
    Row("PUT", "/v1/admin/webhook", "bearer", ADMIN_ANY_SITE,
        lambda c, _: _json({"url": "https://hooks.example.com/moderation"})),
    Row("DELETE", "/v1/admin/webhook", "bearer", ADMIN_ANY_SITE),
    Row("GET", "/v1/admin/webhooks/deliveries", "bearer", ADMIN_ANY_SITE),
    Row("POST", "/v1/admin/webhooks/retry", "bearer", ADMIN_ANY_SITE),
    Row("DELETE", "/v1/authors", "bearer", ADMIN_ANY_SITE, erase_site_a_author, site_a_author_erased_only_by_admin_a),
    #                                        none bad unknown revoked site modA admA siteB modB admB oper
    Row("GET", "/moderate/sign-in", "session", cells(200, 200, 200, 200, 200, 303, 303, 200, 303, 303, 200)),
    Row("POST", "/moderate/sign-in", "sign-in", cells(401, 401, 401, 401, 401, 303, 303, 401, 303, 303, 401)),
    Row("POST", "/moderate/sign-out", "session", public(303)),  # signed in or not, you land on the sign-in form
    Row("GET", "/moderate/language", "public", public(303), lambda c, _: _query("/moderate/language?to=id")),
    Row("GET", "/moderate", "session",
        cells(TO_SIGN_IN, TO_SIGN_IN, TO_SIGN_IN, TO_SIGN_IN, TO_SIGN_IN, SIGNED_IN, SIGNED_IN, TO_SIGN_IN,
              SIGNED_IN, SIGNED_IN, TO_SIGN_IN), after=shows_site_a_only_to_site_a),
    Row("POST", "/moderate/decide", "session",
        cells(TO_SIGN_IN, TO_SIGN_IN, TO_SIGN_IN, TO_SIGN_IN, TO_SIGN_IN, (303, "done=1"), (303, "done=1"),
              TO_SIGN_IN, (303, "failed=1"), (303, "failed=1"), TO_SIGN_IN),
        page_decision, approved_only_by_site_a_moderators),
    Row("POST", "/moderate/author-block", "session",
        cells(TO_SIGN_IN, TO_SIGN_IN, TO_SIGN_IN, TO_SIGN_IN, TO_SIGN_IN, (303, "blocked=1"), (303, "blocked=1"),
              TO_SIGN_IN, (303, "failed=1"), (303, "failed=1"), TO_SIGN_IN),
        page_author_block, blocked_only_by_site_a_moderators),
    Row("GET", "/moderate/clusters", "session",
        cells(TO_SIGN_IN, TO_SIGN_IN, TO_SIGN_IN, TO_SIGN_IN, TO_SIGN_IN, SIGNED_IN, SIGNED_IN, TO_SIGN_IN,
              SIGNED_IN, SIGNED_IN, TO_SIGN_IN), after=sees_nothing_of_site_a),
    Row("GET", "/moderate/shadow", "session",
        cells(TO_SIGN_IN, TO_SIGN_IN, TO_SIGN_IN, TO_SIGN_IN, TO_SIGN_IN, SIGNED_IN, SIGNED_IN, TO_SIGN_IN,
              SIGNED_IN, SIGNED_IN, TO_SIGN_IN), after=sees_nothing_of_site_a),
    Row("POST", "/moderate/clusters/decide", "session",
        cells(TO_SIGN_IN, TO_SIGN_IN, TO_SIGN_IN, TO_SIGN_IN, TO_SIGN_IN, (303, "done="), (303, "done="),
              TO_SIGN_IN, (303, "failed=1"), (303, "failed=1"), TO_SIGN_IN),
        page_cluster_decision, approved_only_by_site_a_moderators),
    Row("GET", "/moderate/static", "public", public(), lambda c, _: _query("/moderate/static/moderate.css")),
    Row("*", "/v1alpha1/comments:analyze", "query", PERSPECTIVE,
        lambda c, _: _json({"comment": {"text": "slot gacor"}, "requestedAttributes": {"SPAM": {}}})),
    Row("*", "/v1alpha1/comments:suggestscore", "query", PERSPECTIVE,
        lambda c, _: _json({"comment": {"text": "slot gacor"},
                            "attributeScores": {"SPAM": {"summaryScore": {"value": 1}}}})),
    Row("POST", "/v1/compat/coral/moderate", "query", SITE_CORAL, coral_phase_request, coral_stored_only_for_site_keys),
    Row("GET", "/$discovery/rest", "public", public(), lambda c, _: _query("/$discovery/rest?version=v1alpha1")),
    Row("*", "/1.1/verify-key", "form-key", akismet("valid"), lambda c, _: _form({"blog": "https://a.example"})),
    Row("*", "/1.1/comment-check", "form", akismet("false"),
        lambda c, _: _form({"blog": "https://a.example", "comment_content": "Semoga lekas pulih."})),
    Row("*", "/1.1/submit-spam", "form", akismet("Thanks"), lambda c, _: _form({"comment_content": "slot gacor"})),
    Row("*", "/1.1/submit-ham", "form", akismet("Thanks"), lambda c, _: _form({"comment_content": "berita bagus"})),
    Row("*", "/1.1/get-subscription", "form-key", akismet('"active"'), lambda c, _: _form({"blog": "https://a.example"})),
    Row("*", "/1.1/get-stats", "form-key", akismet('"spam"'), lambda c, _: _form({"from": "all"})),
    Row("*", "/1.1/deactivate", "form-key", akismet("deactivated"), lambda c, _: _form({"blog": "https://a.example"})),
    Row("*", "/1.1/verify-wpcom-key", "form-key", public(INVALID), lambda c, _: _form({"user_id": "1"})),
    Row("*", "/1.2/usage-limit", "form", akismet('"throttled"'), lambda c, _: _form({})),
    Row("*", "/1.2/key-sites", "form", akismet('"sites"'), lambda c, _: _form({})),
)


# Cases beside the one row per route: the same callers against a refused webhook URL, an exhausted key
# bucket and a throttled sign-in. The rule: 401 (no valid key) and 403 (wrong role) come first, whatever the case.
INSIDE_URL = "https://169.254.169.254/latest/meta-data/"
#                            none bad  unkn revk  site modA admA siteB modB admB oper
ADMIN_REFUSED_URL = cells(401, 401, 401, 401, 403, 403, 422, 403, 403, 422, 403)
MODERATORS_LIMITED = cells(401, 401, 401, 401, 403, 429, 429, 403, 429, 429, 403)
SITE_LIMITED = cells(401, 401, 401, 401, 429, 403, 403, 429, 403, 403, 403)
OPERATOR_LIMITED = cells(401, 401, 401, 401, 403, 403, 403, 403, 403, 403, 429)


async def drain_bucket(ctx: Ctx, caller: str) -> None:
    """Empty the caller's key bucket (as a flood of calls would) before its one call."""

    key = ctx.keys[caller]
    found = await ctx.api.app[STORE].find_api_key(hash_key(key)) if key and key.isascii() else None
    if found is None:
        return
    policy = ctx.settings.policy.for_site(found.site_id)
    buckets = ctx.api.app[ABUSE_LIMITS].buckets
    while buckets.take(f"key:{found.role}:{found.id}", policy.key_requests_per_second, policy.key_burst) is None:
        pass


def drained(request: Callable[[Ctx, str], Awaitable[dict[str, Any]]] | None = None,
            ) -> Callable[[Ctx, str], Awaitable[dict[str, Any]]]:
    async def prepare(ctx: Ctx, caller: str) -> dict[str, Any]:
        req = await request(ctx, caller) if request else {}
        await drain_bucket(ctx, caller)
        return req
    return prepare


async def throttled_sign_in(ctx: Ctx, caller: str) -> dict[str, Any]:
    """Six failed sign-ins from this client just now: the next attempt waits, whoever's key it carries."""

    for _ in range(6):
        ctx.api.app[ABUSE_LIMITS].sign_in.failed("client:127.0.0.1")
    return {}


async def nothing_stored_for_the_webhook(ctx: Ctx, caller: str, req: dict[str, Any]) -> None:

    for site in (SITE_A, SITE_B):
        assert await ctx.api.app[STORE].get_webhook(site) is None, (caller, site)


CASES: tuple[Row, ...] = (
    Row("PUT", "/v1/admin/webhook", "bearer", ADMIN_REFUSED_URL, lambda c, _: _json({"url": INSIDE_URL}),
        nothing_stored_for_the_webhook, case="SSRF: link-local metadata address"),
    Row("PUT", "/v1/admin/webhook", "bearer", ADMIN_REFUSED_URL,
        lambda c, _: _json({"url": "http://hooks.example.com/moderation"}), nothing_stored_for_the_webhook,
        case="SSRF: plain http"),
    Row("GET", "/v1/queue/counts", "bearer", MODERATORS_LIMITED, drained(), case="rate limit: key bucket empty"),
    Row("POST", "/v1/comments", "bearer", SITE_LIMITED, drained(new_submission), case="rate limit: key bucket empty"),
    Row("POST", "/v1/admin/models/reload", "bearer", OPERATOR_LIMITED, drained(), case="rate limit: operator key"),
    Row("POST", "/moderate/sign-in", "sign-in", public(429), throttled_sign_in,
        case="rate limit: sign-in throttled for this client"),
)


async def _query(path: str) -> dict[str, Any]:
    return {"path": path}


async def _with(request: Awaitable[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {**(await request), **extra}


async def _json(body: Any) -> dict[str, Any]:
    return {"json": body}


async def _form(data: dict[str, str]) -> dict[str, Any]:
    return {"data": data}


# -- running one cell ---------------------------------------------------------------------------------------


async def sign_in(api: Api, key: str) -> tuple[str, str]:
    """A session for ``key`` through the real form: (session cookie value, the session's CSRF token)."""
    jar = api.client.session.cookie_jar
    jar.clear()
    form = await (await api.client.get("/moderate/sign-in")).text()
    resp = await api.client.post("/moderate/sign-in", data={"csrf": _csrf(form), "key": key}, allow_redirects=False)
    assert resp.status == 303, await resp.text()
    session = resp.cookies["mod_session"].value
    page = await (await api.client.get("/moderate")).text()
    jar.clear()
    return session, _csrf(page)


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match
    return match.group(1)


async def call(ctx: Ctx, row: Row, caller: str, method: str) -> dict[str, Any]:
    api = ctx.api
    api.client.session.cookie_jar.clear()
    req: dict[str, Any] = {"path": row.route}
    if row.request:
        req.update(await row.request(ctx, caller))
    key = ctx.keys[caller]
    headers: dict[str, str] = {}
    params: dict[str, str] = {}
    # A raw body (bytes) is sent as it is: a signed body must reach the service byte for byte.
    data: Any = (req["data"] if isinstance(req["data"], bytes) else dict(req["data"])) if "data" in req else None
    if row.how in ("public", "bearer", "session") and key is not None:
        headers["Authorization"] = key if caller == BAD else f"Bearer {key}"
    if row.how == "query" and key is not None:
        params["key"] = key
    headers.update(req.get("headers", {}))
    if row.how in ("form", "form-key"):
        data = data or {}
        if key is not None:
            data["api_key" if row.how == "form" else "key"] = key
    if row.how == "sign-in":
        form = await (await api.client.get("/moderate/sign-in")).text()
        data = {"csrf": _csrf(form), **({"key": key} if key is not None else {})}
    if row.how == "session":
        session, csrf = None, "forged"
        if caller in (MA, AA, MB, AB):
            session, csrf = await sign_in(api, key or "")
        elif caller == REVOKED:
            session = ctx.revoked_session
        elif caller in (BAD, UNKNOWN):
            session = "garbage;" if caller == BAD else secrets.token_urlsafe(32)
        if session:
            headers["Cookie"] = f"mod_session={session}"
        if method == "POST":
            data = {"csrf": csrf, **(data or {})}
    resp = await api.client.request(method, req["path"], headers=headers, params=params, json=req.get("json"),
                                    data=data, allow_redirects=False)
    text = await resp.text()
    req.update(status=resp.status, text=text, location=resp.headers.get("Location", ""))
    if resp.content_type == "application/json" and text:
        req["body"] = await resp.json()
    return req


def matches(cell: Cell, req: dict[str, Any], head: bool) -> bool:
    status, marker = (cell, None) if isinstance(cell, int) else cell
    if req["status"] != status:
        return False
    return head or marker is None or marker in req["text"] or marker in req["location"]


# -- fixtures and the tests ---------------------------------------------------------------------------------


@pytest.fixture
async def ctx(make_api: MakeApi, settings: Settings, clock: FakeClock) -> Ctx:
    settings = replace(settings, policy=PolicyBook(sites={
        SITE_A: Policy(hold_all=True, coral_signing_secrets=(CORAL_SECRETS[SITE_A],)),
        SITE_B: Policy(coral_signing_secrets=(CORAL_SECRETS[SITE_B],)),
    }))
    api = await make_api(settings)
    keys: dict[str, str | None] = {
        NONE: None,
        BAD: "Basic bW9kOm1vZA==",  # no bearer scheme; in a query or form it is simply not a key
        UNKNOWN: new_key(Role.SITE),
    }
    for name, role, site in ((SA, Role.SITE, SITE_A), (MA, Role.MODERATOR, SITE_A), (AA, Role.ADMIN, SITE_A),
                             (SB, Role.SITE, SITE_B), (MB, Role.MODERATOR, SITE_B), (AB, Role.ADMIN, SITE_B),
                             (OP, Role.OPERATOR, "")):
        keys[name] = await api.key(role, site)
    keys[REVOKED] = await api.key(Role.MODERATOR, "revoked-" + SITE_A)
    revoked_session, _ = await sign_in(api, keys[REVOKED] or "")
    # There is no revoke endpoint yet; revoke the way an operator would, in the database.
    with sqlite3.connect(settings.effective_database_url.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE api_keys SET revoked_at = ? WHERE site_id = ?",
                     (to_ts(datetime.now(UTC)), "revoked-" + SITE_A))
    context = Ctx(api=api, clock=clock, settings=settings, keys=keys, revoked_session=revoked_session)
    context.comment_id, _ = await context.held_comment()
    return context


@pytest.mark.parametrize("row", ROWS + CASES, ids=lambda r: f"{r.method} {r.route}" + (f" [{r.case}]" if r.case else ""))
async def test_access(ctx: Ctx, row: Row) -> None:
    methods = ["POST"] if row.method == "*" else [row.method, "HEAD"] if row.method == "GET" else [row.method]
    wrong = []
    for method in methods:
        for caller in CALLERS:
            req = await call(ctx, row, caller, method)
            if not matches(row.expect[caller], req, head=method == "HEAD"):
                wrong.append(f"{method} {row.route} as {caller}: got {req['status']} {req['location']} "
                             f"{req['text'][:120]!r}, expected {row.expect[caller]}")
            elif row.after and method != "HEAD":
                await row.after(ctx, caller, req)
    assert not wrong, "\n".join(wrong)


def test_every_route_has_a_row(settings: Settings) -> None:
    app = create_app(settings)
    routes = {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource is not None}
    # aiohttp adds HEAD beside every GET; the GET row covers it (test_access calls both).
    routes -= {("HEAD", path) for method, path in routes if method == "GET"}
    table = {(row.method, row.route) for row in ROWS}
    assert len(table) == len(ROWS), "one row per route"
    assert routes - table == set(), "routes without a row in the access table"
    assert table - routes == set(), "rows for routes that do not exist"
