"""The classifiers as the service sees them: one loaded model, scored off the event loop.

The current model is a single reference that a reload swaps atomically; each batch takes the
reference once, so a request is scored and labelled by exactly one model version.

Under load, comments are scored in micro-batches: those that arrive while a batch is on the
inference thread form the next one (at most ``MAX_BATCH``), featurised together in one call and
handed back in one trip. Nothing waits to fill a batch, so a lone comment goes at once.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import sys
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from ..artefacts import LoadedModel, ModelError, load_model
from ..textnorm import normalize
from .site_model import SiteModel

log = structlog.get_logger(__name__)

EXPLAIN_TOP_K = 5
# Bounds how long a comment can wait behind the others of its batch.
MAX_BATCH = 32


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


@dataclass(frozen=True)
class BatchScores:
    """Raw scores of several texts, all by the same model version (no thresholds applied, no explanations)."""

    version: str
    heads: tuple[str, ...]
    scores: list[dict[str, float]]
    thresholds: dict[str, float]


class Scorer:
    def __init__(self, models_dir: Path, executor: Executor) -> None:
        self.models_dir = models_dir
        self.executor = executor
        self.current: LoadedModel | None = None
        self.load_error: str | None = None
        self._reload_lock = asyncio.Lock()
        self._pending: list[_Item] = []
        self._flusher: asyncio.Task[None] | None = None

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
                    site: SiteModel | None = None, normalized: str | None = None) -> ScoringResult:
        """Scores for every head (blended with the site's online head if given), plus explanations.

        ``normalized`` is ``normalize(text)`` when the caller has it (it is not computed again).
        Past ``timeout`` seconds the comment is not waited for: the caller holds it instead (fail closed).
        """
        if self.current is None:
            raise ScoringUnavailable(self.load_error or "no model loaded")
        loop = asyncio.get_running_loop()
        item = _Item(text, normalized if normalized is not None else normalize(text), hold_thresholds,
                     loop.create_future(), site)
        self._pending.append(item)
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        try:
            # shield: a comment given up on must not cancel the batch the others are waiting for.
            return await asyncio.wait_for(asyncio.shield(item.future), timeout)
        except TimeoutError:
            log.error("model_timeout", timeout_s=timeout, model_version=self.version)
            raise ScoringUnavailable(f"scoring took longer than {timeout} s") from None

    @property
    def heads(self) -> tuple[str, ...] | None:
        """The heads of the model serving now, or ``None`` when no model is loaded."""
        return tuple(self.current.model.heads) if self.current is not None else None

    async def score_texts(self, texts: list[str], *, timeout: float | None = None) -> BatchScores:
        """Raw scores of ``texts`` in one call with one model (taken once), off the event loop.

        For the compatibility endpoints, which want every head's score of a text and its spans, not a
        decision. Raises ``ScoringUnavailable`` when no model is loaded, it fails, or ``timeout`` passes.
        """
        loaded = self.current
        if loaded is None:
            raise ScoringUnavailable(self.load_error or "no model loaded")
        loop = asyncio.get_running_loop()
        normalized = [normalize(t) for t in texts]
        try:
            rows = await asyncio.wait_for(
                loop.run_in_executor(self.executor, _predict, loaded.model, texts, normalized), timeout
            )
        except TimeoutError:
            log.error("model_timeout", timeout_s=timeout, model_version=loaded.version)
            raise ScoringUnavailable(f"scoring took longer than {timeout} s") from None
        except Exception as exc:  # a broken model is "unavailable", never a 500
            log.error("model_failed", error=repr(exc), model_version=loaded.version)
            raise ScoringUnavailable(repr(exc)) from exc
        return BatchScores(
            version=loaded.version,
            heads=tuple(loaded.model.heads),
            scores=[{head: float(p) for head, p in row.items()} for row in rows],
            thresholds=dict(loaded.thresholds),
        )

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            loaded = self.current  # one version for the whole batch
            if loaded is None:
                outcomes: list[ScoringResult | Exception] = [
                    ScoringUnavailable(self.load_error or "no model loaded")] * len(batch)
            else:
                try:
                    outcomes = await loop.run_in_executor(self.executor, _score_batch, loaded, batch)
                except Exception as exc:  # the executor itself failed (shutting down): hold these comments
                    outcomes = [ScoringUnavailable(repr(exc))] * len(batch)
            for item, outcome in zip(batch, outcomes):
                if item.future.done():
                    continue
                if isinstance(outcome, Exception):
                    item.future.set_exception(outcome)
                else:
                    item.future.set_result(outcome)


@dataclass
class _Item:
    text: str
    normalized: str
    hold_thresholds: dict[str, float]
    future: asyncio.Future[ScoringResult]
    site: SiteModel | None = None


def _score_batch(loaded: LoadedModel, batch: list[_Item]) -> list[ScoringResult | Exception]:
    """Score a batch in one featurisation; if that fails, each alone, so one bad text fails only itself."""
    try:
        rows = _predict(loaded.model, [i.text for i in batch], [i.normalized for i in batch])
        return [_result(loaded, item, row) for item, row in zip(batch, rows)]
    except Exception:
        if len(batch) == 1:
            return [_failure(loaded, batch[0])]
    out: list[ScoringResult | Exception] = []
    for item in batch:
        try:
            row = _predict(loaded.model, [item.text], [item.normalized])[0]
            out.append(_result(loaded, item, row))
        except Exception:
            out.append(_failure(loaded, item))
    return out


def _predict(model: Any, texts: list[str], normalized: list[str]) -> list[dict[str, float]]:
    if _takes_normalized(type(model), "predict_scores"):
        return model.predict_scores(texts, normalized=normalized)  # type: ignore[no-any-return]
    return model.predict_scores(texts)  # type: ignore[no-any-return]


def _takes_normalized(model_class: type, method: str) -> bool:
    """Whether a model class accepts already-normalised text (other models normalise it themselves)."""
    return _signature_has(model_class, method, "normalized")


@functools.cache
def _signature_has(owner: object, method: str, parameter: str) -> bool:
    # Cached per class: inspect.signature is too slow for every comment.
    return parameter in inspect.signature(getattr(owner, method)).parameters


def _failure(loaded: LoadedModel, item: _Item) -> ScoringUnavailable:
    # A broken model must hold the comment, never answer 500.
    exc = sys.exc_info()[1]
    log.error("model_failed", error=repr(exc), model_version=loaded.version)
    failure = ScoringUnavailable(repr(exc))
    failure.__cause__ = exc
    return failure


def _result(loaded: LoadedModel, item: _Item, row: dict[str, float]) -> ScoringResult:
    scores = {head: float(p) for head, p in row.items()}
    adjusted: dict[str, dict[str, Any]] = {}
    if item.site is not None:
        try:
            adjusted = item.site.adjust(loaded, item.text, scores)
        except Exception as exc:  # noqa: BLE001 - a broken site head falls back to the shared score
            log.error("site_model_failed", error=repr(exc), site_id=item.site.site_id)
        for head, info in adjusted.items():
            scores[head] = info["score"]
    thresholds = {**loaded.thresholds, **item.hold_thresholds}
    held = [head for head, score in scores.items() if head in thresholds and score >= thresholds[head]]
    model = loaded.model
    if held and hasattr(model, "explain_heads"):  # one pass over the text for every head it reaches
        explanations = model.explain_heads(item.text, held, EXPLAIN_TOP_K, normalized=item.normalized)
    elif _takes_normalized(type(model), "explain"):
        explanations = {head: model.explain(item.text, head, EXPLAIN_TOP_K, normalized=item.normalized)
                        for head in held}
    else:
        explanations = {head: model.explain(item.text, head, EXPLAIN_TOP_K) for head in held}
    return ScoringResult(scores=scores, version=loaded.version, thresholds=thresholds, explanations=explanations,
                         site=adjusted)
