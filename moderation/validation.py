"""Turn a request body into a validated ``Submission``, or say which fields are wrong.

Limits follow WordPress's comment form so a site can forward what its readers typed:
name ≤ 245 characters, e-mail ≤ 100, URL ≤ 200, content ≤ 65,525 bytes.
Every failing field is reported at once; messages never echo the value back (it may be an e-mail).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

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


def decode_body(body: bytes, content_type: str) -> dict[str, Any]:
    """Bytes → a flat dict of fields; 415 for other content types, 400 for broken JSON or UTF-8."""
    if content_type not in ("application/json", "application/x-www-form-urlencoded"):
        raise UnsupportedMediaType()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The request body is not valid UTF-8.", code="invalid_encoding") from None
    if content_type == "application/json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise BadRequest(f"Malformed JSON: {exc.msg} at position {exc.pos}.", code="malformed_json") from None
        if not isinstance(data, dict):
            raise BadRequest("The JSON body must be an object.", code="malformed_json")
        return data
    from urllib.parse import parse_qsl

    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, errors="strict", max_num_fields=100)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"Malformed form body: {exc}", code="bad_request") from None
    data: dict[str, Any] = {}
    for key, value in pairs:
        data[WORDPRESS_FIELDS.get(key, key)] = value
    # WordPress sends comment_parent=0 for a top-level comment.
    if data.get("parent_id") in ("0", ""):
        data["parent_id"] = None
    return data


class _Errors:
    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.fields: dict[str, list[dict[str, str]]] = {}

    def add(self, field: str, code: str, key: str | None = None, **params: object) -> None:
        self.fields.setdefault(field, []).append(
            {"code": code, "message": i18n.message(self.lang, key or code, **params)}
        )


def _text(raw: Mapping[str, Any], name: str, errors: _Errors, *, required: bool, max_chars: int) -> str | None:
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
    value = value.strip()
    if "\x00" in value:
        errors.add(name, "invalid")
        return None
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
    author_name = _text(raw, "author_name", errors, required=True, max_chars=MAX_NAME_CHARS)

    author_email = _text(raw, "author_email", errors, required=True, max_chars=MAX_EMAIL_CHARS)
    if author_email is not None:
        try:
            # No DNS look-ups on the request path: deliverability is not checked.
            author_email = validate_email(author_email, check_deliverability=False).normalized
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
        if "\x00" in content:
            errors.add("content", "invalid")
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
        if isinstance(raw_parent, bool):
            errors.add("parent_id", "invalid_type", expected="a comment id")
        else:
            try:
                parent_id = int(str(raw_parent).strip())
                if parent_id <= 0 or parent_id > 2**62:
                    raise ValueError
            except ValueError:
                errors.add("parent_id", "invalid_type", expected="a comment id")
                parent_id = None

    author_ip = _text(raw, "author_ip", errors, required=False, max_chars=64)
    if author_ip is not None:
        try:
            author_ip = str(ipaddress.ip_address(author_ip))
        except ValueError:
            errors.add("author_ip", "invalid", "invalid_ip")
            author_ip = None

    user_agent = _text(raw, "user_agent", errors, required=False, max_chars=MAX_USER_AGENT_CHARS)
    referrer = _text(raw, "referrer", errors, required=False, max_chars=MAX_REFERRER_CHARS)
    lang_field = _text(raw, "lang", errors, required=False, max_chars=16)

    honeypot = raw.get("honeypot")
    if honeypot is not None and not isinstance(honeypot, str):
        honeypot = str(honeypot)
    honeypot = honeypot.strip()[:1000] if honeypot else None

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
    if len(text) < 20 or len(text) > 40 or text[10] not in "Tt ":
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    if parsed.tzinfo is None:  # RFC 3339 requires an offset
        return None
    return parsed.astimezone(timezone.utc)
