"""structlog set-up: JSON lines in production, a readable console on a terminal, no personal data.

``configure_logging`` is called once by the CLI. The redaction processor drops fields that could
carry personal data (e-mail, IP, user agent, author name, the comment body, keys) from every event,
whoever logged them, so a careless ``log.info(..., email=...)`` cannot leak. It looks into nested
dicts and lists, and scrubs e-mail addresses, IP addresses and API keys out of every string,
exception messages included. Tracebacks are rendered without local variables: a handler's locals
hold the whole submission.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import sys
from collections.abc import MutableMapping
from typing import IO, Any

import structlog
from structlog.tracebacks import ExceptionDictTransformer

REDACTED = "[redacted]"
REDACTED_FIELDS = frozenset(
    {
        "email", "author_email", "ip", "author_ip", "remote", "user_agent", "author_name", "content",
        "body", "authorization", "api_key", "key", "token", "password", "secret", "webhook_secret",
        "dsn", "database_url", "cookie", "locals",
    }
)
# Left as they are: set by our own processors, never personal.
_UNSCRUBBED_FIELDS = frozenset({"timestamp", "level", "logger"})
_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_BEARER = re.compile(r"(?i)\b(bearer|api_key=|key=)\s*[^\s&'\"]+")
_OUR_KEY = re.compile(r"\bmod_(?:site|mod|adm)_[A-Za-z0-9_-]+")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])")
# Candidates only: each is confirmed with ``ipaddress`` so times like 06:02:43 are left alone.
_IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}(?:%\w+)?(?![\w:])")
_MAX_DEPTH = 20


def _drop_ip(match: re.Match[str]) -> str:
    try:
        ipaddress.ip_address(match.group().split("%")[0])
    except ValueError:
        return match.group()
    return "[ip]"


def scrub(text: str) -> str:
    """``text`` with e-mail addresses, IP addresses and API keys replaced by placeholders."""
    text = _EMAIL.sub("[email]", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _OUR_KEY.sub(REDACTED, text)
    text = _IPV4.sub(_drop_ip, text)
    return _IPV6.sub(_drop_ip, text)


def _redact_value(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if depth >= _MAX_DEPTH:
        return REDACTED if isinstance(value, (dict, list, tuple)) else value
    if isinstance(value, dict):
        return {k: REDACTED if isinstance(k, str) and k.lower() in REDACTED_FIELDS else _redact_value(v, depth + 1)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redact_value(v, depth + 1) for v in value]
    return value


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Mask personal fields at any depth and scrub personal data out of every string."""
    for name, value in list(event.items()):
        if name.startswith("_") or name in _UNSCRUBBED_FIELDS or name == "exc_info":
            continue  # structlog's own entries; exc_info is rendered (then scrubbed) further on
        if name.lower() in REDACTED_FIELDS:
            event[name] = REDACTED
        else:
            event[name] = _redact_value(value, 0)
    return event


def configure_logging(*, json: bool | None = None, level: int = logging.INFO, stream: IO[str] | None = None) -> None:
    """Configure structlog (and route stdlib logging, e.g. aiohttp's, through the same renderer)."""
    stream = stream if stream is not None else sys.stderr
    if json is None:
        json = not stream.isatty()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # Exceptions become data before redaction sees them, so their messages are scrubbed too; neither
    # form includes local variables.
    exceptions: Any = (
        structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False)) if json
        else structlog.processors.format_exc_info
    )
    renderer: Any = (
        structlog.processors.JSONRenderer() if json
        else structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta, exceptions, redact, renderer,
        ])
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's access log would print client IPs and user agents; our canonical line replaces it.
    logging.getLogger("aiohttp.access").disabled = True
