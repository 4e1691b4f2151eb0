"""Errors answered in Perspective's JSON shape (``{"error": {"code", "message", "status", "details"}}``).

``perspective_errors`` wraps each handler: our own ``ModerationError``s and a missing model are
translated here, never answered in this service's JSON shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

import structlog
from aiohttp import web

from ...errors import (
    BadRequest,
    ModerationError,
    PayloadTooLarge,
    RequestTimeout,
    TooManyRequests,
    Unauthorized,
)
from ...middlewares import LOG_FIELDS
from ...pipeline.scoring import ScoringUnavailable

log = structlog.get_logger(__name__)

ERROR_TYPE = "type.googleapis.com/google.commentanalyzer.v1alpha1.Error"


class PerspectiveError(Exception):
    """An error answered in Perspective's shape."""

    def __init__(
        self, http: int, status: str, message: str, error_type: str | None = None, **detail: Any
    ) -> None:
        super().__init__(message)
        self.http, self.status, self.message = http, status, message
        self.error_type, self.detail = error_type, detail

    def response(self) -> web.Response:
        error: dict[str, Any] = {"code": self.http, "message": self.message, "status": self.status}
        if self.error_type is not None:
            error["details"] = [{"@type": ERROR_TYPE, "errorType": self.error_type, **self.detail}]
        return web.json_response({"error": error}, status=self.http)


def invalid(message: str, error_type: str | None = "INVALID_REQUEST", **detail: Any) -> PerspectiveError:
    return PerspectiveError(400, "INVALID_ARGUMENT", message, error_type, **detail)


Handler = Callable[[web.Request], Awaitable[web.Response]]


def perspective_errors(handler: Handler) -> Handler:
    """Answer every failure of ``handler`` in Perspective's error shape (not our own JSON shape)."""

    @wraps(handler)
    async def wrapped(request: web.Request) -> web.Response:
        try:
            if request.method != "POST":
                raise PerspectiveError(404, "NOT_FOUND", "Method not found.")
            return await handler(request)
        except PerspectiveError as exc:
            request[LOG_FIELDS]["error"] = exc.error_type or exc.status
            return exc.response()
        except Unauthorized:
            request[LOG_FIELDS]["error"] = "API_KEY_INVALID"
            return _key_error(request).response()
        except PayloadTooLarge:
            request[LOG_FIELDS]["error"] = "COMMENT_TOO_LONG"
            return invalid("Comment text too long.", "COMMENT_TOO_LONG").response()
        except RequestTimeout as exc:
            request[LOG_FIELDS]["error"] = exc.code
            return PerspectiveError(408, "DEADLINE_EXCEEDED", exc.message).response()
        except TooManyRequests as exc:  # the key's bucket is empty: Google answers 429 RESOURCE_EXHAUSTED
            request[LOG_FIELDS]["error"] = exc.code
            response = PerspectiveError(429, "RESOURCE_EXHAUSTED", exc.message).response()
            response.headers.update(exc.headers())
            return response
        except BadRequest as exc:  # the body ended before it was complete
            request[LOG_FIELDS]["error"] = exc.code
            return PerspectiveError(400, "INVALID_ARGUMENT", exc.message).response()
        except ModerationError as exc:  # 403: a key of another role
            request[LOG_FIELDS]["error"] = exc.code
            return PerspectiveError(403, "PERMISSION_DENIED", exc.message).response()
        except ScoringUnavailable:
            request[LOG_FIELDS]["error"] = "UNAVAILABLE"
            return PerspectiveError(503, "UNAVAILABLE", "The service is currently unavailable.").response()
        except Exception:
            log.exception("unhandled_error", route=request.path)
            return PerspectiveError(500, "INTERNAL", "Internal error encountered.").response()

    return wrapped


def _key_error(request: web.Request) -> PerspectiveError:
    if not _token(request):
        return PerspectiveError(
            403, "PERMISSION_DENIED",
            "The request is missing a valid API key.",
        )
    return PerspectiveError(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.")


def _token(request: web.Request) -> str | None:
    return request.query.get("key") or request.headers.get("X-Goog-Api-Key")
