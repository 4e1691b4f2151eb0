"""The moderator API: the queue, decisions (one or many), readers' reports, the audit log, the site's webhook.

Every endpoint works on the site of the calling key: a moderator (or admin) of one site never sees
another site's comments (they answer 404, as for the site's own key).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .. import views
from ..appkeys import CLOCK, MODERATION, SETTINGS, STORE
from ..auth import require
from ..domain import ApiKey, Role
from ..errors import ModerationError, ValidationFailed
from ..labels import APPROVE_LABEL, REJECT_LABELS, REPORT_REASONS
from ..middlewares import LOG_FIELDS
from ..store import DecisionOutcome, QueueItem
from ..validation import MAX_DB_INT, parse_id, text_problem
from ..webhook_targets import check_url
from ..webhooks import new_secret
from ..workflow import (
    DEFAULT_WEBHOOK_EVENT_TYPES,
    QUEUE_ACTIONS,
    WEBHOOK_EVENT_TYPES,
    ModeratorAction,
    ModeratorDecision,
)
from .params import (
    MAX_NOTE,
    MAX_PAGE,
    MODERATORS,
    comment_id_from_path,
    encode_cursor,
    id_page,
    int_param,
    invalid,
    note_problem,
    queue_query_from,
    read_json_object,
)

routes = web.RouteTableDef()

MAX_BULK = 100


# -- the queue ---------------------------------------------------------------------------------------


def explanations(item: QueueItem) -> dict[str, list[dict[str, Any]]]:
    return {r.code: list(r.explanation) for r in item.comment.reasons if r.explanation}


def queue_item_json(item: QueueItem) -> dict[str, Any]:
    """What a moderator sees of one comment: everything the site sees, plus the e-mail and the evidence."""
    return {
        **views.moderator_view(item.comment),
        "reason_kinds": list(item.reason_kinds),
        "risk": round(item.risk, 4),
        "explanations": explanations(item),
        "signals": item.signals,
        "reports": {"open": item.open_reports, "reasons": item.report_reasons},
        "author_history": item.history.to_json(),
    }


@routes.get("/v1/queue")
async def get_queue(request: web.Request) -> web.Response:
    """One page of the queue, oldest first or riskiest first, with an opaque cursor for the next."""
    key = await require(request, *MODERATORS)
    query, fingerprint = queue_query_from(request)
    page = await request.config_dict[STORE].list_queue(key.site_id, query)
    next_cursor = encode_cursor(page.items[-1], fingerprint) if page.has_more and page.items else None
    return web.json_response({"items": [queue_item_json(i) for i in page.items], "next_cursor": next_cursor})


@routes.get("/v1/queue/counts")
async def get_counts(request: web.Request) -> web.Response:
    """How many comments wait, by status and by reason."""
    key = await require(request, *MODERATORS)
    return web.json_response(await request.config_dict[STORE].queue_counts(key.site_id))


# -- decisions -----------------------------------------------------------------------------------------


def parse_decision(raw: Any, comment_id: int | None = None) -> ModeratorDecision:
    """A decision from JSON; every problem is named per field (422 invalid_decision)."""
    if not isinstance(raw, dict):
        raise ValidationFailed("Each decision must be an object.", code="invalid_decision", fields={})
    problems: dict[str, list[dict[str, str]]] = {}

    def problem(field: str, code: str, message: str) -> None:
        problems.setdefault(field, []).append({"code": code, "message": message})

    if comment_id is None:
        raw_id = raw.get("comment_id")
        comment_id = parse_id(raw_id) if isinstance(raw_id, int) else None
        if comment_id is None:
            problem("comment_id", "invalid", f"The comment id (an integer from 1 to {MAX_DB_INT}) is required.")
    action_raw = raw.get("action")
    action = ModeratorAction(action_raw) if action_raw in QUEUE_ACTIONS else None
    if action is None:
        problem("action", "invalid", "One of approve, reject, remove.")
    label = raw.get("label")
    if action is ModeratorAction.APPROVE:
        label = label or APPROVE_LABEL
        if label != APPROVE_LABEL:
            problem("label", "invalid", "An approved comment is labelled ham.")
    elif action is not None and label not in REJECT_LABELS:
        problem("label", "invalid", f"One of {', '.join(REJECT_LABELS)}.")
    revision = raw.get("revision")
    if not isinstance(revision, int) or isinstance(revision, bool) or not 1 <= revision <= MAX_DB_INT:
        problem("revision", "required", "The revision you saw (an integer) is required.")
    note = raw.get("note")
    if note_problem(note):
        problem("note", "invalid", f"A note is text of at most {MAX_NOTE} characters, without control characters.")
    if problems:
        raise ValidationFailed("The decision is not valid.", code="invalid_decision", fields=problems)
    return ModeratorDecision(comment_id=comment_id, action=action, label=label, revision=revision,  # type: ignore[arg-type]
                             note=(note or "").strip() or None)


@routes.post("/v1/comments/{comment_id}/decision")
async def decide(request: web.Request) -> web.Response:
    """Approve, reject or take down one comment; 409 stale_revision if it changed since it was loaded."""
    key = await require(request, *MODERATORS)
    comment_id = comment_id_from_path(request)
    decision = parse_decision(await read_json_object(request), comment_id)
    outcome = await request.config_dict[MODERATION].decide(key, decision)
    request[LOG_FIELDS].update(comment_id=comment_id, action=decision.action.value, label=decision.label)
    return web.json_response(views.decision_view(outcome, decision))


@routes.post("/v1/decisions")
async def decide_many(request: web.Request) -> web.Response:
    """Several decisions, each applied on its own; the answer lists every result in order."""
    key = await require(request, *MODERATORS)
    body = await read_json_object(request)
    raw = body.get("decisions")
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_BULK:
        raise invalid("decisions", "invalid", f"a list of 1 to {MAX_BULK} decisions", error_code="invalid_decision")
    results = []
    for entry in raw:
        results.append(await _one_of_many(request.app, key, entry))
    succeeded = sum(1 for r in results if r["ok"])
    request[LOG_FIELDS].update(bulk=len(results), succeeded=succeeded)
    return web.json_response({"results": results, "succeeded": succeeded, "failed": len(results) - succeeded})


async def _one_of_many(app: web.Application, key: ApiKey, entry: Any) -> dict[str, Any]:
    comment_id = entry.get("comment_id") if isinstance(entry, dict) else None
    decision = None
    try:
        decision = parse_decision(entry)
        outcome: DecisionOutcome | ModerationError = await app[MODERATION].decide(key, decision)
    except ModerationError as exc:
        outcome = exc
    return views.decision_result_view(comment_id, decision, outcome)


# -- authors: block and unblock (by the keyed hash of the e-mail of a comment's author) ---------------------


@routes.put("/v1/comments/{comment_id}/author-block")
async def block_author(request: web.Request) -> web.Response:
    """Block the author of this comment on this site: their next comments are held (or rejected, by policy)."""
    return await _author_block(request, block=True)


@routes.delete("/v1/comments/{comment_id}/author-block")
async def unblock_author(request: web.Request) -> web.Response:
    """Unblock the author of this comment: their next comments go through the checks as anyone's."""
    return await _author_block(request, block=False)


async def _author_block(request: web.Request, *, block: bool) -> web.Response:
    key = await require(request, *MODERATORS)
    comment_id = comment_id_from_path(request)
    note = None
    if request.can_read_body:  # the note is optional, and so is a body on DELETE
        note = (await read_json_object(request)).get("note")
        if note_problem(note):
            raise invalid("note", "invalid", f"text of at most {MAX_NOTE} characters, without control characters")
    outcome = await request.config_dict[MODERATION].set_author_block(
        key, comment_id, block=block, note=(note or "").strip() or None)
    request[LOG_FIELDS].update(comment_id=comment_id, author_blocked=outcome.blocked, changed=outcome.changed)
    return web.json_response({"comment_id": outcome.comment_id, "author_blocked": outcome.blocked,
                              "changed": outcome.changed, "event_id": outcome.event_id})


# -- readers' reports (the site forwards them) -----------------------------------------------------------


@routes.post("/v1/comments/{comment_id}/reports")
async def report(request: web.Request) -> web.Response:
    """A reader reported a comment: it joins the reported queue and stays up until a moderator acts."""
    key = await require(request, Role.SITE)
    comment_id = comment_id_from_path(request)
    body = await read_json_object(request)
    reason = body.get("reason") or "other"
    if not isinstance(reason, str) or reason not in REPORT_REASONS:
        raise invalid("reason", "invalid", f"one of {', '.join(REPORT_REASONS)}", error_code="invalid_report")
    note = body.get("note")
    if note_problem(note):
        raise invalid("note", "invalid", f"text of at most {MAX_NOTE} characters, without control characters",
                      error_code="invalid_report")
    reporter = body.get("reporter")
    if reporter is not None and (not isinstance(reporter, str) or not 1 <= len(reporter) <= 200
                                 or text_problem(reporter)):
        raise invalid("reporter", "invalid", "the site's opaque reader id, 1 to 200 characters",
                      error_code="invalid_report")
    outcome = await request.config_dict[MODERATION].report(
        key.site_id, comment_id, reason=reason, note=(note or "").strip() or None, reporter=reporter,
    )
    request[LOG_FIELDS].update(comment_id=comment_id, report_reason=reason, duplicate=outcome.duplicate)
    return web.json_response(
        {
            "report_id": outcome.report_id,
            "comment_id": comment_id,
            "status": "held" if outcome.held else outcome.comment.status.value,
            "open_reports": outcome.open_reports,
            "held": outcome.held,
            "duplicate": outcome.duplicate,
        },
        status=200 if outcome.duplicate else 201,
    )


# -- the audit log ---------------------------------------------------------------------------------------


@routes.get("/v1/audit")
async def audit(request: web.Request) -> web.Response:
    """Every automatic and human decision on this site, newest first: who, when, what, which model."""
    key = await require(request, *MODERATORS)
    limit = int_param(request, "limit", default=50, low=1, high=MAX_PAGE)
    before = int_param(request, "cursor", default=None, low=1, high=None)
    comment_id = int_param(request, "comment_id", default=None, low=1, high=None)
    events = await request.config_dict[STORE].list_events(key.site_id, before_id=before, limit=limit + 1,
                                                  comment_id=comment_id)
    page, next_cursor = id_page(events, limit, lambda e: e.id)
    return web.json_response({"items": [e.to_json() for e in page], "next_cursor": next_cursor})


# -- shadow mode ------------------------------------------------------------------------------------------


@routes.get("/v1/shadow/report")
async def shadow_report(request: web.Request) -> web.Response:
    """What shadow mode would have held or rejected, and what moderators and readers did since."""
    key = await require(request, *MODERATORS)
    return web.json_response(await request.config_dict[MODERATION].shadow_report(key.site_id))


# -- the site's webhook (admin) --------------------------------------------------------------------------


@routes.get("/v1/admin/webhook")
async def show_webhook(request: web.Request) -> web.Response:
    """The site's webhook URL (never the secret) and how many events wait, failed or went out."""
    key = await require(request, Role.ADMIN)
    store = request.config_dict[STORE]
    target = await store.get_webhook(key.site_id)
    backlog = await store.webhook_backlog(key.site_id)
    return web.json_response({"site_id": key.site_id, "url": target.url if target else None, "events": backlog,
                              "event_types": list(target.event_types) if target else []})


@routes.put("/v1/admin/webhook")
async def set_webhook(request: web.Request) -> web.Response:
    """Set the URL and issue a new secret, shown only in this answer."""
    key = await require(request, Role.ADMIN)
    body = await read_json_object(request)
    url = await check_url(body.get("url"), request.app[SETTINGS].webhook_targets)
    event_types = parse_event_types(body.get("event_types"))
    secret = new_secret()
    await request.config_dict[STORE].set_webhook(key.site_id, url, secret, request.config_dict[CLOCK](), event_types=event_types)
    return web.json_response({"site_id": key.site_id, "url": url, "secret": secret,
                              "event_types": list(event_types or DEFAULT_WEBHOOK_EVENT_TYPES)})


def parse_event_types(raw: Any) -> tuple[str, ...] | None:
    """The events the site chose (absent: the default, comment.status_changed); 422 naming the field."""
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw or not all(t in WEBHOOK_EVENT_TYPES for t in raw):
        raise invalid("event_types", "invalid", f"a non-empty list of {', '.join(WEBHOOK_EVENT_TYPES)}")
    return tuple(dict.fromkeys(raw))


@routes.delete("/v1/admin/webhook")
async def remove_webhook(request: web.Request) -> web.Response:
    """Stop notifying the site (events already waiting are kept until a URL is set again)."""
    key = await require(request, Role.ADMIN)
    await request.config_dict[STORE].set_webhook(key.site_id, None, None, request.config_dict[CLOCK]())
    return web.json_response({"site_id": key.site_id, "url": None})


@routes.get("/v1/admin/webhooks/deliveries")
async def list_deliveries(request: web.Request) -> web.Response:
    """Every delivery attempt for this site, newest first (cursor: the last id seen)."""
    key = await require(request, Role.ADMIN)
    limit = int_param(request, "limit", default=50, low=1, high=200)
    before = int_param(request, "cursor", default=None, low=1, high=None)
    records = await request.config_dict[STORE].list_webhook_deliveries(key.site_id, before_id=before, limit=limit + 1)
    page, next_cursor = id_page(records, limit, lambda r: r.id)
    return web.json_response({"items": [r.to_json() for r in page], "next_cursor": next_cursor})


@routes.post("/v1/admin/webhooks/retry")
async def retry_failed(request: web.Request) -> web.Response:
    """Send again the events the dispatcher gave up on (after a long outage at the site)."""
    key = await require(request, Role.ADMIN)
    count = await request.config_dict[MODERATION].retry_failed_webhooks(key.site_id)
    return web.json_response({"requeued": count})
