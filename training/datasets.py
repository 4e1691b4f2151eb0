"""One adapter per dataset folder of the shared data root -> a common schema.

Every adapter takes the dataset folder (``data_root / <name>``) and returns a ``Loaded`` with ``Record`` rows
(text, language, source, kind, labels, weight) plus the sha256 of every file read. Labels use the heads
``spam``, ``toxic``, ``gambling``, ``abusive``, ``hate_speech``; ``None`` means unknown for that head.
"""

from __future__ import annotations

import html
import json
import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from moderation.artefacts import sha256_file
from moderation.textnorm import normalize

HEADS = ("spam", "toxic", "gambling", "abusive", "hate_speech")


@dataclass
class Record:
    text: str
    language: str
    source: str
    kind: str  # comment | tweet | sms | livechat
    labels: dict[str, int | None]
    weight: float = 1.0
    sources: set[str] = field(default_factory=set)
    norm: str = ""
    group: str = ""


@dataclass
class Loaded:
    name: str
    records: list[Record]
    files: dict[str, str]  # relative path -> sha256
    licence: str
    lexicon: list | None = None


def _labels(**kw: int | None) -> dict[str, int | None]:
    out: dict[str, int | None] = {h: None for h in HEADS}
    for k, v in kw.items():
        out[k] = None if v is None else int(v)
    return out


_TAG_RE = re.compile(r"<[^>]{0,200}>")
_BYTES_ESC_RE = re.compile(r"(?:\\x[0-9a-fA-F]{2})+")


def clean_markup(text: str) -> str:
    """Dataset-level clean-up (not part of serving normalisation): HTML entities/tags, literal \\n."""
    text = html.unescape(str(text))
    text = _TAG_RE.sub(" ", text)
    return text.replace("\\n", " ").replace("\\t", " ")


def _decode_bytes_escapes(text: str) -> str:
    """Ibrohim tweets hold emoji as literal ``\\xf0\\x9f\\x98\\x84``: decode them back where possible."""

    def fix(m: re.Match[str]) -> str:
        try:
            raw = bytes(int(h, 16) for h in re.findall(r"\\x([0-9a-fA-F]{2})", m.group(0)))
            return " " + raw.decode("utf-8", errors="ignore") + " "
        except Exception:  # noqa: BLE001
            return " "

    return _BYTES_ESC_RE.sub(fix, text)


def _clean_tweet(text: str) -> str:
    text = _decode_bytes_escapes(clean_markup(text))
    text = re.sub(r"^\s*RT\s+USER\s*:?", " ", text)
    return text.strip().rstrip("'").strip()


# ----------------------------------------------------------------------------------------------------------------
# Adapters
# ----------------------------------------------------------------------------------------------------------------


def load_judol_yt(folder: Path) -> Loaded:
    f = folder / "dataset_judol_labelled.csv"
    df = pd.read_csv(f, encoding="utf-8", dtype={"comment_text": str}, keep_default_na=False)
    recs = [
        Record(str(t), "id", "judol-yt-gbennnn", "comment", _labels(spam=y, gambling=y, toxic=0, abusive=0, hate_speech=0))
        for t, y in zip(df["comment_text"], df["label"].astype(int))
    ]
    return Loaded("judol-yt-gbennnn", recs, {f.name: sha256_file(f)}, "MIT")


_LIVECHAT_NOISE = re.compile(r"toto|gacor|terbalik|jp|maxwin|slot\s*\d|link|daftar", re.I)


def load_judol_livechat(folder: Path) -> Loaded:
    f = folder / "youtube_chat_jogja_clean.csv"
    df = pd.read_csv(f, encoding="utf-8", dtype=str, keep_default_na=False)
    recs = []
    for msg, y in zip(df["message"], df["label"].astype(int)):
        text = re.sub(r":([a-z_]+):", " ", str(msg))  # emoji shortcodes like :fire:
        if y == 0 and _LIVECHAT_NOISE.search(normalize(text)):
            continue  # documented label noise (togel promotion labelled 0)
        recs.append(Record(text, "id", "judol-livechat-tribunjogja", "livechat", _labels(spam=y, gambling=y)))
    return Loaded("judol-livechat-tribunjogja", recs, {f.name: sha256_file(f)}, "none stated (Kaggle upstream unknown)")


def load_judol_lexicon(folder: Path) -> Loaded:
    files = {}
    terms: list[str] = []
    for name in ("jargon_flags.json", "jargon_glossary.json"):
        f = folder / name
        files[name] = sha256_file(f)
        data = json.loads(f.read_text(encoding="utf-8-sig"))
        flags = data.get("flags", [])
        terms += list(flags.keys()) if isinstance(flags, dict) else list(flags)
    terms = sorted(set(terms))
    return Loaded("judol-lexicon-sentryid", [], files, "MIT", lexicon=terms)


def load_sms_spam_id(folder: Path) -> Loaded:
    f = folder / "dataset_sms_spam_v1.csv"
    df = pd.read_csv(f, encoding="utf-8", dtype={"Teks": str}, keep_default_na=False)
    recs = [
        Record(str(t), "id", "sms-spam-id", "sms", _labels(spam=int(y in (1, 2)), gambling=0, toxic=0, abusive=0, hate_speech=0))
        for t, y in zip(df["Teks"], df["label"].astype(int))
    ]
    return Loaded("sms-spam-id", recs, {f.name: sha256_file(f)}, "CC BY-SA 4.0")


def load_ibrohim2019(folder: Path, file: str = "re_dataset.csv") -> Loaded:
    f = folder / file
    raw = f.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    import io

    df = pd.read_csv(io.StringIO(text), dtype={"Tweet": str}, keep_default_na=False)
    recs = []
    for row in df.itertuples(index=False):
        hs, ab = int(row.HS), int(row.Abusive)
        recs.append(
            Record(
                _clean_tweet(row.Tweet), "id", "abusive-hs-id-ibrohim2019", "tweet",
                _labels(toxic=int(hs or ab), hate_speech=hs, abusive=ab, spam=0, gambling=0),
            )
        )
    return Loaded("abusive-hs-id-ibrohim2019", recs, {file: sha256_file(f)}, "CC BY-NC-SA 4.0 (non-commercial)")


def load_ibrohim2019_fold(folder: Path, k: int) -> Loaded:
    return load_ibrohim2019(folder / "indobertweet-folds", f"test{k}.csv")


def load_ibrohim2018(folder: Path) -> Loaded:
    f = folder / "re_dataset_three_labels.csv"
    df = pd.read_csv(f, encoding="latin-1", dtype={"Tweet": str}, keep_default_na=False)
    recs = []
    for lab, tw in zip(df["Label"].astype(int), df["Tweet"]):
        ab = int(lab in (2, 3))
        recs.append(
            Record(_clean_tweet(tw), "id", "abusive-id-ibrohim2018", "tweet", _labels(toxic=ab, abusive=ab, spam=0, gambling=0))
        )
    return Loaded("abusive-id-ibrohim2018", recs, {f.name: sha256_file(f)}, "CC BY-NC-SA 4.0 (non-commercial)")


_COMMERCIAL = re.compile(r"follow|order|promo|olshop|whatsapp|\bwa\b|\bline\b|\bdm\b|\bpin\b|jual|sale|urltoken|phonetoken")


def load_netifier(folder: Path) -> Loaded:
    recs, files = [], {}
    for name in ("train.csv", "test.csv"):
        f = folder / name
        files[name] = sha256_file(f)
        df = pd.read_csv(f, encoding="utf-8", dtype={"original_text": str}, keep_default_na=False)
        for row in df.itertuples(index=False):
            text = re.sub(r"\[/?QUOTE[^\]]*\]", " ", clean_markup(row.original_text))
            por, sara, rad, pnb = int(row.pornografi), int(row.sara), int(row.radikalisme), int(row.pencemaran_nama_baik)
            tox = int(bool(por or sara or rad or pnb))
            # Instagram holds unlabelled commercial spam among non-toxic rows: spam unknown there
            spam = None if (not tox and _COMMERCIAL.search(normalize(text))) else 0
            kind = "comment" if row.source in ("instagram", "kaskus") else "tweet"
            recs.append(
                # "insult" (pencemaran_nama_baik) is no head: the recipe may use it as the abusive target
                Record(text, "id", "toxicity-id-netifier", kind,
                       _labels(toxic=tox, hate_speech=sara, spam=spam, gambling=spam, insult=pnb))
            )
    return Loaded("toxicity-id-netifier", recs, files, "none stated (all rights reserved)")


def load_kamus_alay(folder: Path) -> Loaded:
    f = folder / "colloquial-indonesian-lexicon.csv"
    df = pd.read_csv(f, encoding="utf-8", dtype=str, keep_default_na=False)
    pairs = sorted(set(zip(df["slang"], df["formal"])))
    return Loaded("kamus-alay", [], {f.name: sha256_file(f)}, "none stated (all rights reserved)", lexicon=pairs)


def load_sms_spam_en(folder: Path) -> Loaded:
    f = folder / "SMSSpamCollection"
    df = pd.read_csv(f, sep="\t", header=None, names=["label", "text"], quoting=3, dtype=str, keep_default_na=False, encoding="utf-8")
    recs = [
        Record(clean_markup(t), "en", "sms-spam-collection-en", "sms", _labels(spam=int(lab == "spam"), gambling=0, toxic=0, abusive=0, hate_speech=0))
        for lab, t in zip(df["label"], df["text"])
    ]
    return Loaded("sms-spam-collection-en", recs, {f.name: sha256_file(f)}, "CC BY 4.0")


def load_youtube_spam_en(folder: Path) -> Loaded:
    recs, files = [], {}
    for f in sorted(folder.glob("Youtube0*.csv")):
        files[f.name] = sha256_file(f)
        df = pd.read_csv(f, encoding="utf-8", dtype={"CONTENT": str}, keep_default_na=False)
        for t, y in zip(df["CONTENT"], df["CLASS"].astype(int)):
            recs.append(
                Record(clean_markup(t).replace("\ufeff", ""), "en", "youtube-spam-collection-en", "comment",
                       _labels(spam=y, gambling=0, toxic=0, abusive=0, hate_speech=0), weight=2.0)
            )
    return Loaded("youtube-spam-collection-en", recs, files, "CC BY 4.0")


def load_davidson(folder: Path) -> Loaded:
    f = folder / "labeled_data.csv"
    df = pd.read_csv(f, encoding="utf-8", dtype={"tweet": str}, keep_default_na=False)
    recs = []
    for cls, tw in zip(df["class"].astype(int), df["tweet"]):
        text = re.sub(r"^\W*RT\s+@\w+:?", " ", clean_markup(tw))
        recs.append(
            Record(text, "en", "hate-offensive-en-davidson", "tweet",
                   _labels(toxic=int(cls in (0, 1)), hate_speech=int(cls == 0), abusive=int(cls == 1), spam=0, gambling=0),
                   weight=0.5)
        )
    return Loaded("hate-offensive-en-davidson", recs, {f.name: sha256_file(f)}, "MIT")


def load_jigsaw(folder: Path) -> Loaded:
    recs, files = [], {}
    for name in ("jigsaw_sample.csv", "test_examples.csv"):
        f = folder / name
        files[name] = sha256_file(f)
        df = pd.read_csv(f, encoding="utf-8", dtype={"comment_text": str}, keep_default_na=False)
        for row in df.itertuples(index=False):
            anyl = int(any(int(getattr(row, c)) for c in ("toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate")))
            recs.append(
                Record(clean_markup(row.comment_text), "en", "jigsaw-toxic-en", "comment",
                       _labels(toxic=anyl, abusive=int(int(row.obscene) or int(row.insult)),
                               hate_speech=int(row.identity_hate), spam=0, gambling=0))
            )
    return Loaded("jigsaw-toxic-en", recs, files, "CC0 (text CC BY-SA 3.0)")


ADAPTERS: dict[str, Callable[[Path], Loaded]] = {
    "judol-yt-gbennnn": load_judol_yt,
    "judol-livechat-tribunjogja": load_judol_livechat,
    "judol-lexicon-sentryid": load_judol_lexicon,
    "sms-spam-id": load_sms_spam_id,
    "abusive-hs-id-ibrohim2019": load_ibrohim2019,
    "abusive-id-ibrohim2018": load_ibrohim2018,
    "toxicity-id-netifier": load_netifier,
    "kamus-alay": load_kamus_alay,
    "sms-spam-collection-en": load_sms_spam_en,
    "youtube-spam-collection-en": load_youtube_spam_en,
    "hate-offensive-en-davidson": load_davidson,
    "jigsaw-toxic-en": load_jigsaw,
}

# Order = priority when the same normalised text occurs in several sources (first keeps its text/source).
TRAINING_SOURCES = (
    "judol-yt-gbennnn",
    "youtube-spam-collection-en",
    "sms-spam-id",
    "abusive-hs-id-ibrohim2019",
    "abusive-id-ibrohim2018",
    "toxicity-id-netifier",
    "sms-spam-collection-en",
    "jigsaw-toxic-en",
    "hate-offensive-en-davidson",
    "judol-livechat-tribunjogja",
)


def load_all(data_root: Path, names: Iterable[str] = TRAINING_SOURCES, *, progress: bool = False) -> list[Loaded]:
    data_root = Path(data_root)
    names = list(names)
    it = names
    if progress:
        from tqdm import tqdm

        it = tqdm(names, desc="load datasets", unit="dataset")
    return [ADAPTERS[n](data_root / n) for n in it]


_GROUP_RE = re.compile(r"[^a-z]+")


def group_key(norm: str) -> str:
    """Near-duplicate key: letters only, first 40 — bot templates that differ in brand/number suffix collide."""
    letters = _GROUP_RE.sub("", norm)
    return letters[:40] if letters else norm[:40]


def deduplicate(loaded: list[Loaded], *, progress: bool = False) -> list[Record]:
    """Merge rows whose normalised text is identical (across all sources); labels merged by max per head."""
    by_key: dict[str, Record] = {}
    rows = [r for ld in loaded for r in ld.records]
    it: Iterable[Record] = rows
    if progress:
        from tqdm import tqdm

        it = tqdm(rows, desc="normalise+dedup", unit="row", mininterval=2)
    for r in it:
        norm = normalize(r.text)
        if not norm:
            continue
        prev = by_key.get(norm)
        if prev is None:
            r.norm, r.group, r.sources = norm, group_key(norm), {r.source}
            by_key[norm] = r
            continue
        prev.sources.add(r.source)
        for h, v in r.labels.items():
            if v is None:
                continue
            pv = prev.labels.get(h)
            prev.labels[h] = v if pv is None else max(pv, v)
    return list(by_key.values())


def split_of(group: str, seed: int = 0) -> str:
    """Deterministic group split: 70% train, 10% validation, 20% test."""
    b = zlib.crc32(f"{seed}:{group}".encode()) % 10
    return "train" if b < 7 else ("val" if b == 7 else "test")
