"""Helpers shared by the drop-in compatibility endpoints (Perspective, Akismet).

Both emulated APIs answer errors in their own shape, so their handlers catch our ``ModerationError``s
themselves; what is common to both lives here: authenticating a site key,
scoring several texts with one pinned model version off the event loop, and recording a person's
feedback as a training label (text and label only: never an e-mail, IP or name).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web

from ..auth import authenticate, bearer_token
from ..domain import ApiKey, Role
from ..keys import CLOCK, EXECUTOR, METRICS, SCORER, STORE
from ..pipeline.scoring import ScoringUnavailable
from ..store import TrainingLabel

log = structlog.get_logger(__name__)

MAX_ACTOR_CHARS = 200


async def authenticate_site(request: web.Request, *tokens: str | None) -> ApiKey:
    """The site key given by the first non-empty token (or a bearer header); 401 / 403 otherwise."""
    token = next((t.strip() for t in tokens if t and t.strip()), None) or bearer_token(request)
    return await authenticate(request, token, Role.SITE)


@dataclass(frozen=True)
class BatchScores:
    """Scores of several texts, all by the same model version."""

    version: str
    heads: tuple[str, ...]
    scores: list[dict[str, float]]
    thresholds: dict[str, float]


def model_heads(app: web.Application) -> tuple[str, ...] | None:
    """The heads of the model serving now, or ``None`` when no model is loaded."""
    loaded = app[SCORER].current
    return tuple(loaded.model.heads) if loaded is not None else None


async def score_texts(app: web.Application, texts: list[str]) -> BatchScores:
    """Score ``texts`` in one batch with one model (taken once), off the event loop.

    Raises ``ScoringUnavailable`` (and counts a classifier failure) when no model is loaded or it fails.
    """
    loaded = app[SCORER].current
    if loaded is None:
        app[METRICS].classifier_failures.inc()
        raise ScoringUnavailable(app[SCORER].load_error or "no model loaded")
    loop = asyncio.get_running_loop()
    try:
        raw = await loop.run_in_executor(app[EXECUTOR], loaded.model.predict_scores, texts)
    except Exception as exc:  # a broken model gives the emulated API's "unavailable", never a 500
        log.error("model_failed", error=repr(exc), model_version=loaded.version)
        app[METRICS].classifier_failures.inc()
        raise ScoringUnavailable(repr(exc)) from exc
    scores = [{head: float(p) for head, p in row.items()} for row in raw]
    return BatchScores(
        version=loaded.version,
        heads=tuple(loaded.model.heads),
        scores=scores,
        thresholds=dict(loaded.thresholds),
    )


async def add_feedback_label(
    request: web.Request,
    key: ApiKey,
    *,
    text: str,
    label: str,
    source: str,
    actor: str | None,
) -> int:
    """Store a client's judgement of ``text`` for retraining, with what our current model thought of it.

    The model's scores are best effort: feedback is kept even when no model is loaded.
    """
    app = request.app
    version: str | None = None
    scores: dict[str, float] | None = None
    try:
        batch = await score_texts(app, [text])
    except ScoringUnavailable:
        pass
    else:
        version, scores = batch.version, {k: round(v, 4) for k, v in batch.scores[0].items()}
    return await app[STORE].add_training_label(
        TrainingLabel(
            site_id=key.site_id,
            text=text,
            label=label,
            source=source,
            actor=(actor or None) and actor[:MAX_ACTOR_CHARS],
            model_version=version,
            scores=scores,
        ),
        app[CLOCK](),
    )


def is_true(value: Any) -> bool:
    """Form and JSON booleans as clients send them: ``1``, ``true``, ``yes``, ``on``."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")
