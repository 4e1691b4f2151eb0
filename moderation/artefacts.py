"""Model artefacts on disk: data only (named arrays, JSON, a vocabulary), and a loader that verifies before parsing.

Layout of a models directory (``model_format`` 2)::

    models_dir/CURRENT                      text file holding the current version string (registry.py writes it)
    models_dir/<version>/manifest.json      version, model_format, sha256 of every file, thresholds, provenance
    models_dir/<version>/model.npz          the named arrays of FORMAT_ARRAYS[2] (numeric dtypes only)
    models_dir/<version>/model.json         {"heads": [...], "info": {...}}
    models_dir/<version>/vocab.txt          the vocabulary, one feature per line, line number = feature id

An artefact is data, never code: ``.npz`` is read with ``allow_pickle=False`` and only the declared names,
dtypes and shapes are accepted, so neither a tampered file nor a tampered manifest can run anything, and no
library version has to match the one that trained it. ``load_model`` still checks every file's sha256 (read
once into memory, then parsed from those very bytes) before parsing anything.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .features import Lexicons
from .model import MODEL_FORMAT, TextModel

MODEL_FILE = "model.npz"
META_FILE = "model.json"
VOCAB_FILE = "vocab.txt"
MANIFEST_FILE = "manifest.json"
CURRENT_FILE = "CURRENT"  # the version the service serves (one line)
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")


class ModelError(Exception):
    """Base class for model loading/scoring problems."""


class ModelNotFoundError(ModelError):
    """No CURRENT file, unknown version, or a missing artefact."""


class ModelIntegrityError(ModelError):
    """Hash mismatch, library-version mismatch, malformed manifest or unexpected object."""


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


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in blocks (training hashes its data sources with it too)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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
    current = models_dir / CURRENT_FILE
    if not current.is_file():
        raise ModelNotFoundError(f"{current} does not exist (no current model version)")
    text = read_current(models_dir)
    if not text:
        raise ModelNotFoundError(f"{current} is empty")
    return _check_version_name(text)


def read_current(models_dir: Path) -> str | None:
    """The version ``CURRENT`` points at (None: no pointer, or an empty one). ``registry`` writes it."""
    try:
        text = (Path(models_dir) / CURRENT_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text or None


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
            actual = sha256_file(path)
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
