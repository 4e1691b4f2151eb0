"""``POST /v1/comments`` (submit) and ``GET /v1/comments/{id}`` (status) for the site's backend."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import orjson
import structlog
from aiohttp import web

from .. import i18n
from ..auth import require
from ..domain import Comment, Role, Submission
from ..errors import BadRequest, IdempotencyConflict, NotFound, ValidationFailed
from ..keys import CAMPAIGNS, CLOCK, METRICS, SCORER, SETTINGS, SITE_LEARNER, STORE
from ..middlewares import LOG_FIELDS
from ..pipeline import run_checks
from ..pipeline.checks import CheckContext
from ..pipeline.scoring import ScoringResult, ScoringUnavailable
from ..store import NewComment
from ..textnorm import find_urls, normalize
from ..validation import decode_body, parse_id, validate_submission
from .body import read_body

log = structlog.get_logger(__name__)
routes = web.RouteTableDef()

MAX_IDEMPOTENCY_KEY = 255


def comment_response(comment: Comment) -> dict[str, Any]:
    """What the site gets back: decision, reasons, scores, versions and the public view (no e-mail)."""
    version = comment.model_version
    return {
        "id": comment.id,
        "decision": comment.decision.value,
        "status": comment.status.value,
        "reasons": [r.to_json() for r in comment.reasons],
        "scores": comment.scores,
        "models": {"spam": version, "toxic": version},
        "comment": comment.public_view(),
    }


@routes.post("/v1/comments")
async def submit_comment(request: web.Request) -> web.Response:
    """Validate, score and decide a reader's comment; answer 201 only once it is committed."""
    key = await require(request, Role.SITE)
    app = request.app
    stages = app[METRICS].stages
    lang = i18n.pick_language(request.headers.get("Accept-Language"))
    t0 = time.perf_counter()
    body = await read_body(request)

    idempotency_key = request.headers.get("Idempotency-Key")
    idempotency: tuple[str, str] | None = None
    if idempotency_key is not None:
        idempotency_key = idempotency_key.strip()
        if not idempotency_key or len(idempotency_key) > MAX_IDEMPOTENCY_KEY or not idempotency_key.isprintable():
            raise BadRequest("Idempotency-Key must be 1–255 printable characters.", code="invalid_idempotency_key")
        request_hash = hashlib.sha256(request.content_type.encode() + b"\0" + body).hexdigest()
        idempotency = (idempotency_key, request_hash)
        earlier = await app[STORE].find_idempotent(key.site_id, idempotency_key)
        if earlier is not None:
            if earlier.request_hash != request_hash:
                raise IdempotencyConflict()
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
    store = app[STORE]
    if submission.parent_id is not None and not await store.parent_exists(
        key.site_id, submission.article_id, submission.parent_id
    ):
        raise ValidationFailed(
            i18n.message(lang, "invalid_submission"),
            fields={"parent_id": [{"code": "not_found", "message": i18n.message(lang, "parent_not_found")}]},
        )

    policy = app[SETTINGS].policy.for_site(key.site_id)
    now = app[CLOCK]()
    t2 = time.perf_counter()
    stages["validate"].observe(t2 - t1)
    # Normalised once: the classifiers, their explanations and the keyword checks all use it.
    normalized = normalize(submission.content)
    t3 = time.perf_counter()
    stages["normalise"].observe(t3 - t2)
    scoring: ScoringResult | None = None
    scoring_error: str | None = None
    try:
        scoring = await app[SCORER].score(
            submission.content, dict(policy.thresholds), timeout=policy.classifier_timeout_seconds,
            site=app[SITE_LEARNER].for_site(key.site_id),
            normalized=normalized,
        )
    except ScoringUnavailable as exc:
        scoring_error = str(exc)
        app[METRICS].classifier_failures.inc()

    memory = app[CAMPAIGNS]
    campaign = await memory.observe(key.site_id, submission.content, normalized)
    verdict = run_checks(
        CheckContext(
            submission=submission,
            normalized=_normalized_for_keywords(submission, normalized),
            policy=policy,
            now=now,
            scoring=scoring,
            scoring_error=scoring_error,
            campaign=campaign,
        )
    )
    t4 = time.perf_counter()
    stages["score"].observe(t4 - t3)
    new = NewComment(
        site_id=key.site_id,
        submission=submission,
        verdict=verdict,
        content_hash=hashlib.sha256(submission.content.encode("utf-8")).hexdigest(),
        signals=_signals(submission, now),
        cluster_id=campaign.cluster_id,
        minhash=campaign.minhash_bytes,
    )
    comment, payload, replayed = await store.insert_comment(
        new,
        now=now,
        flood_interval=policy.flood_interval_seconds,
        idempotency=idempotency,
        render=comment_response,
    )
    t5 = time.perf_counter()
    stages["store"].observe(t5 - t4)
    request[LOG_FIELDS].update(
        comment_id=comment.id,
        decision=comment.decision.value,
        reasons=[r.code for r in comment.reasons],
        model_version=comment.model_version,
        replay=replayed,
    )
    if not replayed:
        memory.remember(key.site_id, comment.id, campaign, comment.created_at)
        metrics = app[METRICS]
        metrics.decisions.labels(decision=comment.decision.value).inc()
        for reason in comment.reasons:
            metrics.reasons.labels(reason=reason.code).inc()
    headers = {"Location": f"/v1/comments/{comment.id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    response = web.Response(body=orjson.dumps(payload), status=201, headers=headers, content_type="application/json")
    stages["respond"].observe(time.perf_counter() - t5)
    return response


def _normalized_for_keywords(submission: Submission, content_normalized: str | None = None) -> str:
    # WordPress matches its keyword lists against name, URL and content alike.
    content = normalize(submission.content) if content_normalized is None else content_normalized
    others = [normalize(p) for p in (submission.author_name, submission.author_url) if p]
    return " \n ".join([p for p in (content, *others) if p])


def _signals(submission: Submission, now: Any) -> dict[str, Any]:
    """Everything the moderators and retraining may want besides the text (no e-mail here)."""
    signals: dict[str, Any] = {
        "honeypot_filled": bool(submission.honeypot),
        "links": len(find_urls(submission.content)),
        "content_chars": len(submission.content),
    }
    if submission.form_rendered_at is not None:
        signals["seconds_to_submit"] = round((now - submission.form_rendered_at).total_seconds(), 3)
    return signals


@routes.get("/v1/comments/{comment_id}")
async def get_comment(request: web.Request) -> web.Response:
    """Current status and public view of one of this site's comments."""
    key = await require(request, Role.SITE, Role.MODERATOR, Role.ADMIN)
    comment_id = parse_id(request.match_info["comment_id"])  # ≥ 2**63 or non-ASCII digits: no such comment
    if comment_id is None:
        raise NotFound("No such comment.")
    comment = await request.app[STORE].get_comment(key.site_id, comment_id)
    if comment is None:
        raise NotFound("No such comment.")
    return web.json_response(
        {
            "id": comment.id,
            "status": comment.status.value,
            "decision": comment.decision.value,
            "revision": comment.revision,
            "updated_at": comment.updated_at.isoformat(),
            "comment": comment.public_view(),
        }
    )


