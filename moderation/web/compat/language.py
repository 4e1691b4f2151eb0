"""Languages for the Perspective endpoint: tags as clients send them, a crude guess, sentence spans."""

from __future__ import annotations

import re

SUPPORTED_LANGUAGES = ("id", "en")  # Indonesian first, English second: what the models were trained on
_LANGUAGE_ALIASES = {"in": "id", "ind": "id", "eng": "en"}

_ID_WORDS = frozenset(
    {
        "yang", "dan", "di", "ini", "itu", "tidak", "ga", "gak", "nggak", "enggak", "aku", "saya", "kamu",
        "lu", "lo", "dengan", "untuk", "ke", "dari", "ada", "juga", "sudah", "udah", "banget", "aja",
        "saja", "kalau", "kalo", "karena", "bisa", "akan", "lagi", "sama", "mereka", "kita", "kami", "apa",
        "atau", "pemerintah", "semoga", "dasar", "jangan", "harus", "belum", "masih", "tapi", "tetapi",
        "pak", "bu"
    }
)
_EN_WORDS = frozenset(
    {
        "the", "and", "is", "are", "was", "were", "you", "your", "this", "that", "it", "not", "for", "with",
        "have", "has", "of", "to", "in", "on", "be", "what", "why", "how", "they", "we", "i", "me", "my",
        "our", "will", "would", "can", "could", "should", "an", "a"
    }
)
_WORD = re.compile(r"[^\W\d_]+")
# A sentence: from a non-space up to its closing punctuation (or a line end); spans like Perspective's.
_SENTENCE = re.compile(r"\S[^.!?…\n]*(?:[.!?…]+|$)", re.MULTILINE)


def normalise_language(tag: str) -> str:
    """``id-ID`` → ``id``; ``in`` (the old ISO code) → ``id``."""
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    return _LANGUAGE_ALIASES.get(primary, primary)


def detect_language(text: str) -> str:
    """A crude guess between Indonesian and English by counting function words; Indonesian on a tie."""
    words = [w.lower() for w in _WORD.findall(text)]
    english = sum(w in _EN_WORDS for w in words)
    indonesian = sum(w in _ID_WORDS for w in words)
    return "en" if english > indonesian else "id"


def clear_language(text: str) -> str | None:
    """The language when the function words leave no doubt (at least three, twice as many as the other's
    count), else None: a guess strong enough to overrule the language a client sent."""
    words = [w.lower() for w in _WORD.findall(text)]
    english = sum(w in _EN_WORDS for w in words)
    indonesian = sum(w in _ID_WORDS for w in words)
    if indonesian >= 3 and indonesian >= 2 * english:
        return "id"
    if english >= 3 and english >= 2 * indonesian:
        return "en"
    return None


def effective_languages(asked: list[str] | None, text: str) -> list[str]:
    """The languages a text is scored as. A single asked language gives way to a clear guess: Coral sends
    ``["en"]`` for every tenant whose locale Perspective lacks (Indonesian among them)."""
    if not asked:
        return [detect_language(text)]
    languages = [normalise_language(x) for x in asked]
    clear = clear_language(text)
    if len(languages) == 1 and clear is not None and clear != languages[0]:
        return [clear]
    return languages


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentence spans ``[begin, end)`` in code points, trailing spaces excluded."""
    spans = []
    for m in _SENTENCE.finditer(text):
        end = m.start() + len(m.group().rstrip())
        spans.append((m.start(), end))
    return spans or [(0, len(text))]
