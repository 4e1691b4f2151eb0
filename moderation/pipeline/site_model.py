"""The online per-site head: what this site's moderators decided, learnt within a request or two.

For each site and each held head (spam, toxic) a small logistic regression learns the *residual* of the
shared model on that site's moderator decisions:

    z_site = z + a·z + w·x + b        z = logit(shared model's calibrated score), x = ``TextModel.transform``

``a`` stacks the shared model's own score (the site may trust it more or less), ``w`` are the site's
weights on the shared model's sparse features (its new brands, its readers' slang). Every parameter starts
at 0, so an untrained head reproduces the shared score exactly. It is a few lines of numpy (AdaGrad on
the touched coordinates, L2 towards 0) rather than ``SGDClassifier.partial_fit`` because sklearn's model
starts from and regularises towards 0 *weights*, not towards "the shared model's answer", keeps a dense
coefficient row per site (300k floats) and costs ~100 µs of input validation per call; here a site pays
only for the features its labels touched, and scoring a comment is one gather and one dot product.

The blend is conservative and documented in docs/retraining.md::

    score = sigmoid(z + clip(λ(n) · (a·z + w·x + b), -max_shift, +max_shift))
    λ(n)  = 0                       until ``min_labels`` labels with ``min_per_class`` of each class
          = n / (n + half_weight_labels)   afterwards

The heads are rebuilt from the store's ``training_labels`` table (source ``moderator`` only: readers'
reports and the site key's Akismet/Perspective feedback never train them) for each model version: at
start-up, after a reload/promotion, and by following new rows as moderators decide.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import structlog

from ..artefacts import LoadedModel
from ..labels import LABEL_TARGETS, MODERATOR_SOURCE
from ..store import Store


class ServingModel(Protocol):
    """Where the model serving now is found (the Scorer): a reload swaps ``current``."""

    current: LoadedModel | None

log = structlog.get_logger(__name__)

SITE_HEADS = ("spam", "toxic")
# Only decisions taken by a moderator train a site head (not readers, not the site key's feedback calls);
# what each label says about each head is labels.LABEL_TARGETS.
_EPS = 1e-6


@dataclass(frozen=True)
class SiteModelConfig:
    min_labels: int = 20  # labels for a head before it moves any score
    min_per_class: int = 5  # ... with at least this many of each class (rejections and approvals)
    half_weight_labels: int = 30  # λ = 1/2 at this many labels
    max_shift: float = 6.0  # the site head moves a score by at most this many logits, either way
    learning_rate: float = 0.2  # AdaGrad step (chosen on the learning curve's tuning order, docs/retraining.md)
    l2: float = 1e-4  # shrinks the site's weights towards "trust the shared model"
    batch: int = 256  # labels read and learnt per step when rebuilding or following the table
    poll_seconds: float = 5.0  # other replicas' decisions are picked up at least this often


def _logit1(p: float) -> float:
    p = min(1.0 - _EPS, max(_EPS, p))
    return math.log(p / (1.0 - p))


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-min(40.0, max(-40.0, z))))


class FeatureSlots:
    """Shared-model feature index → compact position, for the features one site's labels have touched.

    One dense int32 map per site (4 bytes per shared feature) makes a lookup one numpy gather; the weights
    themselves grow only with the features the site's labels touched.
    """

    def __init__(self) -> None:
        self.map: np.ndarray | None = None
        self.count = 0

    def lookup(self, indices: np.ndarray) -> np.ndarray:
        if self.map is None:
            return np.full(len(indices), -1, dtype=np.int64)
        return self.map[indices].astype(np.int64)

    def assign(self, indices: np.ndarray, n_features: int) -> np.ndarray:
        if self.map is None:
            self.map = np.full(n_features, -1, dtype=np.int32)
        pos = self.map[indices]
        new = pos < 0
        if new.any():
            k = int(new.sum())
            self.map[indices[new]] = np.arange(self.count, self.count + k, dtype=np.int32)
            self.count += k
            pos = self.map[indices]
        return pos.astype(np.int64)


class OnlineHead:
    """Residual online logistic regression for one site and one head (weights at the site's feature slots)."""

    def __init__(self, config: SiteModelConfig) -> None:
        self.config = config
        self.w = np.zeros(256)
        self.g2 = np.zeros(256)
        self.ab = np.zeros(2)  # a (stacked shared logit), b (bias)
        self.ab_g2 = np.zeros(2)
        self.n = 0
        self.n_pos = 0

    def weight(self) -> float:
        """λ(n): how much of the residual reaches the score (0 until enough labels of both classes)."""
        c = self.config
        if self.n < c.min_labels or self.n_pos < c.min_per_class or self.n - self.n_pos < c.min_per_class:
            return 0.0
        return self.n / (self.n + c.half_weight_labels)

    def residual(self, pos: np.ndarray, values: np.ndarray, z: float) -> float:
        known = (pos >= 0) & (pos < len(self.w))
        r = float(self.w[pos[known]] @ values[known])
        return r + float(self.ab[0]) * z + float(self.ab[1])

    def shift(self, pos: np.ndarray, values: np.ndarray, z: float) -> float:
        lam = self.weight()
        if lam == 0.0:
            return 0.0
        m = self.config.max_shift
        return min(m, max(-m, lam * self.residual(pos, values, z)))

    def update(self, pos: np.ndarray, values: np.ndarray, z: float, y: int) -> None:
        """One AdaGrad step on the log loss of sigmoid(z + residual) against the moderator's label."""
        c = self.config
        if len(pos) and int(pos.max()) >= len(self.w):
            size = max(int(pos.max()) + 1, 2 * len(self.w))
            self.w = np.concatenate([self.w, np.zeros(size - len(self.w))])
            self.g2 = np.concatenate([self.g2, np.zeros(size - len(self.g2))])
        g = _sigmoid(z + self.residual(pos, values, z)) - y
        grad = g * values + c.l2 * self.w[pos]
        self.g2[pos] += grad * grad
        self.w[pos] -= c.learning_rate * grad / np.sqrt(self.g2[pos] + _EPS)
        grad_ab = g * np.array([z, 1.0]) + c.l2 * self.ab
        self.ab_g2 += grad_ab * grad_ab
        self.ab -= c.learning_rate * grad_ab / np.sqrt(self.ab_g2 + _EPS)
        self.n += 1
        self.n_pos += int(y)


class SiteModel:
    """The online heads of one site, for one shared model version."""

    def __init__(self, site_id: str, version: str, heads: Sequence[str], config: SiteModelConfig) -> None:
        self.site_id = site_id
        self.version = version
        self.slots = FeatureSlots()
        self.heads = {h: OnlineHead(config) for h in heads}
        self.config = config
        self._lock = threading.Lock()  # scoring and learning may run on different threads

    def learn(self, indices: np.ndarray, values: np.ndarray, logits: dict[str, float], label: str,
              n_features: int) -> None:
        targets = LABEL_TARGETS.get(label, {})
        with self._lock:
            pos = self.slots.assign(indices, n_features)
            for head, model in self.heads.items():
                y = targets.get(head)
                if y is not None:
                    model.update(pos, values, logits[head], y)

    def active(self) -> bool:
        return any(h.weight() > 0 for h in self.heads.values())

    def adjust(self, loaded: LoadedModel, text: str, scores: dict[str, float]) -> dict[str, dict[str, Any]]:
        """Blended score per head this site's head moves, with what moved it (labels, weight, shared score)."""
        if loaded.version != self.version or not self.active():
            return {}
        X = loaded.model.transform([text])
        values = X.data.astype(np.float64)
        out: dict[str, dict[str, Any]] = {}
        with self._lock:
            pos = self.slots.lookup(X.indices)
            for head, model in self.heads.items():
                lam = model.weight()
                if lam == 0.0 or head not in scores:
                    continue
                z = _logit1(scores[head])
                blended = _sigmoid(z + model.shift(pos, values, z))
                out[head] = {"score": blended, "global_score": scores[head], "labels": model.n,
                             "rejections": model.n_pos, "weight": round(lam, 3)}
        return out

    def summary(self) -> dict[str, Any]:
        with self._lock:
            return {h: {"labels": m.n, "positives": m.n_pos, "weight": round(m.weight(), 3),
                        "features": self.slots.count} for h, m in self.heads.items()}


class SiteModels:
    """Every site's online heads for one shared model version, and how far into the label table they are."""

    def __init__(self, loaded: LoadedModel, config: SiteModelConfig) -> None:
        self.loaded = loaded
        self.version = loaded.version
        self.config = config
        self.heads = tuple(h for h in SITE_HEADS if h in loaded.model.heads)
        self.sites: dict[str, SiteModel] = {}
        self.last_id = 0
        # Labels the shared model was itself trained on (retrain records up to when) are not learnt twice.
        site_labels = loaded.manifest.get("training", {}).get("site_labels") or {}
        self.trained_until: str | None = site_labels.get("trained_until")

    def site(self, site_id: str) -> SiteModel:
        model = self.sites.get(site_id)
        if model is None:
            model = self.sites[site_id] = SiteModel(site_id, self.version, self.heads, self.config)
        return model

    def learnable(self, row: dict[str, Any]) -> bool:
        if row.get("source") != MODERATOR_SOURCE or row.get("label") not in LABEL_TARGETS:
            return False
        if not isinstance(row.get("text"), str) or not row.get("site_id"):
            return False
        return not (self.trained_until and (row.get("decided_at") or "") <= self.trained_until)

    def learn_rows(self, rows: Sequence[dict[str, Any]]) -> int:
        """Learn from label-table rows (oldest first); return how many taught something. Runs off the loop."""
        rows_sorted = sorted(rows, key=lambda r: r["id"])
        todo = [r for r in rows_sorted if self.learnable(r)]
        if todo and self.heads:
            model = self.loaded.model
            texts = [r["text"] for r in todo]
            X = model.transform(texts)
            scores = model.predict_scores(texts)
            for k, row in enumerate(todo):
                start, end = X.indptr[k], X.indptr[k + 1]
                logits = {h: _logit1(scores[k][h]) for h in self.heads}
                self.site(row["site_id"]).learn(X.indices[start:end], X.data[start:end].astype(np.float64),
                                                logits, row["label"], X.shape[1])
        if rows_sorted:
            self.last_id = max(self.last_id, int(rows_sorted[-1]["id"]))
        return len(todo)


class SiteLearner:
    """Keeps the site heads of the serving model version in step with the label table.

    The table is the only source of truth: a decision wakes the learner, which reads the new rows and
    learns them on its own thread (never the request's, never the inference thread). A new model version
    gets fresh heads, replayed from the table and swapped in only once they are caught up, so a request
    never meets a half-rebuilt head; until then it is scored by the shared model alone.
    """

    def __init__(self, store: Store, scorer: ServingModel, config: SiteModelConfig | None = None) -> None:
        self.store = store
        self.scorer = scorer
        self.config = config or SiteModelConfig()
        self.models: SiteModels | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="site-learner")
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    def for_site(self, site_id: str) -> SiteModel | None:
        """This site's heads if they belong to the serving model version (else: the shared model alone)."""
        models, loaded = self.models, self.scorer.current
        if models is None or loaded is None or models.version != loaded.version:
            return None
        return models.sites.get(site_id)

    def notify(self) -> None:
        """A moderator decided: learn it soon (cheap; safe to call from any handler)."""
        self._wake.set()

    async def sync(self) -> int:
        """Learn every label added since the last sync (rebuilding for a new model version); return the count."""
        async with self._lock:
            loaded = self.scorer.current
            if loaded is None:
                return 0
            models = self.models
            if models is None or models.version != loaded.version:
                models = SiteModels(loaded, self.config)
            loop = asyncio.get_running_loop()
            learnt = 0
            while True:
                rows = await self.store.list_training_labels(since_id=models.last_id, limit=self.config.batch)
                if not rows:
                    break
                learnt += await loop.run_in_executor(self._executor, models.learn_rows, rows)
            if models is not self.models:
                log.info("site_models_rebuilt", model_version=models.version, labels=learnt,
                         sites=len(models.sites))
                self.models = models
            return learnt

    async def run(self) -> None:
        """Background task: sync on every wake-up, and every ``poll_seconds`` for other replicas' decisions."""
        while True:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow the cancellation that
            # stops this task at shutdown, and the app's cleanup then waits for it forever.
            try:
                async with asyncio.timeout(self.config.poll_seconds):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.sync()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - learning must never take the service down
                log.error("site_model_sync_failed", error=repr(exc))

    def close(self) -> None:
        self._executor.shutdown(wait=True)
