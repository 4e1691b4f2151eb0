"""The training recipe: which rows, which targets, which copies, which word lists (all seeded, no I/O but the data root).

A ``Recipe`` names each design decision so that the evaluation protocol can compare them row by row
(``python -m training evaluate --compare``); ``DEFAULT`` is the recipe of the committed model.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from moderation.features import Lexicons, is_brand_shaped
from moderation.textnorm import char_normalize, normalize

from .datasets import Record, load_kamus_alay

# Sources whose rows train the model. English toxicity data lowered Indonesian toxicity on every protocol row
# (issue 11), so English sources only train the spam head.
SPAM_ONLY_SOURCES = ("youtube-spam-collection-en", "sms-spam-collection-en")
ENGLISH_TOXICITY = ("jigsaw-toxic-en", "hate-offensive-en-davidson")


@dataclass(frozen=True)
class Recipe:
    name: str = "default"
    evidence: bool = True  # obfuscation evidence features on the raw text
    brand_indicator: bool = True  # "e brand" next to brand-shaped tokens rare in normal comments
    augment: bool = True  # de-styled + leetspeak copies of spam rows and of a tenth of the normal rows
    toxic_target: str = "abusive"  # "abusive" (hold for abusive language only) or "any" (abusive or hate speech)
    english_toxicity: bool = False
    lexicon: bool = True  # Ibrohim abusive lexicon feature
    slang: bool = True  # kamus-alay slang -> formal word features
    # netifier's pencemaran_nama_baik (defamation/insult) as the abusive label of its rows: a second Indonesian
    # abusive source besides the Ibrohim tweets (which are 98% one data set), so cross-source rows can train on it
    netifier_insult: bool = False
    # a third copy: the row as a backend that decodes UTF-8 as strict cp1252 (errors="replace") would store it
    mojibake_copies: bool = False
    seed: int = 0


DEFAULT = Recipe()
# Each variant switches one decision off (or back to the 2026.11.25 choice): the protocol rows that chose it.
VARIANTS = {
    "no_evidence": replace(DEFAULT, name="no_evidence", evidence=False),
    "no_brand_indicator": replace(DEFAULT, name="no_brand_indicator", brand_indicator=False),
    "no_augment": replace(DEFAULT, name="no_augment", augment=False),
    "toxic_any": replace(DEFAULT, name="toxic_any", toxic_target="any"),
    "with_english_toxicity": replace(DEFAULT, name="with_english_toxicity", english_toxicity=True),
    "no_lexicons": replace(DEFAULT, name="no_lexicons", lexicon=False, slang=False),
    "netifier_insult": replace(DEFAULT, name="netifier_insult", netifier_insult=True),
    "mojibake_copies": replace(DEFAULT, name="mojibake_copies", mojibake_copies=True),
    "baseline_2026.11.25": Recipe(name="baseline_2026.11.25", evidence=False, brand_indicator=False, augment=False,
                                  toxic_target="any", english_toxicity=True, lexicon=False, slang=False),
}


# ----------------------------------------------------------------------------------------------------------------
# Targets
# ----------------------------------------------------------------------------------------------------------------


def relabel(records: Sequence[Record], recipe: Recipe) -> list[Record]:
    """Apply the recipe's targets: ``toxic`` = abusive language only (hate speech is its own head) and no English
    toxicity rows. Returns new Record objects; the input is not changed."""
    out = []
    for r in records:
        labels = dict(r.labels)
        labels["toxic_orig"] = r.labels.get("toxic")  # the source's own toxicity label, for evaluation only
        english_tox = bool(r.sources & set(ENGLISH_TOXICITY))
        if english_tox and not recipe.english_toxicity:
            if r.sources <= set(ENGLISH_TOXICITY):
                continue  # a row that only trains toxicity
            labels.update(toxic=None, abusive=None, hate_speech=None)
        if r.language == "en" and not recipe.english_toxicity:
            labels.update(toxic=None, abusive=None, hate_speech=None)
        if recipe.netifier_insult and labels.get("abusive") is None and labels.get("insult") is not None:
            labels["abusive"] = labels["insult"]
        if recipe.toxic_target == "abusive":
            # netifier has no abusive label (its four flags are topics): unknown there; judol/SMS rows are 0
            labels["toxic"] = labels.get("abusive")
        out.append(Record(r.text, r.language, r.source, r.kind, labels, r.weight, set(r.sources), r.norm, r.group))
    return out


# ----------------------------------------------------------------------------------------------------------------
# De-styled and leetspeak copies
# ----------------------------------------------------------------------------------------------------------------

_LEET_MAP = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}
_WORD = re.compile(r"[A-Za-z]{3,}")


def leetspeak(text: str, rng: random.Random, share: float = 0.6) -> str:
    """Rewrite about ``share`` of the words with digits for letters (several digits per word: "m41n", "73mp47")."""

    def word(m: re.Match[str]) -> str:
        w = m.group(0)
        if rng.random() > share:
            return w
        return "".join(_LEET_MAP.get(c.lower(), c) if rng.random() < 0.8 else c for c in w)

    return _WORD.sub(word, text)


def lossy_cp1252(text: str) -> str:
    return text.encode("utf-8").decode("cp1252", errors="replace")


def augment(records: Sequence[Record], seed: int = 0, normal_share: float = 0.1, *, mojibake: bool = False
            ) -> list[Record]:
    """A de-styled copy (the character-normalised text: no styled letters, marks or zero-width characters left)
    and a leetspeak copy of every spam row and of ``normal_share`` of the normal rows. Copies keep the group, so
    they never cross a train/test boundary."""
    rng = random.Random(seed)
    out: list[Record] = []
    for r in records:
        if r.labels.get("spam") is None or r.language != "id":
            continue
        if r.labels.get("spam") == 0 and rng.random() >= normal_share:
            continue
        plain = char_normalize(r.text)
        # a list, not a set: set order changes with PYTHONHASHSEED, and row order changes the fitted weights
        copies = (plain, leetspeak(plain, rng)) + ((lossy_cp1252(r.text),) if mojibake else ())
        for text in dict.fromkeys(t for t in copies if t != r.text):
            out.append(Record(text, r.language, r.source, r.kind, dict(r.labels), r.weight * 0.5, set(r.sources),
                              normalize(text), r.group))
    return out


# ----------------------------------------------------------------------------------------------------------------
# Word lists
# ----------------------------------------------------------------------------------------------------------------


def common_brand_shaped(records: Sequence[Record], min_rows: int = 3) -> frozenset[str]:
    """Brand-shaped tokens that occur in at least ``min_rows`` normal rows ("covid19", "darwin"): no indicator."""
    c: Counter[str] = Counter()
    for r in records:
        if r.labels.get("spam") == 0:
            c.update({t for t in re.findall(r"\w+", r.norm or normalize(r.text)) if is_brand_shaped(t)})
    return frozenset(t for t, n in c.items() if n >= min_rows)


def abusive_lexicon(data_root: Path) -> frozenset[str]:
    f = Path(data_root) / "abusive-hs-id-ibrohim2019" / "abusive.csv"
    df = pd.read_csv(f, encoding="latin-1", dtype=str, keep_default_na=False)
    return frozenset(normalize(w) for w in df.iloc[:, 0] if normalize(w))


def slang_map(data_root: Path) -> dict[str, str]:
    pairs = load_kamus_alay(Path(data_root) / "kamus-alay").lexicon or []
    out: dict[str, str] = {}
    for slang, formal in pairs:
        s, f = normalize(slang), normalize(formal)
        if s and f and s != f and " " not in s and s not in out:
            out[s] = f
    return dict(sorted(out.items()))


def prepare(data_root: Path, records: Sequence[Record], recipe: Recipe):  # -> protocol.Prepared
    """Relabelled records, word lists and an empty feature cache for ``recipe``."""
    from .protocol import Prepared, known_brands

    recs = relabel(records, recipe)
    lex = lexicons_for(recipe, data_root, recs)
    aug = (lambda rows: augment(rows, recipe.seed, mojibake=recipe.mojibake_copies)) if recipe.augment else None
    return Prepared(recs, lex, {}, aug, known_brands(data_root))


def lexicons_for(recipe: Recipe, data_root: Path, records: Sequence[Record]) -> Lexicons:
    return Lexicons(
        common_tokens=common_brand_shaped(records) if recipe.brand_indicator else frozenset(),
        abusive=abusive_lexicon(data_root) if recipe.lexicon else frozenset(),
        slang=slang_map(data_root) if recipe.slang else {},
        evidence=recipe.evidence,
        brand_indicator=recipe.brand_indicator,
    )
