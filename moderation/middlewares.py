"""Two middlewares: request context + canonical log line + metrics, and errors → HTTP answers (one mapping)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

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
        metrics = request.config_dict[METRICS]
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


# Renders an error answer (status, the error's JSON shape, headers) in an app's own format.
RenderError = Callable[[int, dict[str, Any], dict[str, str]], web.Response]


def json_error(status: int, payload: dict[str, Any], headers: dict[str, str]) -> web.Response:
    return web.json_response(payload, status=status, headers=headers)


def error_middleware_for(render: RenderError) -> Middleware:
    """The one mapping of errors to HTTP answers; each app (the API, the /moderate page) renders its own way."""

    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ModerationError as exc:
            request[LOG_FIELDS]["error"] = exc.code
            return render(exc.http_status, exc.to_json(), exc.headers())
        except web.HTTPRequestEntityTooLarge:
            too_large = PayloadTooLarge()
            request[LOG_FIELDS]["error"] = too_large.code
            return render(413, too_large.to_json(), {})
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status, "http_error")
            request[LOG_FIELDS]["error"] = code
            headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
            return render(exc.status, {"error": {"code": code, "message": exc.reason}}, headers)
        except Exception:
            log.exception("unhandled_error", route=_route_name(request))
            return render(500, {"error": {"code": "internal_error", "message": "Internal error."}}, {})

    return errors


# The API's errors, as JSON. The /moderate page is a sub-app with its own (web/moderate).
error_middleware = error_middleware_for(json_error)
