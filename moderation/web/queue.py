"""The moderator API: the queue, decisions (one or many), readers' reports, the audit log, the site's webhook.

Every endpoint works on the site of the calling key: a moderator (or admin) of one site never sees
another site's comments (they answer 404, as for the site's own key).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import structlog
from aiohttp import web

from ..auth import require
from ..domain import ApiKey, Decision, Role, Status
from ..errors import (
    BadRequest,
    ModerationError,
    NotFound,
    UnsupportedMediaType,
    ValidationFailed,
)
from ..keys import CAMPAIGNS, CLOCK, METRICS, SITE_LEARNER, STORE
from ..middlewares import LOG_FIELDS
from ..store import (
    REASON_KINDS,
    REJECT_LABELS,
    DecisionOutcome,
    ModeratorAction,
    ModeratorDecision,
    QueueItem,
    QueueOrder,
    QueueQuery,
)
from ..validation import MAX_DB_INT, parse_id, parse_json, text_problem
from ..webhooks import new_secret, validate_webhook_url, wake_dispatcher
from .body import read_json

log = structlog.get_logger(__name__)
routes = web.RouteTableDef()

MAX_PAGE = 100
MAX_BULK = 100
MAX_NOTE = 1000
QUEUE_STATUSES = ("held", "published", "rejected", "removed")
QUEUE_REASONS = (*REASON_KINDS, "reported")
REPORT_REASONS = ("spam", "toxic", "off_topic", "misinformation", "illegal", "other")
MODERATORS = (Role.MODERATOR, Role.ADMIN)


# -- reading requests ------------------------------------------------------------------------------


def invalid(field: str, code: str, message: str, *, error_code: str = "invalid_request") -> ValidationFailed:
    return ValidationFailed(f"Invalid {field}: {message}", code=error_code,
                            fields={field: [{"code": code, "message": message}]})


def int_param(request: web.Request, name: str, *, default: int | None, low: int, high: int | None) -> Any:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()):  # int() would also take "١٢", " 12" and "1_0"
        raise invalid(name, "invalid", "expected an integer", error_code="invalid_query")
    high = MAX_DB_INT if high is None else high
    value = int(raw) if len(raw) <= 19 else high + 1
    if value < low or value > high:
        raise invalid(name, "out_of_range", f"must be between {low} and {high}", error_code="invalid_query")
    return value


def choice_param(request: web.Request, name: str, choices: tuple[str, ...]) -> str | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    if raw not in choices:
        raise invalid(name, "invalid", f"one of {', '.join(choices)}", error_code="invalid_query")
    return raw


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """A JSON object body within the configured size limit (400 / 408 / 413 / 415 otherwise)."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType("Send application/json.")
    data = await read_json(request)
    if not isinstance(data, dict):
        raise BadRequest("The JSON body must be an object.", code="malformed_json")
    return data


def comment_id_from_path(request: web.Request) -> int:
    # An id no database can hold (≥ 2**63) or spelt in other digits names no comment: 404, like any other.
    comment_id = parse_id(request.match_info["comment_id"])
    if comment_id is None:
        raise NotFound("No such comment.")
    return comment_id


def note_problem(note: Any) -> bool:
    """A note must be text of at most MAX_NOTE characters, with no control character but tab and newlines."""
    return note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE
                                 or text_problem(note, multiline=True))


# -- the queue ---------------------------------------------------------------------------------------


def queue_query_from(request: web.Request) -> tuple[QueueQuery, str]:
    """The query and a fingerprint of its filters (a cursor only continues the listing it came from)."""
    status = choice_param(request, "status", QUEUE_STATUSES)
    reason = choice_param(request, "reason", QUEUE_REASONS)
    order = QueueOrder(choice_param(request, "order", tuple(o.value for o in QueueOrder)) or "oldest")
    article_id = request.query.get("article_id") or None
    if article_id is not None and len(article_id) > 500:
        raise invalid("article_id", "too_long", "at most 500 characters", error_code="invalid_query")
    if article_id is not None and text_problem(article_id):  # NUL cannot even reach PostgreSQL
        raise invalid("article_id", "invalid_characters", "no control characters", error_code="invalid_query")
    if status is not None:
        statuses: tuple[Status, ...] = (Status(status),)
    elif reason == "reported":
        # Reported comments stay published until a moderator acts; held ones may be reported too.
        statuses = (Status.PUBLISHED, Status.HELD)
    else:
        statuses = (Status.HELD,)
    limit = int_param(request, "limit", default=50, low=1, high=MAX_PAGE)
    fingerprint = hashlib.sha256(
        json.dumps([[s.value for s in statuses], reason, article_id, order.value]).encode()
    ).hexdigest()[:12]
    after = decode_cursor(request.query.get("cursor"), fingerprint)
    query = QueueQuery(statuses=statuses, reason=reason, article_id=article_id, order=order, limit=limit,
                       after=after)
    return query, fingerprint


def encode_cursor(item: QueueItem, fingerprint: str) -> str:
    raw = json.dumps({"f": fingerprint, "r": item.risk, "i": item.comment.id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, fingerprint: str) -> tuple[float, int] | None:
    if not cursor:
        return None
    problem = BadRequest("The cursor is not valid for this listing; start again without it.",
                         code="invalid_cursor", field="cursor")
    try:
        raw = parse_json(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, BadRequest):
        raise problem from None
    if not isinstance(raw, dict) or raw.get("f") != fingerprint:
        raise problem
    risk, comment_id = raw.get("r"), parse_id(raw.get("i"))
    # The risk is a score in [0, 1] and the id one the database can hold; anything else was forged.
    if isinstance(risk, bool) or not isinstance(risk, (int, float)) or not 0 <= risk <= 1 or comment_id is None:
        raise problem
    return float(risk), comment_id


def explanations(item: QueueItem) -> dict[str, list[dict[str, Any]]]:
    return {r.code: list(r.explanation) for r in item.comment.reasons if r.explanation}


def queue_item_json(item: QueueItem) -> dict[str, Any]:
    """What a moderator sees of one comment: everything the site sees, plus the e-mail and the evidence."""
    c = item.comment
    return {
        "id": c.id,
        "status": c.status.value,
        "decision": c.decision.value,
        "revision": c.revision,
        "created_at": c.created_at.isoformat(),
        "updated_at": c.updated_at.isoformat(),
        "comment": c.public_view(),
        "author_email": c.author_email,
        "reasons": [r.to_json() for r in c.reasons],
        "reason_kinds": list(item.reason_kinds),
        "scores": c.scores,
        "risk": round(item.risk, 4),
        "explanations": explanations(item),
        "model_version": c.model_version,
        "signals": item.signals,
        "reports": {"open": item.open_reports, "reasons": item.report_reasons},
        "author_history": item.history.to_json(),
    }


@routes.get("/v1/queue")
async def get_queue(request: web.Request) -> web.Response:
    """One page of the queue, oldest first or riskiest first, with an opaque cursor for the next."""
    key = await require(request, *MODERATORS)
    query, fingerprint = queue_query_from(request)
    page = await request.app[STORE].list_queue(key.site_id, query)
    next_cursor = encode_cursor(page.items[-1], fingerprint) if page.has_more and page.items else None
    return web.json_response({"items": [queue_item_json(i) for i in page.items], "next_cursor": next_cursor})


@routes.get("/v1/queue/counts")
async def get_counts(request: web.Request) -> web.Response:
    """How many comments wait, by status and by reason."""
    key = await require(request, *MODERATORS)
    return web.json_response(await request.app[STORE].queue_counts(key.site_id))


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
    action = ModeratorAction(action_raw) if action_raw in tuple(ModeratorAction) else None
    if action is None:
        problem("action", "invalid", "One of approve, reject, remove.")
    label = raw.get("label")
    if action is ModeratorAction.APPROVE:
        label = label or "ham"
        if label != "ham":
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


async def apply_decision(app: web.Application, key: ApiKey, decision: ModeratorDecision) -> DecisionOutcome:
    """Decide in one transaction, then count it and wake the webhook dispatcher."""
    actor = f"key:{key.id}"
    outcome = await app[STORE].decide(key.site_id, decision, actor=actor, now=app[CLOCK]())
    # After the commit, as its own step: the campaign memory learns from the decision. A failure there
    # loses only these votes (the decision stands), so it is logged, not raised.
    try:
        await app[CAMPAIGNS].learn(key.site_id, outcome.comment.id, outcome.comment.content,
                                   action=decision.action.value, label=decision.label, actor=actor)
    except Exception as exc:  # noqa: BLE001
        log.error("campaign_learn_failed", comment_id=outcome.comment.id, error=repr(exc))
    record_metrics(app, decision, outcome)
    app[SITE_LEARNER].notify()  # the site's online head learns the new label off the request path
    if outcome.webhook_queued:
        wake_dispatcher(app)
    return outcome


def record_metrics(app: web.Application, decision: ModeratorDecision, outcome: DecisionOutcome) -> None:
    metrics = app[METRICS]
    metrics.moderator_actions.labels(action=decision.action.value, label=decision.label).inc()
    comment = outcome.comment
    version = comment.model_version or "none"
    if comment.decision is Decision.HOLD and outcome.previous_status is Status.HELD and comment.status is Status.PUBLISHED:
        metrics.overturned.labels(model_version=version, kind="held_then_approved").inc()
    if comment.decision is Decision.PUBLISH and comment.status is Status.REMOVED:
        metrics.overturned.labels(model_version=version, kind="published_then_removed").inc()


def outcome_json(outcome: DecisionOutcome, decision: ModeratorDecision) -> dict[str, Any]:
    c = outcome.comment
    return {
        "id": c.id,
        "status": c.status.value,
        "previous_status": outcome.previous_status.value,
        "revision": c.revision,
        "action": decision.action.value,
        "label": decision.label,
        "reports_closed": outcome.reports_closed,
        "webhook_queued": outcome.webhook_queued,
    }


@routes.post("/v1/comments/{comment_id}/decision")
async def decide(request: web.Request) -> web.Response:
    """Approve, reject or take down one comment; 409 stale_revision if it changed since it was loaded."""
    key = await require(request, *MODERATORS)
    comment_id = comment_id_from_path(request)
    decision = parse_decision(await read_json_object(request), comment_id)
    outcome = await apply_decision(request.app, key, decision)
    request[LOG_FIELDS].update(comment_id=comment_id, action=decision.action.value, label=decision.label)
    return web.json_response(outcome_json(outcome, decision))


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
    try:
        decision = parse_decision(entry)
        outcome = await apply_decision(app, key, decision)
    except ModerationError as exc:
        return {"comment_id": comment_id, "ok": False, "http_status": exc.http_status, **exc.to_json()}
    return {"comment_id": comment_id, "ok": True, **outcome_json(outcome, decision)}


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
    # Only a hash of the reader id is kept: enough to count one report per reader.
    reporter_hash = hashlib.sha256(f"{key.site_id}\0{reporter}".encode()).hexdigest() if reporter else None
    outcome = await request.app[STORE].add_report(
        key.site_id, comment_id, reason=reason, note=(note or "").strip() or None, reporter_hash=reporter_hash,
        now=request.app[CLOCK](),
    )
    request[LOG_FIELDS].update(comment_id=comment_id, report_reason=reason, duplicate=outcome.duplicate)
    return web.json_response(
        {
            "report_id": outcome.report_id,
            "comment_id": comment_id,
            "status": outcome.comment.status.value,
            "open_reports": outcome.open_reports,
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
    events = await request.app[STORE].list_events(key.site_id, before_id=before, limit=limit + 1,
                                                  comment_id=comment_id)
    more = len(events) > limit
    events = events[:limit]
    return web.json_response({
        "items": [e.to_json() for e in events],
        "next_cursor": str(events[-1].id) if more and events else None,
    })


# -- the site's webhook (admin) --------------------------------------------------------------------------


@routes.get("/v1/admin/webhook")
async def show_webhook(request: web.Request) -> web.Response:
    """The site's webhook URL (never the secret) and how many events wait, failed or went out."""
    key = await require(request, Role.ADMIN)
    store = request.app[STORE]
    target = await store.get_webhook(key.site_id)
    backlog = await store.webhook_backlog(key.site_id)
    return web.json_response({"site_id": key.site_id, "url": target.url if target else None, "events": backlog})


@routes.put("/v1/admin/webhook")
async def set_webhook(request: web.Request) -> web.Response:
    """Set the URL and issue a new secret, shown only in this answer."""
    key = await require(request, Role.ADMIN)
    url = validate_webhook_url((await read_json_object(request)).get("url"))
    secret = new_secret()
    await request.app[STORE].set_webhook(key.site_id, url, secret, request.app[CLOCK]())
    return web.json_response({"site_id": key.site_id, "url": url, "secret": secret})


@routes.delete("/v1/admin/webhook")
async def remove_webhook(request: web.Request) -> web.Response:
    """Stop notifying the site (events already waiting are kept until a URL is set again)."""
    key = await require(request, Role.ADMIN)
    await request.app[STORE].set_webhook(key.site_id, None, None, request.app[CLOCK]())
    return web.json_response({"site_id": key.site_id, "url": None})


@routes.get("/v1/admin/webhooks/deliveries")
async def list_deliveries(request: web.Request) -> web.Response:
    """Every delivery attempt for this site, newest first (cursor: the last id seen)."""
    key = await require(request, Role.ADMIN)
    limit = int_param(request, "limit", default=50, low=1, high=200)
    before = int_param(request, "cursor", default=None, low=1, high=None)
    records = await request.app[STORE].list_webhook_deliveries(key.site_id, before_id=before, limit=limit + 1)
    more = len(records) > limit
    records = records[:limit]
    return web.json_response({
        "items": [r.to_json() for r in records],
        "next_cursor": str(records[-1].id) if more and records else None,
    })


@routes.post("/v1/admin/webhooks/retry")
async def retry_failed(request: web.Request) -> web.Response:
    """Send again the events the dispatcher gave up on (after a long outage at the site)."""
    key = await require(request, Role.ADMIN)
    count = await request.app[STORE].retry_failed_webhooks(key.site_id, request.app[CLOCK]())
    wake_dispatcher(request.app)
    return web.json_response({"requeued": count})
