"""Serving side of the text classifiers: ``TextModel``, its on-disk format (data only) and a verifying loader.

Layout of a models directory (``model_format`` 2)::

    models_dir/CURRENT                      text file holding the current version string
    models_dir/<version>/manifest.json      version, model_format, sha256 of every file, thresholds, provenance
    models_dir/<version>/model.npz          the named arrays of FORMAT_ARRAYS[2] (numeric dtypes only)
    models_dir/<version>/model.json         {"heads": [...], "info": {...}}
    models_dir/<version>/vocab.txt          the vocabulary, one feature per line, line number = feature id

An artefact is data, never code: ``.npz`` is read with ``allow_pickle=False`` and only the declared names,
dtypes and shapes are accepted, so neither a tampered file nor a tampered manifest can run anything, and no
library version has to match the one that trained it. ``load_model`` still checks every file's sha256 (read
once into memory, then parsed from those very bytes) before parsing anything. This module never imports
``training``, scikit-learn or joblib.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import unicodedata
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from .textnorm import _DELETE, _MARKS, _SPACED_RE, _UNIT_RE, _leet, char_normalize, normalize

__all__ = [
    "ModelError",
    "ModelNotFoundError",
    "ModelIntegrityError",
    "TextModel",
    "LoadedModel",
    "load_model",
    "list_versions",
    "read_manifest",
    "analyze",
    "MODEL_FILE",
    "MANIFEST_FILE",
    "META_FILE",
    "VOCAB_FILE",
    "MODEL_FORMAT",
    "ArraySpec",
    "FORMAT_ARRAYS",
    "save_arrays",
    "load_arrays",
    "model_files",
    "parse_model_files",
]

MODEL_FILE = "model.npz"
META_FILE = "model.json"
VOCAB_FILE = "vocab.txt"
MANIFEST_FILE = "manifest.json"
MODEL_FORMAT = 2
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")


class ModelError(Exception):
    """Base class for model loading/scoring problems."""


class ModelNotFoundError(ModelError):
    """No CURRENT file, unknown version, or a missing artefact."""


class ModelIntegrityError(ModelError):
    """Hash mismatch, library-version mismatch, malformed manifest or unexpected object."""


# --------------------------------------------------------------------------------------------------------------
# Featurisation: word 1-2 grams + character 2-5 grams within words, hashed into one space
# --------------------------------------------------------------------------------------------------------------

_WORD_RE = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def _word_features(words: list[str]) -> list[str]:
    feats = ["w " + w for w in words]
    feats += ["b " + a + " " + b for a, b in zip(words, words[1:])]
    return feats


def _char_features(chunk: str, lo: int = 3, hi: int = 5) -> list[str]:
    padded = " " + chunk[:40] + " "
    n = len(padded)
    if n <= lo:
        return [padded]
    return [padded[i : i + k] for k in range(lo, hi + 1) for i in range(n - k + 1)]


def analyze(normalized: str) -> list[str]:
    """Feature strings of an already-normalised text."""
    feats = _word_features(_WORD_RE.findall(normalized))
    for chunk in normalized.split():
        feats += _char_features(chunk)
    return feats


# --------------------------------------------------------------------------------------------------------------
# Evidence of obfuscation, on the raw text: the normaliser erases the strongest sign that a comment is an ad
# --------------------------------------------------------------------------------------------------------------

_ZERO_WIDTH = frozenset(map(chr, _DELETE))
_TOKEN_RE = re.compile(r"\S+")
_CAPS_RE = re.compile(r"(?<![A-Za-z])[A-Z]{3,}(?![a-z])")
_LETTER_DIGIT_RE = re.compile(r"(?=[^\W\d_]*\d)(?=\d*[^\W\d_])[^\W_]{3,}")
_HOMOGLYPH_SCRIPTS = ("GREEK", "CYRILLIC", "OLD ITALIC", "LYCIAN", "CARIAN", "COPTIC", "ARMENIAN", "CHEROKEE")
_BRAND_MORPHEME_RE = re.compile(r"[a-z]{2,}(?:toto|togel|slot|win|bet|poker|hoki|gacor|qq|play|jp|wd|casino|4d)"
                                r"|(?:slot|toto|togel|hoki|gacor)[a-z]{2,}")


# Indonesian reduplication written with a 2 ("anak2", "hati2nya") is not a brand
_REDUP_RE = re.compile(r"[a-z]+2(?:an|nya|in|kan|lah|an2)?")


@lru_cache(maxsize=8192)
def _char_kind(ch: str) -> int:
    """0 plain, 1 styled letter/digit (maths, full-width, enclosed, small capitals...), 2 look-alike script letter."""
    cp = ord(ch)
    if cp < 0x370:
        return 0
    name = unicodedata.name(ch, "")
    if cp < 0x2000 or 0x10280 <= cp < 0x10330:
        if name.startswith(_HOMOGLYPH_SCRIPTS) and char_normalize(ch).isascii():
            return 2
        return 1 if ("SMALL CAPITAL" in name or "MODIFIER LETTER" in name) else 0
    m = char_normalize(ch)
    return 1 if len(m) == 1 and m.isascii() and m.isalnum() else 0


def _levels(name: str, n: int, out: list[str]) -> None:
    if n >= 1:
        out.append("e " + name)
        if n >= 3:
            out.append("e " + name + ">=3")
            if n >= 10:
                out.append("e " + name + ">=10")


def evidence_features(text: str) -> list[str]:
    """Obfuscation evidence of the raw text as feature strings (``e <trick>`` with count levels)."""
    out: list[str] = []
    try:
        plain = text.isascii()
        styled = look = marks = zw = mixed = 0
        if not plain:
            for tok in _TOKEN_RE.findall(text):
                kinds = {_char_kind(c) for c in tok}
                if 1 in kinds or 2 in kinds:
                    n1 = sum(1 for c in tok if _char_kind(c) == 1)
                    styled += n1
                    look += sum(1 for c in tok if _char_kind(c) == 2)
                    if len(kinds) > 1 and any(c.isascii() and c.isalnum() for c in tok):
                        mixed += 1
            marks = sum(len(m) for m in _MARKS.findall(text))
            zw = sum(1 for c in text if c in _ZERO_WIDTH)
        letters = sum(1 for c in text if c.isalnum()) or 1
        _levels("styled", styled, out)
        if styled / letters >= 0.2:
            out.append("e styled_share>=.2")
            if styled / letters >= 0.5:
                out.append("e styled_share>=.5")
        _levels("lookalike", look, out)
        _levels("mixed_script", mixed, out)
        _levels("marks", marks, out)
        _levels("zero_width", zw, out)
        base = text if plain else char_normalize(text)
        _levels("caps", len(_CAPS_RE.findall(base)), out)
        low = base.lower()
        ld = [t for t in _LETTER_DIGIT_RE.findall(low) if not _UNIT_RE.fullmatch(t)]
        _levels("letter_digit", len(ld), out)
        _levels("leet", sum(1 for t in ld if _leet(t) != t), out)
        _levels("spaced", len(_SPACED_RE.findall(low)), out)
    except Exception:  # noqa: BLE001 - evidence is best effort; the text features remain
        return out
    return out


def is_brand_shaped(token: str) -> bool:
    """A normalised token shaped like a gambling brand: letters with digits ("gacor88"), or a brand morpheme."""
    if len(token) < 4 or token.isdigit():
        return False
    if _LETTER_DIGIT_RE.fullmatch(token):
        return not (_UNIT_RE.fullmatch(token) or _REDUP_RE.fullmatch(token))
    return bool(_BRAND_MORPHEME_RE.fullmatch(token))


@dataclass(frozen=True)
class Lexicons:
    """Word lists that add features: brand-shaped tokens common in normal comments (no brand indicator for
    those), an abusive-word lexicon (``e abusive_lexicon``) and a slang -> formal map (``s <formal>``)."""

    common_tokens: frozenset[str] = frozenset()
    abusive: frozenset[str] = frozenset()
    slang: dict[str, str] = field(default_factory=dict)
    evidence: bool = True
    brand_indicator: bool = True

    def chunk_extras(self, chunk: str) -> list[str]:
        out: list[str] = []
        for tok in _WORD_RE.findall(chunk):
            if self.brand_indicator and is_brand_shaped(tok) and tok not in self.common_tokens:
                out.append("e brand")
            formal = self.slang.get(tok)
            if formal:
                out.extend("s " + f for f in formal.split())
            if tok in self.abusive or (formal and formal in self.abusive):
                out.append("e abusive_lexicon")
        return out


def text_features(text: str, lexicons: Lexicons) -> list[str]:
    """Every feature string of a raw text (training uses this; serving has the cached equivalent in TextModel)."""
    norm = normalize(text)
    feats = analyze(norm)
    for chunk in norm.split():
        feats += lexicons.chunk_extras(chunk)
    return feats + evidence_features(text) if lexicons.evidence else feats


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
        extras = self.lexicons.chunk_extras
        cache = self.__dict__.get("_chunk_cache")
        if cache is None:
            cache = self.__dict__["_chunk_cache"] = {}
        toks = _WORD_RE.findall(normalized)
        ids = [i for i in map(get, ["w " + t for t in toks]) if i is not None]
        if len(toks) > 1:
            ids += [i for i in map(get, ["b " + a + " " + b for a, b in zip(toks, toks[1:])]) if i is not None]
        for chunk in normalized.split():
            c = cache.get(chunk)
            if c is None:
                c = [i for i in map(get, _char_features(chunk) + extras(chunk)) if i is not None]
                if len(cache) >= _CACHE_MAX:
                    cache.clear()
                cache[chunk] = c
            ids += c
        if self.lexicons.evidence:
            ids += [i for i in map(get, evidence_features(text)) if i is not None]
        return ids

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
        for head in heads:
            if head not in self.heads:
                raise KeyError(f"unknown head {head!r}; heads are {self.heads}")
        out: dict[str, list[dict]] = {head: [] for head in heads}
        norm = normalize(text) if normalized is None else normalized
        words = norm.split()
        if not words or not heads:
            return out
        tokens = [_WORD_RE.findall(w) for w in words]
        flat = [t for toks in tokens for t in toks]
        owner = [i for i, toks in enumerate(tokens) for _ in toks]
        extras = self.lexicons.chunk_extras
        per_word: list[list[str]] = [
            _char_features(w) + extras(w) + ["w " + t for t in tokens[i]] for i, w in enumerate(words)
        ]
        bigrams = ["b " + a + " " + b for a, b in zip(flat, flat[1:])]
        # the text-level evidence row counts in the vector norm; its share goes to the words written non-ASCII
        rows = per_word + [[b] for b in bigrams] + [evidence_features(text) if self.lexicons.evidence else []]
        C = self.counts(rows).tocoo()  # (n_words + n_bigrams, n_features) raw counts
        if C.nnz == 0:
            return out
        u, inv = np.unique(C.col, return_inverse=True)
        tf = np.bincount(inv, weights=C.data)  # counts of each feature in the whole text
        xv = (1.0 + np.log(tf)) * self.idf[u]
        xv /= np.sqrt(np.dot(xv, xv))
        spans: list[str | None] | None = None
        styled: list[int] = []
        for head in heads:
            h = self.heads.index(head)
            slope = float(self.calibration[h, 0])
            if slope == 0.0:
                continue
            per_count = xv * self.coef[u, h] / tf  # contribution of one occurrence of each feature
            share = C.data * per_count[inv]
            row_score = np.bincount(C.row, weights=share, minlength=C.shape[0]) * slope
            word_score = row_score[: len(words)].copy()
            for j in range(len(bigrams)):
                s = row_score[len(words) + j] / 2.0
                word_score[owner[j]] += s
                word_score[owner[j + 1]] += s
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

    def __repr__(self) -> str:
        return f"TextModel(heads={self.heads}, n_features={self.n_features})"


def _align(text: str, words: list[str]) -> list[str | None]:
    """Map each word of normalize(text) to the span of the original text that produced it (best effort)."""
    chunks = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    out: list[str | None] = [None] * len(words)
    i = j = 0
    try:
        while i < len(words) and j < len(chunks):
            s0, e0 = chunks[j]
            cand = normalize(text[s0:e0]).split()
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
                run = normalize(text[s0 : chunks[k][1]]).split()
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


# --------------------------------------------------------------------------------------------------------------
# The artefact format: named arrays (.npz), JSON and a vocabulary text file; no pickle anywhere
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArraySpec:
    """One array a format stores: its name in the ``.npz``, its exact dtype and its number of dimensions."""

    name: str
    dtype: str
    ndim: int


# The arrays of each model_format, checked by name, dtype and ndim on load (shapes are checked against the
# vocabulary and heads by parse_model_files). To store more arrays (e.g. another feature block), declare a
# new format here and in _FORMAT_FILES, write it in model_files and check its shapes in parse_model_files;
# loading refuses any array a format does not declare, and any format not declared here.
FORMAT_ARRAYS: dict[int, tuple[ArraySpec, ...]] = {
    2: (
        ArraySpec("idf", "float32", 1),  # (n_features,)
        ArraySpec("coef", "float32", 2),  # (n_features, n_heads)
        ArraySpec("intercept", "float64", 1),  # (n_heads,)
        ArraySpec("calibration", "float64", 2),  # (n_heads, 2): Platt slope a and offset c
    ),
}
_FORMAT_FILES: dict[int, tuple[str, ...]] = {2: (MODEL_FILE, META_FILE, VOCAB_FILE)}
_ZIP_MAGIC = b"PK\x03\x04"
_MAX_ARRAY_BYTES = 2 << 30  # uncompressed, all arrays together: far above any model we train
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same arrays always give the same bytes (and sha256)


def _check_array(spec: ArraySpec, arr: np.ndarray) -> None:
    if arr.dtype != np.dtype(spec.dtype) or arr.ndim != spec.ndim:
        raise ModelIntegrityError(
            f"array {spec.name!r} is {arr.dtype}[{arr.ndim}-d], expected {spec.dtype}[{spec.ndim}-d]"
        )
    if not np.isfinite(arr).all():
        raise ModelIntegrityError(f"array {spec.name!r} holds NaN or infinite values")


def save_arrays(arrays: Mapping[str, np.ndarray], specs: Sequence[ArraySpec]) -> bytes:
    """Exactly the declared arrays as deterministic ``.npz`` bytes (compressed, never pickled)."""
    names = [spec.name for spec in specs]
    if set(arrays) != set(names):
        raise ValueError(f"arrays {sorted(arrays)} do not match the declared {names}")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for spec in specs:
            arr = np.ascontiguousarray(arrays[spec.name])
            _check_array(spec, arr)
            info = zipfile.ZipInfo(spec.name + ".npy", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, arr, allow_pickle=False)
    return buf.getvalue()


def load_arrays(data: bytes, specs: Sequence[ArraySpec]) -> dict[str, np.ndarray]:
    """Parse ``.npz`` bytes holding exactly the declared arrays; anything else (objects, extra names) is refused."""
    # np.load would also accept a bare .npy or a pickle; only a zip is an .npz.
    if not data.startswith(_ZIP_MAGIC):
        raise ModelIntegrityError(f"{MODEL_FILE} is not an .npz (zip) file")
    names = [spec.name for spec in specs]
    out: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            if sum(info.file_size for info in zf.infolist()) > _MAX_ARRAY_BYTES:
                raise ModelIntegrityError(f"{MODEL_FILE} unpacks to more than {_MAX_ARRAY_BYTES} bytes")
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            if sorted(npz.files) != sorted(names):
                raise ModelIntegrityError(f"{MODEL_FILE} holds {sorted(npz.files)}, expected {sorted(names)}")
            for spec in specs:
                out[spec.name] = npz[spec.name]
    except ModelIntegrityError:
        raise
    except (ValueError, OSError, EOFError, KeyError, MemoryError, zipfile.BadZipFile) as exc:
        # allow_pickle=False turns an object array into ValueError instead of running its pickle
        raise ModelIntegrityError(f"{MODEL_FILE} could not be read: {exc}") from exc
    for spec in specs:
        _check_array(spec, out[spec.name])
    return out


def model_files(model: TextModel) -> dict[str, bytes]:
    """The files of ``model`` in the current format, by name (``training.export`` writes and hashes them)."""
    keys = sorted(model.vocab, key=model.vocab.__getitem__)
    if [model.vocab[k] for k in keys] != list(range(len(keys))):
        raise ValueError("vocabulary ids must be exactly 0..n-1")
    if any(not k or "\n" in k for k in keys):
        raise ValueError("vocabulary entries must be non-empty and hold no newline")
    arrays: dict[str, np.ndarray] = {
        "idf": model.idf, "coef": model.coef, "intercept": model.intercept, "calibration": model.calibration
    }
    lx = model.lexicons
    meta = {"heads": list(model.heads), "info": model.info,
            "lexicons": {"evidence": lx.evidence, "brand_indicator": lx.brand_indicator,
                         "common_tokens": sorted(lx.common_tokens), "abusive": sorted(lx.abusive),
                         "slang": dict(sorted(lx.slang.items()))}}
    return {
        MODEL_FILE: save_arrays(arrays, FORMAT_ARRAYS[MODEL_FORMAT]),
        META_FILE: (json.dumps(meta, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"),
        VOCAB_FILE: "".join(k + "\n" for k in keys).encode("utf-8"),
    }


def parse_model_files(files: Mapping[str, bytes], model_format: int = MODEL_FORMAT) -> TextModel:
    """Build a TextModel from the bytes of its files, checking every name, type and shape on the way."""
    if model_format not in FORMAT_ARRAYS:
        raise ModelIntegrityError(f"unsupported model_format {model_format!r}")
    try:
        meta = json.loads(files[META_FILE].decode("utf-8"))
        vocab_text = files[VOCAB_FILE].decode("utf-8")
    except KeyError as exc:
        raise ModelIntegrityError(f"artefact file {exc} is missing") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelIntegrityError(f"malformed {META_FILE} or {VOCAB_FILE}: {exc}") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("info", {}), dict):
        raise ModelIntegrityError(f"{META_FILE} must be an object with an 'info' object")
    heads = meta.get("heads")
    if (not isinstance(heads, list) or not heads or len(set(heads)) != len(heads)
            or not all(isinstance(h, str) and h for h in heads)):
        raise ModelIntegrityError(f"{META_FILE}: 'heads' must be a list of distinct non-empty names")
    if vocab_text and not vocab_text.endswith("\n"):
        raise ModelIntegrityError(f"{VOCAB_FILE} does not end with a newline (truncated?)")
    words = vocab_text.split("\n")[:-1]
    vocab = dict(zip(words, range(len(words))))
    if len(vocab) != len(words) or "" in vocab:
        raise ModelIntegrityError(f"{VOCAB_FILE} holds empty or repeated entries")
    a = load_arrays(files.get(MODEL_FILE, b""), FORMAT_ARRAYS[model_format])
    n, h = len(words), len(heads)
    want = {"idf": (n,), "coef": (n, h), "intercept": (h,), "calibration": (h, 2)}
    for name, shape in want.items():
        if a[name].shape != shape:
            raise ModelIntegrityError(f"array {name!r} has shape {a[name].shape}, expected {shape}")
    return TextModel(heads, vocab, a["idf"], a["coef"], a["intercept"], a["calibration"], info=meta.get("info"),
                     lexicons=_parse_lexicons(meta.get("lexicons")))


def _parse_lexicons(raw: object) -> Lexicons:
    """The word lists of ``model.json`` (absent in models before 2026.12.02: no evidence or lexicon features)."""
    if raw is None:
        return Lexicons(evidence=False, brand_indicator=False)
    ok = isinstance(raw, dict) and isinstance(raw.get("evidence"), bool) and isinstance(raw.get("brand_indicator"), bool)
    lists = [raw.get(k) for k in ("common_tokens", "abusive")] if isinstance(raw, dict) else []
    ok = ok and all(isinstance(v, list) and all(isinstance(w, str) for w in v) for v in lists)
    slang = raw.get("slang") if isinstance(raw, dict) else None
    ok = ok and isinstance(slang, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in slang.items())
    if not ok:
        raise ModelIntegrityError(f"{META_FILE}: 'lexicons' must hold evidence/brand_indicator booleans, "
                                  "common_tokens/abusive lists of strings and a slang object of strings")
    assert isinstance(raw, dict) and isinstance(slang, dict)
    return Lexicons(frozenset(raw["common_tokens"]), frozenset(raw["abusive"]), dict(slang),
                    raw["evidence"], raw["brand_indicator"])


# --------------------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedModel:
    version: str
    model: TextModel
    thresholds: dict[str, float]
    manifest: dict


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def list_versions(models_dir: Path) -> list[str]:
    """Versions present in ``models_dir`` (directories with a manifest), oldest first."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return []
    return sorted(p.name for p in models_dir.iterdir() if p.is_dir() and (p / MANIFEST_FILE).is_file())


def _check_version_name(version: str) -> str:
    version = version.strip()
    if not _VERSION_RE.match(version) or version in {".", ".."}:
        raise ModelNotFoundError(f"invalid model version {version!r}")
    return version


def read_manifest(models_dir: Path, version: str) -> dict:
    version = _check_version_name(version)
    path = Path(models_dir) / version / MANIFEST_FILE
    if not path.is_file():
        raise ModelNotFoundError(f"no manifest for model version {version!r} in {models_dir}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelIntegrityError(f"malformed manifest {path}: {exc}") from exc
    if not isinstance(manifest, dict):
        raise ModelIntegrityError(f"malformed manifest {path}: not an object")
    return manifest


def _resolve_version(models_dir: Path, version: str | None) -> str:
    if version:
        return _check_version_name(version)
    current = models_dir / "CURRENT"
    if not current.is_file():
        raise ModelNotFoundError(f"{current} does not exist (no current model version)")
    text = current.read_text(encoding="utf-8").strip()
    if not text:
        raise ModelNotFoundError(f"{current} is empty")
    return _check_version_name(text)


def _check_manifest(version: str, manifest: dict) -> tuple[int, dict[str, float]]:
    """The manifest's model_format and thresholds, once its version, format and file list make sense."""
    if manifest.get("version") != version:
        raise ModelIntegrityError(f"manifest version {manifest.get('version')!r} != directory {version!r}")
    fmt = manifest.get("model_format")
    if fmt == 1:
        raise ModelIntegrityError(
            f"model {version} is model_format 1 (a joblib pickle), which is no longer loaded; "
            "convert it with `python -m training convert`"
        )
    if isinstance(fmt, bool) or fmt not in FORMAT_ARRAYS:
        raise ModelIntegrityError(f"model {version} has unsupported model_format {fmt!r}")
    files = manifest.get("files")
    missing = [f for f in _FORMAT_FILES[fmt] if not isinstance(files, dict) or f not in files]
    if missing:
        raise ModelIntegrityError(f"manifest of {version} does not list {', '.join(missing)}")
    thresholds = manifest.get("thresholds", {})
    if not isinstance(thresholds, dict):
        raise ModelIntegrityError(f"manifest of {version}: thresholds must be an object")
    out: dict[str, float] = {}
    for head, t in thresholds.items():
        if not isinstance(t, (int, float)) or isinstance(t, bool) or not (0.0 <= float(t) <= 1.0) or math.isnan(t):
            raise ModelIntegrityError(f"manifest of {version}: bad threshold for {head!r}: {t!r}")
        out[str(head)] = float(t)
    return fmt, out


def _read_verified(models_dir: Path, version: str, manifest: dict, fmt: int) -> dict[str, bytes]:
    """Check the sha256 of every listed file; return the bytes of the format's files, read once.

    The bytes that were hashed are the bytes that get parsed, so a file swapped after the check is never read.
    """
    blobs: dict[str, bytes] = {}
    for name, meta in manifest["files"].items():
        if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith("."):
            raise ModelIntegrityError(f"manifest of {version} lists a bad file name {name!r}")
        expected = meta.get("sha256") if isinstance(meta, dict) else meta
        if not isinstance(expected, str) or len(expected) != 64:
            raise ModelIntegrityError(f"manifest of {version}: no sha256 for {name}")
        path = models_dir / version / name
        if not path.is_file():
            raise ModelNotFoundError(f"model file {path} is missing")
        if name in _FORMAT_FILES[fmt]:
            data = path.read_bytes()
            actual = hashlib.sha256(data).hexdigest()
            blobs[name] = data
        else:
            actual = _sha256(path)
        if actual != expected:
            raise ModelIntegrityError(f"sha256 mismatch for {path}: manifest {expected[:12]}…, file {actual[:12]}…")
    return blobs


def load_model(models_dir: Path, version: str | None = None) -> LoadedModel:
    """Resolve a version, check its manifest and the sha256 of every file, and only then parse the files."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        raise ModelNotFoundError(f"models directory {models_dir} does not exist")
    version = _resolve_version(models_dir, version)
    manifest = read_manifest(models_dir, version)
    fmt, thresholds = _check_manifest(version, manifest)
    blobs = _read_verified(models_dir, version, manifest, fmt)
    try:
        model = parse_model_files(blobs, fmt)
    except ModelIntegrityError as exc:
        raise ModelIntegrityError(f"model {version}: {exc}") from exc
    heads = manifest.get("heads")
    if heads is not None and (not isinstance(heads, list) or tuple(heads) != model.heads):
        raise ModelIntegrityError(f"model {version}: manifest heads {heads} != model heads {model.heads}")
    for head in model.heads:
        thresholds.setdefault(head, 0.5)
    return LoadedModel(version=version, model=model, thresholds=thresholds, manifest=manifest)
