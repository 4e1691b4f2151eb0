"""Turn a request body into a validated ``Submission``, or say which fields are wrong.

Limits follow WordPress's comment form so a site can forward what its readers typed:
name ≤ 245 characters, e-mail ≤ 100, URL ≤ 200, content ≤ 65,525 bytes.
Every failing field is reported at once; messages never echo the value back (it may be an e-mail).

This module is also the input boundary shared by every endpoint: strict JSON (``parse_json``: bounded
depth, no NaN/Infinity, numbers in range), strict UTF-8 forms (``parse_form``), and the text and number
rules (``text_problem``, ``clean_name``, ``parse_id``) that keep lone surrogates, NUL and other control
characters, and integers the database cannot hold from ever reaching a store.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from email_validator import EmailNotValidError, validate_email
from multidict import MultiDict, MultiDictProxy

from . import i18n
from .domain import Submission
from .errors import BadRequest, UnsupportedMediaType, ValidationFailed

MAX_NAME_CHARS = 245
MAX_EMAIL_CHARS = 100
MAX_URL_CHARS = 200
MAX_CONTENT_BYTES = 65_525
MAX_ARTICLE_ID_CHARS = 200
MAX_USER_AGENT_CHARS = 512
MAX_REFERRER_CHARS = 2048
MAX_HONEYPOT_CHARS = 1000
# Both databases store signed 64-bit integers: a larger id cannot exist, and must not reach a query.
MAX_DB_INT = 2**63 - 1
# Deeper JSON than any of our bodies needs; checked before parsing, so nesting can never recurse deeply.
MAX_JSON_DEPTH = 32
MAX_FORM_FIELDS = 1000
# Lone surrogates cannot be stored as UTF-8; control characters (C0, DEL, C1) have no place in text.
# Multi-line text (comments, notes) keeps tab, newline and carriage return.
_BAD_MULTILINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_BAD_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# Invisible characters that make one name look like another (bidi embeddings, overrides and isolates,
# zero-width spaces and joiners, the BOM, soft hyphen). Stripped from names only: in comment text
# they are evidence of obfuscation the normaliser looks for.
_INVISIBLE_IN_NAMES = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_ASCII_ID = re.compile(r"[0-9]{1,19}")
# A honeypot holding one of these (any case) was left alone: HTML forms and JSON clients send them for "empty".
HONEYPOT_EMPTY = frozenset({"", "0", "false", "off", "no", "null"})
# form_rendered_at outside these years is a forged or broken value, not a real form's time.
MIN_YEAR, MAX_YEAR = 2000, 9000

# WordPress comment-form names → our field names, so a site can forward its form post unchanged.
WORDPRESS_FIELDS = {
    "author": "author_name",
    "email": "author_email",
    "url": "author_url",
    "comment": "content",
    "comment_post_ID": "article_id",
    "comment_parent": "parent_id",
}

FIELDS = (
    "article_id", "author_name", "author_email", "content", "author_url", "parent_id", "author_ip",
    "user_agent", "referrer", "honeypot", "form_rendered_at", "lang",
)


def json_depth_ok(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether parsed JSON nests at most ``limit`` levels (walked level by level: no recursion, linear)."""
    level = [value] if isinstance(value, (dict, list)) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return False
        level = [child for node in level for child in (node.values() if isinstance(node, dict) else node)
                 if isinstance(child, (dict, list))]
    return True


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):  # 1e400 parses to infinity
        raise ValueError("number out of range")
    return value


def parse_json(body: bytes) -> Any:
    """Strict JSON: valid UTF-8, depth-bounded, no NaN/Infinity, numbers in range; 400 otherwise."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The request body is not valid UTF-8.", code="invalid_encoding") from None
    # The C decoder stops cleanly (RecursionError) at the interpreter's recursion limit; anything deeper
    # than MAX_JSON_DEPTH that it did parse is refused before any code walks it recursively.
    # (A pre-scan with a regular expression was quadratic on unterminated strings: not used.)
    try:
        data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"Malformed JSON: {exc.msg} at position {exc.pos}.", code="malformed_json") from None
    except RecursionError:
        raise BadRequest(f"Malformed JSON: nested deeper than {MAX_JSON_DEPTH} levels.",
                         code="malformed_json") from None
    except ValueError as exc:  # NaN, 1e400, an integer of more than 4300 digits
        raise BadRequest(f"Malformed JSON: {exc}.", code="malformed_json") from None
    # Fewer brackets than the limit cannot nest past it: ordinary bodies skip the walk.
    if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH and not json_depth_ok(data):
        raise BadRequest(f"Malformed JSON: nested deeper than {MAX_JSON_DEPTH} levels.", code="malformed_json")
    return data


def parse_form(body: bytes) -> MultiDictProxy[str]:
    """An urlencoded body in strict UTF-8 (400 otherwise), every value kept in order."""
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=MAX_FORM_FIELDS)
    except UnicodeDecodeError:
        raise BadRequest("The request body is not valid UTF-8.", code="invalid_encoding") from None
    except ValueError as exc:  # too many fields
        raise BadRequest(f"Malformed form body: {exc}", code="bad_request") from None
    return MultiDictProxy(MultiDict(pairs))


def text_problem(value: str, *, multiline: bool = False) -> bool:
    """True when ``value`` holds a lone surrogate or a control character (tab/CR/LF allowed if multi-line)."""
    return (_BAD_MULTILINE if multiline else _BAD_LINE).search(value) is not None


def clean_name(value: str) -> str:
    """A display name without bidi controls and zero-width characters (so it shows what it says)."""
    return _INVISIBLE_IN_NAMES.sub("", value).strip()


def parse_id(value: Any) -> int | None:
    """A positive database id from a JSON integer or a string of ASCII digits; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not _ASCII_ID.fullmatch(value):  # int() would also take "١٢", "1_000" and " 12 "
            return None
        value = int(value)
    if not isinstance(value, int) or not 1 <= value <= MAX_DB_INT:
        return None
    return value


def normalise_email(value: str) -> str:
    """The e-mail as stored: email-validator's normal form, lower-cased. Raises ``EmailNotValidError``."""
    # No DNS look-ups on the request path: deliverability is not checked. Lower-cased so the duplicate
    # and flood checks (and author history) match Budi@… and budi@… alike on every backend; no mail
    # provider we serve treats them apart.
    return validate_email(value, check_deliverability=False).normalized.lower()


def normalise_ip(value: str) -> str:
    """The canonical text of an IP address; an IPv4-mapped IPv6 address (``::ffff:1.2.3.4``) is the IPv4 one.

    Raises ``ValueError`` for anything that is not an address.
    """
    address = ipaddress.ip_address(value)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def honeypot_filled(value: Any) -> bool | None:
    """Whether a honeypot value means a bot filled it in; None when it is not a scalar.

    Filled: ``true``, a non-zero number, or text other than blank / 0 / false / off / no / null.
    """
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        return value.strip().lower() not in HONEYPOT_EMPTY
    return None


def decode_body(body: bytes, content_type: str) -> dict[str, Any]:
    """Bytes → a flat dict of fields; 415 for other content types, 400 for broken JSON or UTF-8."""
    if content_type not in ("application/json", "application/x-www-form-urlencoded"):
        raise UnsupportedMediaType()
    if content_type == "application/json":
        data = parse_json(body)
        if not isinstance(data, dict):
            raise BadRequest("The JSON body must be an object.", code="malformed_json")
        return data
    form: dict[str, Any] = {}
    for key, value in parse_form(body).items():
        form[WORDPRESS_FIELDS.get(key, key)] = value
    # WordPress sends comment_parent=0 for a top-level comment.
    if form.get("parent_id") in ("0", ""):
        form["parent_id"] = None
    return form


class _Errors:
    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.fields: dict[str, list[dict[str, str]]] = {}

    def add(self, field: str, code: str, key: str | None = None, **params: object) -> None:
        self.fields.setdefault(field, []).append(
            {"code": code, "message": i18n.message(self.lang, key or code, **params)}
        )


def _text(raw: Mapping[str, Any], name: str, errors: _Errors, *, required: bool, max_chars: int,
          multiline: bool = False, is_name: bool = False) -> str | None:
    value = raw.get(name)
    if value is None:
        if required:
            errors.add(name, "required")
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and name in ("article_id",):
        value = str(value)
    if not isinstance(value, str):
        errors.add(name, "invalid_type", expected="text")
        return None
    if text_problem(value, multiline=multiline):
        errors.add(name, "invalid_characters")
        return None
    value = clean_name(value) if is_name else value.strip()
    if not value:
        if required:
            errors.add(name, "required")
        return None
    if len(value) > max_chars:
        errors.add(name, "too_long", limit=f"{max_chars} characters")
        return None
    return value


def validate_submission(raw: Mapping[str, Any], lang: str = "en") -> Submission:
    """Check every field; raise ``ValidationFailed`` listing all failing fields."""
    errors = _Errors(lang)
    article_id = _text(raw, "article_id", errors, required=True, max_chars=MAX_ARTICLE_ID_CHARS)
    author_name = _text(raw, "author_name", errors, required=True, max_chars=MAX_NAME_CHARS, is_name=True)

    author_email = _text(raw, "author_email", errors, required=True, max_chars=MAX_EMAIL_CHARS)
    if author_email is not None:
        try:
            author_email = normalise_email(author_email)
        except EmailNotValidError:
            errors.add("author_email", "invalid", "invalid_email")
            author_email = None

    content = raw.get("content")
    if content is None or (isinstance(content, str) and not content.strip()):
        errors.add("content", "required")
        content = None
    elif not isinstance(content, str):
        errors.add("content", "invalid_type", expected="text")
        content = None
    else:
        content = content.strip()
        if text_problem(content, multiline=True):
            errors.add("content", "invalid_characters")
            content = None
        elif len(content.encode("utf-8")) > MAX_CONTENT_BYTES:
            errors.add("content", "too_long", limit=f"{MAX_CONTENT_BYTES} bytes")
            content = None

    author_url = _text(raw, "author_url", errors, required=False, max_chars=MAX_URL_CHARS)
    if author_url is not None:
        parts = urlsplit(author_url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname or any(c.isspace() for c in author_url):
            errors.add("author_url", "invalid", "invalid_url")
            author_url = None

    parent_id: int | None = None
    raw_parent = raw.get("parent_id")
    if raw_parent not in (None, "", 0):
        parent_id = parse_id(raw_parent)
        if parent_id is None:
            errors.add("parent_id", "invalid_type", expected="a comment id")

    author_ip = _text(raw, "author_ip", errors, required=False, max_chars=64)
    if author_ip is not None:
        try:
            author_ip = normalise_ip(author_ip)
        except ValueError:
            errors.add("author_ip", "invalid", "invalid_ip")
            author_ip = None

    user_agent = _text(raw, "user_agent", errors, required=False, max_chars=MAX_USER_AGENT_CHARS)
    referrer = _text(raw, "referrer", errors, required=False, max_chars=MAX_REFERRER_CHARS)
    lang_field = _text(raw, "lang", errors, required=False, max_chars=16)

    raw_honeypot = raw.get("honeypot")
    filled = honeypot_filled(raw_honeypot)
    honeypot: str | None = None
    if filled is None:
        errors.add("honeypot", "invalid_type", expected="text, a number or a boolean")
    elif filled:
        text = str(raw_honeypot).strip() if not isinstance(raw_honeypot, str) else raw_honeypot.strip()
        # Only a marker is kept: what a bot typed there may be anything, and is never shown.
        honeypot = text[:MAX_HONEYPOT_CHARS] if not text_problem(text, multiline=True) else "filled"

    form_rendered_at: datetime | None = None
    raw_rendered = raw.get("form_rendered_at")
    if raw_rendered not in (None, ""):
        if not isinstance(raw_rendered, str):
            errors.add("form_rendered_at", "invalid", "invalid_datetime")
        else:
            form_rendered_at = _parse_rfc3339(raw_rendered)
            if form_rendered_at is None:
                errors.add("form_rendered_at", "invalid", "invalid_datetime")

    if errors.fields:
        raise ValidationFailed(i18n.message(lang, "invalid_submission"), fields=errors.fields)
    assert article_id and author_name and author_email and content  # guaranteed by the checks above
    return Submission(
        article_id=article_id,
        author_name=author_name,
        author_email=author_email,
        content=content,
        author_url=author_url,
        parent_id=parent_id,
        author_ip=author_ip,
        user_agent=user_agent,
        referrer=referrer,
        honeypot=honeypot,
        form_rendered_at=form_rendered_at,
        lang=lang_field,
    )


def _parse_rfc3339(value: str) -> datetime | None:
    text = value.strip()
    if not text.isascii() or len(text) < 20 or len(text) > 40 or text[10] not in "Tt ":
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    if parsed.tzinfo is None:  # RFC 3339 requires an offset
        return None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:  # also keeps the conversion to UTC from overflowing
        return None
    return parsed.astimezone(UTC)
