"""The classifiers as the service sees them: one loaded model, scored off the event loop.

The current model is a single reference that a reload swaps atomically; each request takes the
reference once, so a request is scored and labelled by exactly one model version.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from ..model import LoadedModel, ModelError, load_model
from .site_model import SiteModel

log = structlog.get_logger(__name__)

EXPLAIN_TOP_K = 5


class ScoringUnavailable(Exception):
    """No model is loaded, or the model failed on this text."""


@dataclass(frozen=True)
class ScoringResult:
    scores: dict[str, float]
    version: str
    thresholds: dict[str, float]
    explanations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Heads this site's online head moved: shared score, labels behind it, blend weight (site_model.py).
    site: dict[str, dict[str, Any]] = field(default_factory=dict)


class Scorer:
    def __init__(self, models_dir: Path, executor: Executor) -> None:
        self.models_dir = models_dir
        self.executor = executor
        self.current: LoadedModel | None = None
        self.load_error: str | None = None
        self._reload_lock = asyncio.Lock()

    def load(self, version: str | None = None) -> LoadedModel:
        """Load (and verify) a model version, then make it current. Raises ``ModelError``."""
        loaded = load_model(self.models_dir, version)
        self.current = loaded  # one reference swap: in-flight requests keep the model they took
        self.load_error = None
        return loaded

    def try_load(self) -> None:
        """Load the current model at start-up; on failure keep serving and hold every comment."""
        try:
            loaded = self.load()
        except ModelError as exc:
            self.load_error = str(exc)
            log.error("model_load_failed", error=str(exc), models_dir=str(self.models_dir))
        else:
            log.info("model_loaded", version=loaded.version, heads=list(loaded.model.heads))

    async def reload(self, version: str | None = None) -> tuple[str | None, str]:
        """Load and verify the current (or given) version off the event loop, then swap it in.

        Requests in flight finish on the model they started with; a failed load keeps the old model.
        Returns (previous version, new version).
        """
        async with self._reload_lock:
            previous = self.version
            loop = asyncio.get_running_loop()
            # The default executor, not the inference one: scoring continues while the new model loads.
            loaded = await loop.run_in_executor(None, load_model, self.models_dir, version)
            self.current = loaded
            self.load_error = None
            log.info("model_reloaded", previous=previous, version=loaded.version)
            return previous, loaded.version

    @property
    def version(self) -> str | None:
        return self.current.version if self.current else None

    async def score(self, text: str, hold_thresholds: dict[str, float], *, timeout: float | None = None,
                    site: SiteModel | None = None) -> ScoringResult:
        """Scores for every head (blended with the site's online head if given), plus explanations.

        Past ``timeout`` seconds the comment is not waited for: the caller holds it instead (fail closed).
        """
        loaded = self.current
        if loaded is None:
            raise ScoringUnavailable(self.load_error or "no model loaded")
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(self.executor, _score_sync, loaded, text, hold_thresholds, site)
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            log.error("model_timeout", timeout_s=timeout, model_version=loaded.version)
            raise ScoringUnavailable(f"scoring took longer than {timeout} s") from None
        except Exception as exc:  # a broken model must hold the comment, never answer 500
            log.error("model_failed", error=repr(exc), model_version=loaded.version)
            raise ScoringUnavailable(repr(exc)) from exc


def _score_sync(loaded: LoadedModel, text: str, hold_thresholds: dict[str, float],
                site: SiteModel | None = None) -> ScoringResult:
    scores = {head: float(p) for head, p in loaded.model.predict_scores([text])[0].items()}
    adjusted: dict[str, dict[str, Any]] = {}
    if site is not None:
        try:
            adjusted = site.adjust(loaded, text, scores)
        except Exception as exc:  # noqa: BLE001 - a broken site head falls back to the shared score
            log.error("site_model_failed", error=repr(exc), site_id=site.site_id)
        for head, info in adjusted.items():
            scores[head] = info["score"]
    thresholds = {**loaded.thresholds, **hold_thresholds}
    explanations = {
        head: loaded.model.explain(text, head, EXPLAIN_TOP_K)
        for head, score in scores.items()
        if head in thresholds and score >= thresholds[head]
    }
    return ScoringResult(scores=scores, version=loaded.version, thresholds=thresholds, explanations=explanations,
                         site=adjusted)
