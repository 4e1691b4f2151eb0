"""Serving side of the text classifiers: the pickled ``TextModel`` and a verifying loader.

Layout of a models directory::

    models_dir/CURRENT                      text file holding the current version string
    models_dir/<version>/manifest.json      version, sha256 of every file, library versions, thresholds, ...
    models_dir/<version>/model.joblib       a pickled TextModel

``load_model`` checks the manifest (file hashes, scikit-learn/numpy versions) *before* unpickling, because joblib
files run code when loaded. This module never imports ``training``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from .textnorm import normalize

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
]

MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"
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
    """Feature strings of an already-normalised text (module-level so pickles refer to it by name)."""
    feats = _word_features(_WORD_RE.findall(normalized))
    for chunk in normalized.split():
        feats += _char_features(chunk)
    return feats


_CACHE_MAX = 100_000  # words whose char n-gram ids are cached (per process)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0)))


class TextModel:
    """Shared hashed n-gram featurisation + one calibrated linear head per label.

    score(head) = sigmoid(a_h * (x · w_h + b_h) + c_h), where x is the sublinear-tf, idf-weighted, l2-normalised
    feature vector of ``normalize(text)`` and (a_h, c_h) is a Platt calibration fitted on out-of-fold
    decision values.
    """

    format_version = 1

    def __init__(
        self,
        heads: Sequence[str],
        vocab: dict[str, int],
        idf: np.ndarray,
        coef: np.ndarray,
        intercept: np.ndarray,
        calibration: np.ndarray,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.heads: tuple[str, ...] = tuple(heads)
        self.vocab = vocab
        self.n_features = len(vocab)
        self.idf = np.asarray(idf, dtype=np.float32)
        self.coef = np.asarray(coef, dtype=np.float32)  # (n_features, n_heads)
        self.intercept = np.asarray(intercept, dtype=np.float64)  # (n_heads,)
        self.calibration = np.asarray(calibration, dtype=np.float64)  # (n_heads, 2): a, c
        self.info = dict(info or {})

    # -- pickling: the vocabulary is stored as one joined string (fast to unpickle, small) ---------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_chunk_cache", None)
        keys = sorted(self.vocab, key=self.vocab.__getitem__)
        if any("\x00" in k for k in keys):
            raise ValueError("vocabulary entries must not contain NUL")
        state["vocab"] = "\x00".join(keys)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        vocab = state.get("vocab", "")
        if isinstance(vocab, str):
            keys = vocab.split("\x00") if vocab else []
            state["vocab"] = dict(zip(keys, range(len(keys))))
        self.__dict__.update(state)

    def _ids(self, normalized: str) -> list[int]:
        """Vocabulary ids of ``analyze(normalized)`` (same multiset), with char n-grams cached per word."""
        get = self.vocab.get
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
                c = [i for i in map(get, _char_features(chunk)) if i is not None]
                if len(cache) >= _CACHE_MAX:
                    cache.clear()
                cache[chunk] = c
            ids += c
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

    def _score_one(self, text: str) -> np.ndarray:
        """Fast path for a single comment: no scipy, a handful of numpy calls."""
        ids = self._ids(normalize(text))
        if not ids:
            z = self.intercept
        else:
            u, c = np.unique(np.asarray(ids, dtype=np.int64), return_counts=True)
            v = (1.0 + np.log(c)) * self.idf[u]
            v /= np.sqrt(np.dot(v, v))
            z = v @ self.coef[u] + self.intercept
        return _sigmoid(self.calibration[:, 0] * z + self.calibration[:, 1])

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self.weight(self._csr([self._ids(normalize(t)) for t in texts]))

    def decision(self, X: sp.csr_matrix) -> np.ndarray:
        return np.asarray(X @ self.coef, dtype=np.float64) + self.intercept

    def proba(self, X: sp.csr_matrix) -> np.ndarray:
        z = self.decision(X)
        return _sigmoid(self.calibration[:, 0] * z + self.calibration[:, 1])

    # -- public API -------------------------------------------------------------------------------------------
    def predict_scores(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Calibrated probability per head for each text; one featurisation per batch for all heads."""
        if isinstance(texts, str):
            raise TypeError("predict_scores expects a sequence of texts, not a single string")
        if len(texts) == 0:
            return []
        if len(texts) == 1:
            return [dict(zip(self.heads, map(float, self._score_one(texts[0]))))]
        P = self.proba(self.transform(texts))
        return [dict(zip(self.heads, map(float, row))) for row in P]

    def explain(self, text: str, head: str, top_k: int = 5) -> list[dict]:
        """Words/spans of the original text that pushed ``head`` up: ``[{"text", "weight"}]``, strongest first.

        ``weight`` is the contribution to the calibrated log-odds. Only positive contributions are returned.
        """
        if head not in self.heads:
            raise KeyError(f"unknown head {head!r}; heads are {self.heads}")
        h = self.heads.index(head)
        slope = float(self.calibration[h, 0])
        norm = normalize(text)
        words = norm.split()
        if not words or slope == 0.0:
            return []
        tokens = [_WORD_RE.findall(w) for w in words]
        flat = [t for toks in tokens for t in toks]
        owner = [i for i, toks in enumerate(tokens) for _ in toks]
        per_word: list[list[str]] = [_char_features(w) + ["w " + t for t in tokens[i]] for i, w in enumerate(words)]
        bigrams = ["b " + a + " " + b for a, b in zip(flat, flat[1:])]
        rows = per_word + [[b] for b in bigrams]
        C = self.counts(rows).tocoo()  # (n_words + n_bigrams, n_features) raw counts
        if C.nnz == 0:
            return []
        u, inv = np.unique(C.col, return_inverse=True)
        tf = np.bincount(inv, weights=C.data)  # counts of each feature in the whole text
        xv = (1.0 + np.log(tf)) * self.idf[u]
        xv /= np.sqrt(np.dot(xv, xv))
        per_count = xv * self.coef[u, h] / tf  # contribution of one occurrence of each feature
        share = C.data * per_count[inv]
        row_score = np.bincount(C.row, weights=share, minlength=C.shape[0]) * slope
        word_score = row_score[: len(words)].copy()
        for j in range(len(bigrams)):
            s = row_score[len(words) + j] / 2.0
            word_score[owner[j]] += s
            word_score[owner[j + 1]] += s
        spans = _align(text, words)
        merged: dict[str, float] = {}
        for i, w in enumerate(words):
            if word_score[i] <= 0:
                continue
            key = spans[i] or w
            merged[key] = merged.get(key, 0.0) + float(word_score[i])
        out = sorted(merged.items(), key=lambda kv: -kv[1])[: max(0, int(top_k))]
        return [{"text": k, "weight": round(v, 4)} for k, v in out]

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


def _major_minor(v: str) -> tuple[int, ...]:
    parts = re.findall(r"\d+", v)[:2]
    return tuple(int(p) for p in parts)


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


def _installed(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version as _v

    try:
        return _v(dist)
    except PackageNotFoundError:
        return "not installed"


def _verify(models_dir: Path, version: str, manifest: dict) -> dict[str, float]:
    if manifest.get("version") != version:
        raise ModelIntegrityError(f"manifest version {manifest.get('version')!r} != directory {version!r}")
    files = manifest.get("files")
    if not isinstance(files, dict) or MODEL_FILE not in files:
        raise ModelIntegrityError(f"manifest of {version} does not list {MODEL_FILE}")
    for name, meta in files.items():
        if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith("."):
            raise ModelIntegrityError(f"manifest of {version} lists a bad file name {name!r}")
        expected = meta.get("sha256") if isinstance(meta, dict) else meta
        if not isinstance(expected, str) or len(expected) != 64:
            raise ModelIntegrityError(f"manifest of {version}: no sha256 for {name}")
        path = models_dir / version / name
        if not path.is_file():
            raise ModelNotFoundError(f"model file {path} is missing")
        actual = _sha256(path)
        if actual != expected:
            raise ModelIntegrityError(f"sha256 mismatch for {path}: manifest {expected[:12]}…, file {actual[:12]}…")
    libs = manifest.get("libraries")
    if not isinstance(libs, dict):
        raise ModelIntegrityError(f"manifest of {version} has no 'libraries' section")
    want_skl, want_np = libs.get("scikit-learn"), libs.get("numpy")
    have_skl = _installed("scikit-learn")
    if not isinstance(want_skl, str) or _major_minor(want_skl) != _major_minor(have_skl):
        raise ModelIntegrityError(f"model {version} was built with scikit-learn {want_skl}, installed is {have_skl}")
    if not isinstance(want_np, str) or _major_minor(want_np)[:1] != _major_minor(np.__version__)[:1]:
        raise ModelIntegrityError(f"model {version} was built with numpy {want_np}, installed is {np.__version__}")
    if manifest.get("model_format") not in (None, TextModel.format_version):
        raise ModelIntegrityError(f"model {version} has unsupported model_format {manifest.get('model_format')!r}")
    thresholds = manifest.get("thresholds", {})
    if not isinstance(thresholds, dict):
        raise ModelIntegrityError(f"manifest of {version}: thresholds must be an object")
    out: dict[str, float] = {}
    for head, t in thresholds.items():
        if not isinstance(t, (int, float)) or isinstance(t, bool) or not (0.0 <= float(t) <= 1.0) or math.isnan(t):
            raise ModelIntegrityError(f"manifest of {version}: bad threshold for {head!r}: {t!r}")
        out[str(head)] = float(t)
    return out


def load_model(models_dir: Path, version: str | None = None) -> LoadedModel:
    """Resolve, verify (hashes + library versions) and only then unpickle a model version."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        raise ModelNotFoundError(f"models directory {models_dir} does not exist")
    version = _resolve_version(models_dir, version)
    manifest = read_manifest(models_dir, version)
    thresholds = _verify(models_dir, version, manifest)

    import joblib

    path = models_dir / version / MODEL_FILE
    try:
        # sklearn's InconsistentVersionWarning (raised when a pickled estimator comes from another version) is
        # matched by name so that serving does not have to import scikit-learn.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            obj = joblib.load(path)
    except Exception as exc:  # corrupt pickle despite a matching hash, missing class, ...
        raise ModelIntegrityError(f"model {version} could not be loaded: {exc!r}") from exc
    for w in caught:
        if w.category.__name__ == "InconsistentVersionWarning":
            raise ModelIntegrityError(f"model {version}: {w.message}")
    for w in caught:  # anything else is passed on unchanged
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if not isinstance(obj, TextModel):
        raise ModelIntegrityError(f"model {version}: {MODEL_FILE} holds {type(obj).__name__}, not TextModel")
    heads = manifest.get("heads")
    if heads is not None and tuple(heads) != obj.heads:
        raise ModelIntegrityError(f"model {version}: manifest heads {heads} != model heads {obj.heads}")
    for head in obj.heads:
        thresholds.setdefault(head, 0.5)
    return LoadedModel(version=version, model=obj, thresholds=thresholds, manifest=manifest)
