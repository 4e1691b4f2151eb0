"""The text classifier as the service scores with it: ``TextModel``, one featurisation and a linear head per label.

Its pieces live beside it: the featurisation (``features``), explanations (``explain``), and the artefact
format with its verifying loader (``artefacts``). This module never imports ``training``, scikit-learn or joblib.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from .explain import explain_heads
from .features import _WORD_RE, Lexicons, _char_features, evidence_features
from .textnorm import normalize

MODEL_FORMAT = 2  # the artefact format this code writes and reads (artefacts.FORMAT_ARRAYS)


_CACHE_MAX = 100_000  # words whose char n-gram ids are cached (per process)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0)))


class TextModel:
    """Shared hashed n-gram featurisation + one calibrated linear head per label.

    score(head) = sigmoid(a_h * (x · w_h + b_h) + c_h), where x is the sublinear-tf, idf-weighted, l2-normalised
    feature vector of ``normalize(text)`` and (a_h, c_h) is a Platt calibration fitted on out-of-fold
    decision values.
    """

    format_version = MODEL_FORMAT

    def __init__(
        self,
        heads: Sequence[str],
        vocab: dict[str, int],
        idf: np.ndarray,
        coef: np.ndarray,
        intercept: np.ndarray,
        calibration: np.ndarray,
        info: dict[str, Any] | None = None,
        lexicons: Lexicons | None = None,
    ) -> None:
        self.heads: tuple[str, ...] = tuple(heads)
        self.vocab = vocab
        self.n_features = len(vocab)
        self.idf = np.asarray(idf, dtype=np.float32)
        self.coef = np.asarray(coef, dtype=np.float32)  # (n_features, n_heads)
        self.intercept = np.asarray(intercept, dtype=np.float64)  # (n_heads,)
        self.calibration = np.asarray(calibration, dtype=np.float64)  # (n_heads, 2): a, c
        self.info = dict(info or {})
        self.lexicons = lexicons or Lexicons()

    def _ids(self, text: str, normalized: str | None = None) -> list[int]:
        """Vocabulary ids of ``text_features(text)`` (same multiset), with per-word features cached.

        ``normalized`` is ``normalize(text)`` when the caller has it already; evidence needs the raw text.
        """
        if normalized is None:
            normalized = normalize(text)
        get = self.vocab.get
        toks = _WORD_RE.findall(normalized)
        ids = [i for i in map(get, ["w " + t for t in toks]) if i is not None]
        if len(toks) > 1:
            ids += [i for i in map(get, ["b " + a + " " + b for a, b in zip(toks, toks[1:])]) if i is not None]
        for chunk in normalized.split():
            ids += self.chunk_ids(chunk)
        if self.lexicons.evidence:
            ids += [i for i in map(get, evidence_features(text)) if i is not None]
        return ids

    def chunk_ids(self, chunk: str) -> list[int]:
        """Vocabulary ids of one whitespace chunk's character n-grams and lexicon extras, cached per chunk
        (words repeat: scoring and explanations both ask). The caller must not change the list."""
        cache = self.__dict__.get("_chunk_cache")
        if cache is None:
            cache = self.__dict__["_chunk_cache"] = {}
        c = cache.get(chunk)
        if c is None:
            get = self.vocab.get
            c = [i for i in map(get, _char_features(chunk) + self.lexicons.chunk_extras(chunk)) if i is not None]
            if len(cache) >= _CACHE_MAX:
                cache.clear()
            cache[chunk] = c
        return c

    def feature_ids(self, features: Sequence[str]) -> list[int]:
        """Vocabulary ids of ``features`` (unknown ones dropped)."""
        get = self.vocab.get
        return [i for i in map(get, features) if i is not None]

    def id_counts(self, id_lists: Sequence[list[int]]) -> sp.csr_matrix:
        """Raw feature counts from rows of vocabulary ids (``counts`` for ids already looked up)."""
        return self._csr(id_lists)

    def _csr(self, id_lists: Sequence[list[int]]) -> sp.csr_matrix:
        indptr = np.zeros(len(id_lists) + 1, dtype=np.int64)
        np.cumsum([len(x) for x in id_lists], out=indptr[1:])
        ind = np.fromiter((i for x in id_lists for i in x), dtype=np.int32, count=int(indptr[-1]))
        X = sp.csr_matrix((np.ones(len(ind), dtype=np.float32), ind, indptr), shape=(len(id_lists), self.n_features))
        X.sum_duplicates()
        return X

    def counts(self, feature_lists: Sequence[list[str]]) -> sp.csr_matrix:
        """Raw feature counts (unknown features are dropped)."""
        get = self.vocab.get
        indices: list[int] = []
        indptr = [0]
        for feats in feature_lists:
            indices.extend([i for i in map(get, feats) if i is not None])
            indptr.append(len(indices))
        ind = np.asarray(indices, dtype=np.int32)
        X = sp.csr_matrix(
            (np.ones(len(ind), dtype=np.float32), ind, np.asarray(indptr, dtype=np.int64)),
            shape=(len(feature_lists), self.n_features),
        )
        X.sum_duplicates()
        return X

    def weight(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """Sublinear tf * idf, then l2-normalise rows (returns a new matrix)."""
        data = (1.0 + np.log(counts.data.astype(np.float32))) * self.idf[counts.indices]
        indptr = counts.indptr
        lengths = np.diff(indptr)
        sq = np.zeros(len(lengths), dtype=np.float64)
        nz = lengths > 0
        if nz.any():
            sq[nz] = np.add.reduceat((data.astype(np.float64) ** 2), indptr[:-1][nz])
        norms = np.sqrt(sq)
        norms[norms == 0] = 1.0
        data = (data / np.repeat(norms, lengths)).astype(np.float32)
        return sp.csr_matrix((data, counts.indices.copy(), indptr.copy()), shape=counts.shape)

    def _score_one(self, text: str, normalized: str | None = None) -> np.ndarray:
        """Fast path for a single comment: no scipy, a handful of numpy calls."""
        ids = self._ids(text, normalized)
        if not ids:
            z = self.intercept
        else:
            u, c = np.unique(np.asarray(ids, dtype=np.int64), return_counts=True)
            v = (1.0 + np.log(c)) * self.idf[u]
            v /= np.sqrt(np.dot(v, v))
            z = v @ self.coef[u] + self.intercept
        return _sigmoid(self.calibration[:, 0] * z + self.calibration[:, 1])

    def transform(self, texts: Sequence[str], normalized: Sequence[str] | None = None) -> sp.csr_matrix:
        """Sparse features of the shared featurisation (tf-idf, l2 rows), one row per text.

        ``normalized``: ``normalize(text)`` of each text when the caller has it already (it is not redone).
        """
        norms: Sequence[str | None] = [None] * len(texts) if normalized is None else normalized
        return self.weight(self._csr([self._ids(t, n) for t, n in zip(texts, norms, strict=True)]))

    def decision(self, X: sp.csr_matrix) -> np.ndarray:
        return np.asarray(X @ self.coef, dtype=np.float64) + self.intercept

    def proba(self, X: sp.csr_matrix) -> np.ndarray:
        z = self.decision(X)
        return _sigmoid(self.calibration[:, 0] * z + self.calibration[:, 1])

    # -- public API -------------------------------------------------------------------------------------------
    def predict_scores(self, texts: Sequence[str], normalized: Sequence[str] | None = None) -> list[dict[str, float]]:
        """Calibrated probability per head for each text; one featurisation per batch for all heads.

        ``normalized``: ``normalize(text)`` of each text when the caller has it already (it is not redone).
        """
        if isinstance(texts, str):
            raise TypeError("predict_scores expects a sequence of texts, not a single string")
        if len(texts) == 0:
            return []
        if len(texts) == 1:
            one = self._score_one(texts[0], None if normalized is None else normalized[0])
            return [dict(zip(self.heads, map(float, one)))]
        P = self.proba(self.transform(texts, normalized))
        return [dict(zip(self.heads, map(float, row))) for row in P]

    def explain(self, text: str, head: str, top_k: int = 5, normalized: str | None = None) -> list[dict]:
        """Words/spans of the original text that pushed ``head`` up: ``[{"text", "weight"}]``, strongest first.

        ``weight`` is the contribution to the calibrated log-odds. Only positive contributions are returned.
        """
        return self.explain_heads(text, [head], top_k, normalized)[head]

    def explain_heads(self, text: str, heads: Sequence[str], top_k: int = 5,
                      normalized: str | None = None) -> dict[str, list[dict]]:
        """``explain`` for several heads of one text: the features and spans are worked out once for all."""
        return explain_heads(self, text, heads, top_k, normalized)

    def __repr__(self) -> str:
        return f"TextModel(heads={self.heads}, n_features={self.n_features})"
