"""Two middlewares: request context + canonical log line + metrics, and errors → HTTP answers."""

from __future__ import annotations

import html
import random
import time
from typing import Any

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from .appkeys import METRICS
from .errors import ModerationError, PayloadTooLarge

log = structlog.get_logger("moderation.http")

# Handlers add fields for the canonical line here (decision, model version...). Never personal data.
LOG_FIELDS = web.RequestKey("log_fields", dict)

_PRIVATE_PREFIX = "/v1/"
_CACHEABLE = frozenset({"/v1/openapi.json"})  # public and the same for everyone


def _route_name(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bind a request id, time the request, and emit one log line and the metrics for it."""
    request_id = request.headers.get("X-Request-ID", "")[:64]
    if not request_id or not request_id.isascii() or not request_id.replace("-", "").isalnum():
        # An id to correlate log lines, not a secret: no need for os.urandom's system call per request.
        request_id = f"{random.getrandbits(128):032x}"
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    request[LOG_FIELDS] = {}
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-ID"] = request_id
        if request.path.startswith(_PRIVATE_PREFIX) and request.path not in _CACHEABLE:
            # API answers carry comments, queue items and (for moderators) e-mails: no cache may keep them.
            response.headers.setdefault("Cache-Control", "no-store")
        return response
    except web.HTTPException as exc:  # redirects raised by page handlers
        status = exc.status
        raise
    finally:
        elapsed = time.perf_counter() - started
        route = _route_name(request)
        metrics = request.app[METRICS]
        metrics.requests.labels(route=route, method=request.method, status=str(status)).inc()
        metrics.latency.labels(route=route).observe(elapsed)
        log.info(
            "request",
            method=request.method,
            route=route,
            status=status,
            latency_ms=round(elapsed * 1000, 2),
            **request[LOG_FIELDS],
        )


def _wants_html(request: web.Request) -> bool:
    return request.path.startswith("/moderate")


def _render(request: web.Request, status: int, payload: dict[str, Any], headers: dict[str, str]) -> web.Response:
    if _wants_html(request):
        error = payload["error"]
        page = (
            "<!doctype html><meta charset=utf-8><title>Error</title>"
            f"<h1>{status}</h1><p>{html.escape(error['message'])}</p><p><a href=/moderate>Back</a></p>"
        )
        return web.Response(status=status, text=page, content_type="text/html", headers=headers)
    return web.json_response(payload, status=status, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one place where errors become HTTP answers: JSON for the API, HTML for the page."""
    try:
        return await handler(request)
    except ModerationError as exc:
        request[LOG_FIELDS]["error"] = exc.code
        return _render(request, exc.http_status, exc.to_json(), exc.headers())
    except web.HTTPRequestEntityTooLarge:
        exc2 = PayloadTooLarge()
        request[LOG_FIELDS]["error"] = exc2.code
        return _render(request, 413, exc2.to_json(), {})
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status, "http_error")
        request[LOG_FIELDS]["error"] = code
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
        return _render(request, exc.status, {"error": {"code": code, "message": exc.reason}}, headers)
    except Exception:
        log.exception("unhandled_error", route=_route_name(request))
        return _render(request, 500, {"error": {"code": "internal_error", "message": "Internal error."}}, {})
