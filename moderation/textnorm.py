"""The one text normaliser shared by training and serving.

``normalize(text)`` undoes the obfuscation tricks used by comment spam (styled mathematical letters, full-width,
circled/bracketed/squared letters, keycap digits, combining marks, Greek/Cyrillic look-alikes, zero-width
characters, spaced-out letters, leetspeak inside words, repeated characters: a run of 3+ becomes one, doubles such as "maaf" stay), case-folds, and replaces URLs,
e-mail addresses, phone numbers and @mentions with placeholder tokens (``urltoken``, ``emailtoken``,
``phonetoken``, ``mentiontoken``; the ``USER``/``URL`` placeholders of the tweet datasets map to the same tokens).

It never raises and is idempotent: ``normalize(normalize(x)) == normalize(x)``. All tables are built at import
from ``unicodedata`` (no I/O).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

from ftfy import fix_encoding
from ftfy.badness import is_bad

__all__ = ["normalize", "find_urls", "contains_term", "char_normalize", "PLACEHOLDERS"]

PLACEHOLDERS = ("urltoken", "emailtoken", "phonetoken", "mentiontoken")

# --------------------------------------------------------------------------------------------------------------
# Character table (built once at import)
# --------------------------------------------------------------------------------------------------------------

_DELETE = (
    [0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E, 0x3164, 0xFEFF, 0xFFA0]
    + list(range(0x200B, 0x2010))  # zero-width space/joiners, LRM/RLM
    + list(range(0x202A, 0x202F))  # bidi embeddings
    + list(range(0x2060, 0x2070))  # word joiner, invisible operators, bidi isolates
    + list(range(0xFE00, 0xFE10))  # variation selectors (emoji presentation of keycaps etc.)
    + list(range(0xE0000, 0xE0080))  # tag characters
    + list(range(0xE0100, 0xE01F0))  # variation selectors supplement
)

# Decorative brackets/frames used around single letters (【H】【o】, ≋H≋O, ░S░L): become separators.
_SEPARATORS = "【】『』「」〖〗〔〕〘〙〚〛《》〈〉≋░▒▓█▌▐║│┃❰❱❮❯⟦⟧⟨⟩ᆢ"
# U+2063 INVISIBLE SEPARATOR is used *between words* by campaigns ("Slot\u2063gacor", or its Mac Roman mojibake
# "‚Å£"): a space, not a deletion (deleting it glued whole comments into one token).
_WORD_SEPARATORS = "\u2063"

_HOMOGLYPHS = {
    # Cyrillic
    "А": "A", "В": "B", "Е": "E", "Ѕ": "S", "І": "I", "Ј": "J", "К": "K", "М": "M", "Н": "H", "О": "O",
    "Р": "P", "С": "C", "Т": "T", "У": "Y", "Х": "X", "Ү": "Y", "Һ": "H", "Ԁ": "D", "Ԛ": "Q", "Ԝ": "W",
    "а": "a", "е": "e", "ѕ": "s", "і": "i", "ј": "j", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x",
    "һ": "h", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ү": "y", "ӏ": "l", "Ӏ": "I", "в": "b", "к": "k", "м": "m",
    "н": "h", "т": "t", "п": "n", "г": "r", "ё": "e", "Ё": "E", "З": "3", "з": "3", "Ь": "b", "ь": "b",
    # Greek
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "Ϲ": "C", "Ϳ": "J", "α": "a", "β": "b", "γ": "y", "ε": "e",
    "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w",
    "ϲ": "c", "ϳ": "j", "Ѵ": "V", "ѵ": "v", "Σ": "E", "Δ": "A", "λ": "a", "Π": "N", "π": "n", "μ": "u",
    # Latin look-alikes
    "ı": "i", "ȷ": "j", "ɑ": "a", "ɡ": "g", "ɩ": "i", "ʋ": "u", "ℓ": "l", "Ø": "O", "ø": "o", "Đ": "D",
    "đ": "d", "Ł": "L", "ł": "l", "Ħ": "H", "ħ": "h", "ƒ": "f", "ß": "ss", "Æ": "AE", "æ": "ae",
    "Œ": "OE", "œ": "oe", "Þ": "th", "þ": "th", "Ð": "D", "ð": "d",
    # Canadian syllabics that campaigns use as capitals (ᑭᑌᒪᗩᑌᗯIᑎ = PULAUWIN)
    "ᗩ": "A", "ᗷ": "B", "ᑕ": "C", "ᗪ": "D", "ᗴ": "E", "ᖴ": "F", "ᘜ": "G", "ᕼ": "H", "ᒍ": "J", "ᒪ": "L",
    "ᗰ": "M", "ᑎ": "N", "ᗝ": "O", "ᑭ": "P", "ᑫ": "Q", "ᖇ": "R", "ᔕ": "S", "ᑌ": "U", "ᐯ": "V", "ᗯ": "W",
    "᙭": "X", "ᘔ": "Z", "ᑲ": "b",
    # Tai Le, Limbu, Georgian and APL look-alikes of small letters (ᥲ⍴ᥲsіһ = apasih)
    "ᥲ": "a", "ᥱ": "e", "᥆": "o", "ᥒ": "n", "ᥙ": "u", "ᥡ": "y", "ᥣ": "l", "ძ": "d", "⍴": "p",
}

_DIGIT_NAMES = {
    "ZERO": "0", "ONE": "1", "TWO": "2", "THREE": "3", "FOUR": "4",
    "FIVE": "5", "SIX": "6", "SEVEN": "7", "EIGHT": "8", "NINE": "9",
}
_NAME_LETTER = re.compile(r"(?:LETTER|SMALL CAPITAL) ([A-Z])$")
_NAME_DIGIT = re.compile(r"DIGIT (ZERO|ONE|TWO|THREE|FOUR|FIVE|SIX|SEVEN|EIGHT|NINE)$")
_SCAN_RANGES = (
    (0x0250, 0x02B0),  # IPA extensions (small capitals ʀ ʟ ɴ ...)
    (0x1D00, 0x1DC0),  # phonetic extensions (ᴀ ᴄ ᴅ ᴇ ...)
    (0xA720, 0xA800),  # Latin extended-D (ꜱ ...)
    (0x2460, 0x2500),  # enclosed alphanumerics (parenthesised ⒜ ⑴)
    (0x2776, 0x2794),  # dingbat negative circled digits ❶
    (0x24EA, 0x2500),
    (0x1F100, 0x1F200),  # enclosed alphanumeric supplement (🅐 🅰 🇦 🄰)
    (0x10280, 0x10330),  # Lycian, Carian, Old Italic
)


def _build_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {cp: None for cp in _DELETE}
    for ch in _SEPARATORS + _WORD_SEPARATORS:
        table[ord(ch)] = " "
    for lo, hi in _SCAN_RANGES:
        for cp in range(lo, hi):
            ch = chr(cp)
            nfkc = unicodedata.normalize("NFKC", ch)
            if nfkc.isascii() and nfkc.isalnum() and len(nfkc) == 1:
                continue  # NFKC already handles it
            name = unicodedata.name(ch, "")
            if "WITH" in name or "TURNED" in name or "REVERSED" in name or "INVERTED" in name:
                continue
            m = _NAME_LETTER.search(name)
            if m:
                table[cp] = m.group(1).lower() if ("SMALL" in name and "CAPITAL LETTER" not in name) else m.group(1)
                continue
            m = _NAME_DIGIT.search(name)
            if m:
                table[cp] = _DIGIT_NAMES[m.group(1)]
    for src, dst in _HOMOGLYPHS.items():
        table[ord(src)] = dst
    # control characters (except whitespace) become spaces
    for cp in list(range(0, 32)) + list(range(0x7F, 0xA0)):
        table.setdefault(cp, " ")
    return table


_TABLE = _build_table()

# Combining marks used as decoration (underline U+0332, strike U+0336, enclosing keycap U+20E3, accents).
_MARKS = re.compile("[\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")

# Emoji and pictographs become separate tokens ("✌alexis17✌" -> "✌ alexis17 ✌").
_EMOJI = re.compile("([\u2190-\u21ff\u2300-\u23ff\u25a0-\u27bf\u2900-\u297f\u2b00-\u2bff\U0001f000-\U0001faff])")

# --------------------------------------------------------------------------------------------------------------
# Placeholders
# --------------------------------------------------------------------------------------------------------------

_TLDS = (
    "com|net|org|id|co|io|ly|me|xyz|site|online|info|biz|top|vip|club|link|live|app|gg|cc|tv|asia|pro|bet|win|"
    "games|game|store|shop|fun|icu|lol|cloud|one|ink|art|tk|ml|ga|cf|gq|ws|to|sh|in|us|uk|de|ru|cn|my|sg|ph|"
    "edu|gov|mobi|page|site|space|website|tech|today|world|life|best|bid|click|fyi|win|casino|poker|plus|pw|"
    "blog|news|web|wiki|host|gl|gd|be|ai|so|la|im|is|it|nl|fr|jp|kr|au|ca|br|es"
)
_EMAIL_RE = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_URL_RE = re.compile(
    r"(?:(?:https?|ftp)://|www\.)[^\s<>\"'()\[\]{}]+"
    r"|(?<![\w@.\-])(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+(?:" + _TLDS + r")\b(?:/[^\s<>\"'()\[\]{}]*)?",
    re.IGNORECASE,
)
_URL_HINT = re.compile(r"\.(?:" + _TLDS + r")\b|://|www\.", re.IGNORECASE)
_HAS_DIGITS = re.compile(r"\d")
_LONG_DIGITS = re.compile(r"\d{3}")
_TWEET_USER_RE = re.compile(r"\bUSER\b")
_TWEET_URL_RE = re.compile(r"\bURL\b")
_MENTION_RE = re.compile(r"(?<![\w@])@+\w[\w.@]{0,39}")
_PHONE_RE = re.compile(
    r"(?<![\w+])(?:\+?62|0)\s?8\d{1,2}(?:[\s\-.]?\d{2,5}){2,4}(?!\w)"  # Indonesian mobile numbers
    r"|(?<![\w+])\+?\d{10,15}(?!\w)"  # any long digit run
)

# --------------------------------------------------------------------------------------------------------------
# Word-level rules
# --------------------------------------------------------------------------------------------------------------

# the same separator throughout, so "g.a.c.o.r m.a.x.w.i.n" -> "gacor maxwin" (not one word)
_SPACED_RE = re.compile(r"(?<!\w)\w(?P<sep>[ .\-_*|•·~+:]+)\w(?:(?P=sep)\w)+(?!\w)")
_SPACED_SEP = re.compile(r"[ .\-_*|•·~+:]+")
_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t"}
_LEET_RUN = str.maketrans(_LEET)
# a single digit (not part of a longer number) with a letter immediately on its left
# ... except "4d"/"3d" at a word's end ("ambil4d", "visi4d2"): the 4D lottery suffix of togel brands, no leet
_LEET_RE = re.compile(r"(?<=[^\W\d_])[013457](?!\d)(?!d\d*\b)|(?<!\w)[013457](?=[^\W\d_]{2})")
_LEET_SYM_RE = re.compile(r"(?<=[^\W\d_])\$+|\$+(?=[^\W\d_])")
_REPEAT_RE = re.compile(r"([^\d\s])\1{2,}")
_WS_RE = re.compile(r"\s+")


# Mac Roman mojibake of U+2000-U+20FF (zero-width characters, curly quotes: "‚Å£", "‚Äô"); ftfy leaves it alone.
_MOJIBAKE_HINT = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    "\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
)
_MACROMAN_RE = re.compile("‚[ÄÅÇ][\u0080-\uffff]")
# Mathematical letters shifted down by 0x10000 land in U+D400-U+D7FF (Hangul syllables / Jamo Extended-B).
_HANGUL_SHIFTED_RE = re.compile("[\ud400-\ud7ff]")
_HANGUL_OTHER_RE = re.compile("[\u1100-\u11ff\u3130-\u318f\uac00-\ud3ff]")


def _fix_macroman(m: re.Match[str]) -> str:
    try:
        return m.group(0).encode("mac_roman").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return m.group(0)


def _unshift_hangul(m: re.Match[str]) -> str:
    ch = chr(ord(m.group(0)) + 0x10000)
    return ch if unicodedata.name(ch, "").startswith("MATHEMATICAL") else m.group(0)


# UTF-8 decoded with a single-byte code page. ftfy repairs the common cases; three it leaves alone are repaired
# here, sequence by sequence (a lead byte and its continuation bytes, re-encoded and decoded as UTF-8):
# - strict cp1252 has no character for the bytes 0x81, 0x8D, 0x8F, 0x90, 0x9D, so a backend decoding with
#   errors="replace" turns them into U+FFFD and the byte is gone. 0x9D is the second byte of every mathematical
#   letter (U+1D400-U+1D7FF = F0 9D ..), so styled brands lost every letter. The lost byte is one of five and a
#   UTF-8 sequence admits few of them: each is tried and the most plausible character kept;
# - combining marks read as windows-1252 ("P͟" -> "PÍŸ"), which ftfy's badness heuristic accepts as text;
# - Mac Roman beyond U+20xx (emoji "🤤" -> "ü§§§"), which ftfy does not decode at all.
# Outside a U+FFFD text a sequence is only replaced by a character no plain comment holds (a styled letter, a
# symbol or a mark), so accented words stay as written.
_CP1252_LOST = (0x9D, 0x90, 0x8F, 0x8D, 0x81)
# Indonesian letter frequency (and digits as brands use them) breaks ties between equally valid styled letters
_ALNUM_PRIOR = "anieukrtsmlgdpbhoyjcwfvzxq8701423956"


def _code_page_map(decode: Callable[[bytes], str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for b in range(0x80, 0x100):
        try:
            ch = decode(bytes([b]))
        except UnicodeDecodeError:
            continue
        if len(ch) == 1 and ch != "\ufffd":
            out.setdefault(ch, b)
    return out


def _sequence_re(byte_of: dict[str, int], extra_cont: str = "", *, two_byte: bool = True) -> re.Pattern[str]:
    def cls(lo: int, hi: int, extra: str = "") -> str:
        return "[" + re.escape("".join(sorted(c for c, b in byte_of.items() if lo <= b <= hi)) + extra) + "]"

    cont = cls(0x80, 0xBF, extra_cont)
    three_four = f"{cls(0xE0, 0xEF)}{cont}{{2}}|{cls(0xF0, 0xF4)}{cont}{{3}}"
    return re.compile(f"{cls(0xC2, 0xDF)}{cont}|{three_four}" if two_byte else three_four)


_CP1252_BYTE = _code_page_map(lambda b: b.decode("cp1252"))
_CP1252_BYTE.update({chr(b): b for b in _CP1252_LOST})  # windows-1252 as browsers/PHP decode: C1 controls
_CP1252_SEQ_RE = _sequence_re(_CP1252_BYTE, "\ufffd")
_MACROMAN_BYTE = _code_page_map(lambda b: b.decode("mac_roman"))
# two Mac Roman characters are too often real accented text ("Õü" would be U+035F): 3- and 4-byte sequences only
_MACROMAN_SEQ_RE = _sequence_re(_MACROMAN_BYTE, two_byte=False)


def _plausibility(ch: str) -> float:
    """Higher for what a comment's non-ASCII character usually is: a styled letter or digit (the frequent ones
    first), then a symbol or emoji, then a mark or format character (variation selectors), then the rest."""
    cat = unicodedata.category(ch)
    if cat in ("Cn", "Co", "Cs", "Cc"):
        return -1.0
    nfkc = unicodedata.normalize("NFKC", ch)
    if len(nfkc) == 1 and nfkc.isascii() and nfkc.isalnum():
        return 4.0 + (len(_ALNUM_PRIOR) - _ALNUM_PRIOR.find(nfkc.lower())) / 100
    if cat == "So":
        return 3.0
    if cat in ("Mn", "Me", "Cf"):
        return 2.0
    return 1.0 if cat[0] in "LNPS" else 0.0


def _decode_sequence(seq: str, byte_of: dict[str, int], min_score: float) -> str:
    options = [list(_CP1252_LOST) if c == "\ufffd" else [byte_of[c]] for c in seq]
    best, best_score = seq, min_score
    for combo in itertools.product(*options):
        try:
            ch = bytes(combo).decode("utf-8")
        except UnicodeDecodeError:
            continue
        score = _plausibility(ch)
        # the first candidate may tie with min_score; later ones must beat the best (ties keep _CP1252_LOST order)
        if score > best_score or (best is seq and score == best_score):
            best, best_score = ch, score
    return best


def _repair_sequences(text: str, pattern: re.Pattern[str], byte_of: dict[str, int], min_score: float) -> str:
    return pattern.sub(lambda m: _decode_sequence(m.group(0), byte_of, min_score), text)


def repair_encoding(text: str) -> str:
    """Undo mojibake (UTF-8 read as cp1252/latin-1 by ftfy, lossy cp1252 and Mac Roman here) and Hangul-shifted
    math letters."""
    if text.isascii():
        return text
    if "\ufffd" in text:  # lossy cp1252: every sequence decoded here (ftfy would refuse the U+FFFD ones)
        text = _repair_sequences(text, _CP1252_SEQ_RE, _CP1252_BYTE, 0.0)
    if _MOJIBAKE_HINT.search(text) and is_bad(text):
        text = fix_encoding(text)
    # what ftfy judged to be text: only marks, symbols and styled letters (sub scans once; no search first)
    text = _repair_sequences(text, _CP1252_SEQ_RE, _CP1252_BYTE, 2.0)
    if "‚" in text:
        text = _MACROMAN_RE.sub(_fix_macroman, text)
    text = _repair_sequences(text, _MACROMAN_SEQ_RE, _MACROMAN_BYTE, 2.0)
    # real Korean uses the whole syllable block; shifted styled letters only its top quarter
    if _HANGUL_SHIFTED_RE.search(text) and not _HANGUL_OTHER_RE.search(text):
        text = _HANGUL_SHIFTED_RE.sub(_unshift_hangul, text)
    return text


def _char_stage(text: str) -> str:
    s = repair_encoding(text).translate(_TABLE)
    s = unicodedata.normalize("NFKD", s)
    s = _MARKS.sub("", s)
    s = unicodedata.normalize("NFKC", s)
    s = s.translate(_TABLE)
    return s


def char_normalize(text: str) -> str:
    """Character-level normalisation only (no case-folding, no placeholders): used for URL finding."""
    try:
        if text.isascii():
            return text.translate(_TABLE)
        return _char_stage(text)
    except Exception:  # noqa: BLE001 - the normaliser must never raise
        return text if isinstance(text, str) else ""


def _join_spaced(m: re.Match[str]) -> str:
    chunk = m.group(0)
    joined = _SPACED_SEP.sub("", chunk)
    if not any(c.isalpha() for c in joined) or sum(c.isalpha() for c in joined) < 2:
        return chunk
    return joined


# Multi-digit leet ("m41n", "73mp47"): runs inside a word, or leading a word, become letters; a trailing run
# (brand or price digits: "alexis17", "pulau777") stays unless the word was leetspeak already and the run is short.
_MIXED_TOKEN_RE = re.compile(r"[^\W_]*\d[^\W_]*")
_UNIT_RE = re.compile(r"\d+(?:rb|ribu|jt|juta|m|k|an|x|g|gb|mb|kg|km|cm|mm|ml|th|thn|tahun|hari|jam|menit|"
                      r"detik|st|nd|rd|pm|am|d|p|s)")
_INNER_RUN_RE = re.compile(r"(?<=[^\W\d_])[013457]{2,}(?=[^\W\d_])")
_LEAD_RUN_RE = re.compile(r"^[013457]{2,}(?=[^\W\d_]{2})")
_TRAIL_RUN_RE = re.compile(r"(?<=[^\W\d_])[013457]{1,2}$")


def _leet_token(m: re.Match[str]) -> str:
    w = m.group(0)
    if w.isdigit() or not any(c.isalpha() for c in w) or _UNIT_RE.fullmatch(w):
        return w
    t = _INNER_RUN_RE.sub(lambda r: r.group(0).translate(_LEET_RUN), w)
    t = _LEAD_RUN_RE.sub(lambda r: r.group(0).translate(_LEET_RUN), t)
    tail = _TRAIL_RUN_RE.search(t)
    if tail and t != w and len(set(tail.group(0))) == len(tail.group(0)):
        t = t[: tail.start()] + tail.group(0).translate(_LEET_RUN)
    return t


def _leet(s: str) -> str:
    # digits/$ become letters only next to letters; repeat until stable (each round only turns symbols into
    # letters, so this terminates) so that the result is a fixed point.
    for _ in range(8):
        t = _MIXED_TOKEN_RE.sub(_leet_token, s)
        t = _LEET_RE.sub(lambda m: _LEET[m.group(0)], t)
        t = _LEET_SYM_RE.sub(lambda m: "s" * len(m.group(0)), t)
        if t == s:
            break
        s = t
    return s


def _normalize_once(text: str) -> str:
    s = char_normalize(text)
    if "USER" in s:
        s = _TWEET_USER_RE.sub(" mentiontoken ", s)
    if "URL" in s:
        s = _TWEET_URL_RE.sub(" urltoken ", s)
    s = s.casefold()
    if not s.isascii():
        s = _MARKS.sub("", unicodedata.normalize("NFKC", s)).translate(_TABLE)
        s = _EMOJI.sub(r" \1 ", s)
    s = _WS_RE.sub(" ", s)
    s = _SPACED_RE.sub(_join_spaced, s)
    has_digit = _HAS_DIGITS.search(s)
    if has_digit or "$" in s:
        s = _leet(s)
    if "@" in s:
        s = _EMAIL_RE.sub(" emailtoken ", s)
    if _URL_HINT.search(s):
        s = _URL_RE.sub(" urltoken ", s)
    if "@" in s:
        s = _MENTION_RE.sub(" mentiontoken ", s)
    if has_digit and _LONG_DIGITS.search(s):
        s = _PHONE_RE.sub(" phonetoken ", s)
    s = _REPEAT_RE.sub(r"\1", s)
    return _WS_RE.sub(" ", s).strip()


def normalize(text: str) -> str:
    """Normalise a comment for classification. Never raises; idempotent."""
    if not isinstance(text, str):
        try:
            text = "" if text is None else str(text)
        except Exception:  # noqa: BLE001
            return ""
    try:
        s = _normalize_once(text)
        # Rules can feed each other in rare adversarial inputs (a run collapse creating a domain, a "$" turning
        # into a letter next to a spaced-out word): re-apply until nothing changes. Usually one extra pass on
        # already-normalised ASCII text (cheap).
        for _ in range(4):
            t = _normalize_once(s)
            if t == s:
                break
            s = t
        return s
    except Exception:  # noqa: BLE001 - the normaliser must never raise
        return _WS_RE.sub(" ", text.casefold()).strip()


def find_urls(text: str) -> list[str]:
    """URLs and bare domains (``bit.ly/xx``, ``gacor88.com``) in ``text``, in order of appearance.

    Works on the character-normalised text, so styled/full-width domains are found too; for plain ASCII input the
    returned strings are exactly the substrings of the original text. E-mail addresses are not URLs.
    """
    return list(_urls(text))


# A submission's links are counted for its signals and for the links check, and its URLs read by the
# campaign memory: the last few texts are remembered so each is scanned once (it is pure).
@lru_cache(maxsize=8)
def _urls(text: str) -> tuple[str, ...]:
    try:
        s = char_normalize(text)
        s = _EMAIL_RE.sub(" ", s)
        return tuple(m.group(0).rstrip(".,;:!?") for m in _URL_RE.finditer(s))
    except Exception:  # noqa: BLE001
        return ()


@lru_cache(maxsize=4096)
def _term_pattern(term: str) -> re.Pattern[str] | None:
    t = normalize(term)
    if not t:
        return None
    return re.compile(r"(?<!\w)" + re.escape(t) + r"(?!\w)")


def contains_term(normalized_text: str, term: str) -> bool:
    """Word-boundary match of ``term`` (normalised here as well) in already-normalised text."""
    try:
        pat = _term_pattern(term)
        return bool(pat and pat.search(normalized_text))
    except Exception:  # noqa: BLE001
        return False
