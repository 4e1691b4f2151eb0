"""Featurisation shared by training and serving: what a text becomes before any model sees it.

Word 1-2 grams and character 3-5 grams of the normalised text, plus the evidence of obfuscation read from the
raw text (styled letters, look-alike scripts, letter-digit brands: the normaliser erases them), and the
lexicon extras a model was trained with (``Lexicons``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from .textnorm import _DELETE, _MARKS, _SPACED_RE, _UNIT_RE, _leet, char_normalize, normalize

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
