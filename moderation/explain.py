"""Explanations: which words of a comment pushed a head's score up (what the moderator page highlights).

Works on any linear model over the shared featurisation (``Explainable``): each feature's share of the
calibrated log-odds is spread over the words (and spans of the original text) it came from.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp

from .features import _WORD_RE, Lexicons, evidence_features
from .textnorm import normalize


class Explainable(Protocol):
    """What an explanation needs of a model: its heads, weights, calibration, lexicons and raw counts."""

    heads: tuple[str, ...]
    idf: np.ndarray
    coef: np.ndarray
    calibration: np.ndarray
    lexicons: Lexicons

    def chunk_ids(self, chunk: str) -> list[int]: ...

    def feature_ids(self, features: Sequence[str]) -> list[int]: ...

    def id_counts(self, id_lists: Sequence[list[int]]) -> sp.csr_matrix: ...


def explain_heads(model: Explainable, text: str, heads: Sequence[str], top_k: int = 5,
                  normalized: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """For each head, the words/spans of the original text that pushed it up: ``[{"text", "weight"}]``, strongest
    first. ``weight`` is the contribution to the calibrated log-odds; only positive contributions are returned.
    The features and spans are worked out once for all heads."""
    for head in heads:
        if head not in model.heads:
            raise KeyError(f"unknown head {head!r}; heads are {model.heads}")
    out: dict[str, list[dict]] = {head: [] for head in heads}
    norm = normalize(text) if normalized is None else normalized
    words = norm.split()
    if not words or not heads:
        return out
    tokens = [_WORD_RE.findall(w) for w in words]
    flat = [t for toks in tokens for t in toks]
    owner = [i for i, toks in enumerate(tokens) for _ in toks]
    # Each word's row: its character n-grams and lexicon extras (the ids scoring cached for that word) and
    # its word tokens. Working in ids, not feature strings, spares an explanation most of its cost.
    ids = model.feature_ids
    per_word = [model.chunk_ids(w) + ids(["w " + t for t in tokens[i]]) for i, w in enumerate(words)]
    bigrams = ["b " + a + " " + b for a, b in zip(flat, flat[1:])]
    # the text-level evidence row counts in the vector norm; its share goes to the words written non-ASCII
    rows = per_word + [ids([b]) for b in bigrams] + [ids(evidence_features(text)) if model.lexicons.evidence else []]
    C = model.id_counts(rows).tocoo()  # (n_words + n_bigrams, n_features) raw counts
    if C.nnz == 0:
        return out
    u, inv = np.unique(C.col, return_inverse=True)
    tf = np.bincount(inv, weights=C.data)  # counts of each feature in the whole text
    xv = (1.0 + np.log(tf)) * model.idf[u]
    xv /= np.sqrt(np.dot(xv, xv))
    owner_left, owner_right = np.asarray(owner[:-1], dtype=np.intp), np.asarray(owner[1:], dtype=np.intp)
    spans: list[str | None] | None = None
    styled: list[int] = []
    for head in heads:
        h = model.heads.index(head)
        slope = float(model.calibration[h, 0])
        if slope == 0.0:
            continue
        per_count = xv * model.coef[u, h] / tf  # contribution of one occurrence of each feature
        share = C.data * per_count[inv]
        row_score = np.bincount(C.row, weights=share, minlength=C.shape[0]) * slope
        word_score = row_score[: len(words)].copy()
        if bigrams:  # half of each bigram's share to each of its two words
            half = row_score[len(words) : len(words) + len(bigrams)] / 2.0
            np.add.at(word_score, owner_left, half)
            np.add.at(word_score, owner_right, half)
        if spans is None:
            spans = _align(text, words)
            styled = [i for i, sp_ in enumerate(spans) if sp_ is not None and not sp_.isascii()]
        for i in styled:  # the evidence row's share goes to the words written non-ASCII
            word_score[i] += row_score[-1] / len(styled)
        merged: dict[str, float] = {}
        for i, w in enumerate(words):
            if word_score[i] <= 0:
                continue
            key = spans[i] or w
            merged[key] = merged.get(key, 0.0) + float(word_score[i])
        ranked = sorted(merged.items(), key=lambda kv: -kv[1])[: max(0, int(top_k))]
        out[head] = [{"text": k, "weight": round(v, 4)} for k, v in ranked]
    return out


# _align normalises every chunk of a held comment again, and chunks (words) repeat across comments: the
# profile put those calls at a third of an explanation. normalize is pure, so a bounded cache is safe.
_normalize_chunk = functools.lru_cache(maxsize=20_000)(normalize)


def _align(text: str, words: list[str]) -> list[str | None]:
    """Map each word of normalize(text) to the span of the original text that produced it (best effort)."""
    chunks = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    out: list[str | None] = [None] * len(words)
    i = j = 0
    try:
        while i < len(words) and j < len(chunks):
            s0, e0 = chunks[j]
            cand = _normalize_chunk(text[s0:e0]).split()
            if cand and cand == words[i : i + len(cand)]:
                for k in range(len(cand)):
                    out[i + k] = text[s0:e0].strip(".,!?;:\"'()")  or text[s0:e0]
                i += len(cand)
                j += 1
                continue
            if not cand:
                j += 1
                continue
            # spaced-out letters etc.: find the smallest run of chunks that normalises to this word
            for k in range(j + 1, min(j + 40, len(chunks))):
                run = _normalize_chunk(text[s0 : chunks[k][1]]).split()
                if run and run[0] == words[i] and len(run) == 1:
                    out[i] = text[s0 : chunks[k][1]]
                    i += 1
                    j = k + 1
                    break
            else:
                # a chunk that expands to several words (e.g. "✌ALEXIS17✌"): partial match
                if cand and words[i] in cand:
                    out[i] = text[s0:e0]
                    i += 1
                    if words[i - 1] == cand[-1]:
                        j += 1
                else:
                    j += 1
    except Exception:  # noqa: BLE001 - explanations are best effort
        pass
    return out
