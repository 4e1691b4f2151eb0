"""Reading the moderator API's requests: query parameters, JSON bodies, path ids, and the queue's cursors.

Shared by the JSON API (``queue``, ``campaigns``) and the /moderate page, so that both read a listing
the same way and a cursor from one continues in the other.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from aiohttp import web

from ..domain import Role, Status
from ..errors import BadRequest, NotFound, UnsupportedMediaType, ValidationFailed
from ..labels import REASON_KINDS
from ..store import QueueItem, QueueOrder, QueueQuery
from ..validation import MAX_DB_INT, parse_id, parse_json, text_problem
from .body import read_json

T = TypeVar("T")

MAX_PAGE = 100
MAX_NOTE = 1000
QUEUE_STATUSES = ("held", "spam", "published", "rejected", "removed")
QUEUE_REASONS = (*REASON_KINDS, "reported")
MODERATORS = (Role.MODERATOR, Role.ADMIN)


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


def id_page(rows: Sequence[T], limit: int, id_of: Any) -> tuple[list[T], str | None]:
    """A page of newest-first rows fetched with ``limit + 1``, and the cursor for the next (the last id)."""
    page = list(rows[:limit])
    return page, str(id_of(page[-1])) if len(rows) > limit and page else None
