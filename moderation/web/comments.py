"""``POST /v1/comments`` (submit) and ``GET /v1/comments/{id}`` (status) for the site's backend."""

from __future__ import annotations

import time

import orjson
from aiohttp import web

from .. import i18n, views
from ..appkeys import ABUSE_LIMITS, METRICS, MODERATION, SETTINGS, STORE
from ..auth import require
from ..domain import Role
from ..errors import BadRequest, NotFound
from ..middlewares import LOG_FIELDS
from ..ratelimit import limit_author
from ..services import Idempotency, sha256_hex
from ..validation import decode_body, parse_id, validate_submission
from .body import read_body

routes = web.RouteTableDef()

MAX_IDEMPOTENCY_KEY = 255


def idempotency_from(request: web.Request, body: bytes) -> Idempotency | None:
    """The ``Idempotency-Key`` header and a hash of the request it names (400 for a malformed key)."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise BadRequest("Idempotency-Key must be 1–255 printable characters.", code="invalid_idempotency_key")
    return Idempotency(key, sha256_hex(request.content_type.encode() + b"\0" + body))


@routes.post("/v1/comments")
async def submit_comment(request: web.Request) -> web.Response:
    """Validate, score and decide a reader's comment; answer 201 only once it is committed."""
    key = await require(request, Role.SITE)
    service = request.config_dict[MODERATION]
    stages = request.config_dict[METRICS].stages
    lang = i18n.pick_language(request.headers.get("Accept-Language"))
    t0 = time.perf_counter()
    body = await read_body(request)

    idempotency = idempotency_from(request, body)
    if idempotency is not None:
        earlier = await service.earlier_answer(key.site_id, idempotency)
        if earlier is not None:
            request[LOG_FIELDS].update(comment_id=earlier.comment_id, replay=True)
            # The first answer again, headers included: a retrying client must not see a different 201.
            headers = {"Idempotent-Replayed": "true"}
            if earlier.status == 201:
                headers["Location"] = f"/v1/comments/{earlier.comment_id}"
            return web.json_response(earlier.body, status=earlier.status, headers=headers)

    fields = decode_body(body, request.content_type)
    t1 = time.perf_counter()
    stages["parse"].observe(t1 - t0)
    submission = validate_submission(fields, lang)
    stages["validate"].observe(time.perf_counter() - t1)

    # The author's token bucket (abuse limits) before any scoring or storing.
    limit_author(request.app[ABUSE_LIMITS], key.site_id, submission, request.app[SETTINGS].policy.for_site(key.site_id))
    submitted = await service.submit(key.site_id, submission, lang=lang, idempotency=idempotency)

    t2 = time.perf_counter()
    comment = submitted.comment
    request[LOG_FIELDS].update(
        comment_id=comment.id,
        decision=comment.decision.value,
        reasons=[r.code for r in comment.reasons],
        model_version=comment.model_version,
        replay=submitted.replayed,
    )
    headers = {"Location": f"/v1/comments/{comment.id}"}
    if submitted.replayed:
        headers["Idempotent-Replayed"] = "true"
    response = web.Response(body=orjson.dumps(submitted.body), status=201, headers=headers,
                            content_type="application/json")
    stages["respond"].observe(time.perf_counter() - t2)
    return response


@routes.patch("/v1/comments/{comment_id}")
async def edit_comment(request: web.Request) -> web.Response:
    """A new version of a comment (its author edited it): re-validated, re-scored, possibly held again."""
    key = await require(request, Role.SITE)
    comment_id = parse_id(request.match_info["comment_id"])
    if comment_id is None:
        raise NotFound("No such comment.")
    lang = i18n.pick_language(request.headers.get("Accept-Language"))
    fields = decode_body(await read_body(request), request.content_type)
    outcome = await request.config_dict[MODERATION].edit(key.site_id, comment_id, fields, lang=lang)
    comment = outcome.comment
    request[LOG_FIELDS].update(comment_id=comment.id, decision=comment.decision.value,
                               reasons=[r.code for r in comment.reasons], edit=True)
    return web.json_response({**views.site_submission_view(comment), "revision": comment.revision,
                              "previous_status": outcome.previous_status.value})


@routes.get("/v1/comments/{comment_id}")
async def get_comment(request: web.Request) -> web.Response:
    """Current status and public view of one of this site's comments."""
    key = await require(request, Role.SITE, Role.MODERATOR, Role.ADMIN)
    comment_id = parse_id(request.match_info["comment_id"])  # ≥ 2**63 or non-ASCII digits: no such comment
    if comment_id is None:
        raise NotFound("No such comment.")
    comment = await request.config_dict[STORE].get_comment(key.site_id, comment_id)
    if comment is None:
        raise NotFound("No such comment.")
    return web.json_response(views.site_status_view(comment))
