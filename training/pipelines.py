"""Fitting ``TextModel``: one hashed word+char n-gram featurisation, one calibrated logistic regression per head."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from moderation.features import Lexicons, text_features
from moderation.model import TextModel

MAX_FEATURES = 300_000
DEFAULT_C = {"spam": 8.0, "gambling": 8.0}  # others: DEFAULT_C_OTHER
DEFAULT_C_OTHER = 4.0


def feature_lists(texts: Sequence[str], lexicons: Lexicons | None = None, *, progress: bool = False,
                  desc: str = "normalise+analyse") -> list[list[str]]:
    lexicons = lexicons or Lexicons()
    it = texts
    if progress:
        from tqdm import tqdm

        it = tqdm(texts, desc=desc, unit="text", mininterval=2)
    return [text_features(t, lexicons) for t in it]


def build_vocab(feats: Sequence[list[str]], *, max_features: int = MAX_FEATURES, min_df: int | None = None) -> dict[str, int]:
    """Document-frequency-pruned vocabulary (deterministic order: df desc, then string)."""
    df: Counter[str] = Counter()
    for f in feats:
        df.update(set(f))
    if min_df is None:
        min_df = 1 if len(feats) < 2000 else 2
    items = [(t, c) for t, c in df.items() if c >= min_df]
    items.sort(key=lambda tc: (-tc[1], tc[0]))
    return {t: i for i, (t, _) in enumerate(items[:max_features])}


def compute_idf(counts: sp.csr_matrix) -> np.ndarray:
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.float64)
    return (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)


def _platt(z: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> tuple[float, float]:
    """Fit p = sigmoid(a z + c) with a lightly regularised 1-D logistic regression."""
    if len(np.unique(y)) < 2:
        p = float(np.clip(y.mean(), 1e-3, 1 - 1e-3))
        return 0.0, float(np.log(p / (1 - p)))
    lr = LogisticRegression(C=100.0, solver="lbfgs", max_iter=1000)
    lr.fit(z.reshape(-1, 1), y, sample_weight=w)
    a = float(lr.coef_[0, 0])
    if a <= 0:  # degenerate (tiny data): fall back to the raw logistic output
        return 1.0, 0.0
    return a, float(lr.intercept_[0])


def _fit_head(
    X: sp.csr_matrix, y: np.ndarray, w: np.ndarray | None, *, C: float, seed: int, calib_folds: int
) -> tuple[np.ndarray, float, float, float]:
    """Return (coef, intercept, a, c)."""
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    if n_pos == 0 or n_neg == 0:
        p = (n_pos + 0.5) / (len(y) + 1.0)
        return np.zeros(X.shape[1], dtype=np.float32), 0.0, 0.0, float(np.log(p / (1 - p)))

    def make() -> LogisticRegression:
        return LogisticRegression(C=C, solver="liblinear", max_iter=200, class_weight="balanced", random_state=seed)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # liblinear convergence chatter on tiny data
        clf = make().fit(X, y, sample_weight=w)
        if calib_folds <= 0:
            return clf.coef_.ravel().astype(np.float32), float(clf.intercept_[0]), 1.0, 0.0
        k = min(calib_folds, n_pos, n_neg)
        if k >= 2:
            oof = np.zeros(len(y))
            skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
            for tr, te in skf.split(np.zeros(len(y)), y):
                m = make().fit(X[tr], y[tr], sample_weight=None if w is None else w[tr])
                oof[te] = m.decision_function(X[te])
        else:  # too few examples for cross-validation: calibrate on the training scores
            oof = clf.decision_function(X)
        a, c = _platt(oof, y, w)
    return clf.coef_.ravel().astype(np.float32), float(clf.intercept_[0]), a, c


def fit_text_model(
    texts: Sequence[str],
    labels: dict[str, Sequence[int | None]],
    *,
    sample_weight: Sequence[float] | None = None,
    seed: int = 0,
    calib_folds: int = 3,
    C: dict[str, float] | None = None,
    max_features: int = MAX_FEATURES,
    feats: Sequence[list[str]] | None = None,
    progress: bool = False,
    lexicons: Lexicons | None = None,
) -> TextModel:
    """Fit a TextModel; ``labels[head][i]`` is 0/1 or None (unknown: row not used for that head).

    Works on tiny data (a head with 2-3 positives, or even one class only) by reducing calibration folds.
    ``calib_folds=0`` skips calibration (identity); call ``calibrate`` on held-out data afterwards.
    ``feats`` may pass precomputed ``feature_lists(texts)`` to skip normalisation/analysis.
    """
    texts = list(texts)
    if not labels:
        raise ValueError("labels must contain at least one head")
    heads = tuple(labels)
    for h in heads:
        if len(labels[h]) != len(texts):
            raise ValueError(f"labels[{h!r}] has {len(labels[h])} rows, texts has {len(texts)}")
    if feats is None:
        feats = feature_lists(texts, lexicons, progress=progress)
    vocab = build_vocab(feats, max_features=max_features)
    nf, nh = len(vocab), len(heads)
    model = TextModel(
        heads, vocab, idf=np.ones(nf, dtype=np.float32), coef=np.zeros((nf, nh), dtype=np.float32),
        intercept=np.zeros(nh), calibration=np.tile([1.0, 0.0], (nh, 1)), lexicons=lexicons,
    )
    counts = model.counts(feats)
    model.idf = compute_idf(counts)
    X = model.weight(counts)
    w_all = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    C = {**DEFAULT_C, **(C or {})}
    coef = np.zeros((nf, nh), dtype=np.float32)
    intercept = np.zeros(nh)
    calib = np.tile([1.0, 0.0], (nh, 1))
    info: dict = {"n_train": {}, "n_pos": {}, "seed": seed, "calib_folds": calib_folds, "n_features": nf}
    heads_iter = heads
    if progress:
        from tqdm import tqdm

        heads_iter = tqdm(heads, desc="fit heads", unit="head")
    for j, h in enumerate(heads_iter):
        mask = np.array([v is not None for v in labels[h]], dtype=bool)
        y = np.array([int(v) for v in labels[h] if v is not None], dtype=np.int64)
        idx = np.flatnonzero(mask)
        w = None if w_all is None else w_all[idx]
        cj, bj, a, c = _fit_head(X[idx], y, w, C=C.get(h, DEFAULT_C_OTHER), seed=seed, calib_folds=calib_folds)
        coef[:, j], intercept[j], calib[j] = cj, bj, (a, c)
        info["n_train"][h], info["n_pos"][h] = int(len(y)), int(y.sum())
    model.coef, model.intercept, model.calibration, model.info = coef, intercept, calib, info
    return model


def calibrate(
    model: TextModel, texts: Sequence[str] | None, labels: dict[str, Sequence[int | None]], *, X: sp.csr_matrix | None = None
) -> TextModel:
    """Refit each head's Platt calibration on held-out rows (in place; returns the model)."""
    if X is None:
        X = model.transform(list(texts or []))
    Z = model.decision(X)
    for j, h in enumerate(model.heads):
        if h not in labels:
            continue
        mask = np.array([v is not None for v in labels[h]], dtype=bool)
        y = np.array([int(v) for v in labels[h] if v is not None], dtype=np.int64)
        if len(y) and len(np.unique(y)) == 2:
            model.calibration[j] = _platt(Z[mask, j], y, None)
    model.info["calibration"] = "platt on held-out validation rows"
    return model
