"""structlog set-up: JSON lines in production, a readable console on a terminal, no personal data.

``configure_logging`` is called once by the CLI. The redaction processor drops fields that could
carry personal data (e-mail, IP, user agent, author name, the comment body, keys) from every event,
whoever logged them, so a careless ``log.info(..., email=...)`` cannot leak.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

REDACTED_KEYS = frozenset(
    {
        "email", "author_email", "ip", "author_ip", "remote", "user_agent", "author_name", "content",
        "body", "authorization", "api_key", "key", "token", "password", "secret", "webhook_secret",
        "dsn", "database_url", "cookie",
    }
)


def redact(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    for name in REDACTED_KEYS.intersection(event):
        event[name] = "[redacted]"
    return event


def configure_logging(*, json: bool | None = None, level: int = logging.INFO) -> None:
    """Configure structlog (and route stdlib logging, e.g. aiohttp's, through the same renderer)."""
    if json is None:
        json = not sys.stderr.isatty()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.processors.dict_tracebacks if json else structlog.dev.set_exc_info,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(foreign_pre_chain=shared, processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer,
        ])
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's access log would print client IPs and user agents; our canonical line replaces it.
    logging.getLogger("aiohttp.access").disabled = True
