"""One error tree for the whole service, mapped to HTTP in one place (``middlewares.error_middleware``).

    ModerationError                      500 internal_error
    ├── BadRequest                       400 bad_request / malformed_json / invalid_encoding
    ├── Unauthorized                     401 unauthorized
    ├── Forbidden                        403 forbidden
    ├── NotFound                         404 not_found
    ├── RequestTimeout                   408 body_timeout
    ├── Conflict                         409 conflict
    │   ├── DuplicateComment             409 duplicate_comment   (public: existing_id)
    │   ├── IdempotencyConflict          409 idempotency_key_reused
    │   └── StaleRevision                409 stale_revision
    ├── PayloadTooLarge                  413 payload_too_large
    ├── UnsupportedMediaType             415 unsupported_media_type
    ├── ValidationFailed                 422 invalid_submission  (public: fields)
    ├── TooManyRequests                  429 flood               (public: retry_after, also a header)
    └── ServiceUnavailable               503 unavailable
        └── StoreUnavailable             503 store_unavailable   (Retry-After: the database is unreachable or slow)

``message`` and ``public`` are shown to clients; nothing personal (e-mail, IP) ever goes in either.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ModerationError(Exception):
    """Base of every error the service turns into an HTTP answer."""

    http_status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    default_message: ClassVar[str] = "Internal error."

    def __init__(self, message: str | None = None, *, code: str | None = None, **public: Any) -> None:
        self.message = message or self.default_message
        if code is not None:
            self.code = code  # type: ignore[misc]  # instance override of the class default
        self.public = public
        super().__init__(self.message)

    def to_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.public}}

    def headers(self) -> dict[str, str]:
        return {}


class BadRequest(ModerationError):
    http_status = 400
    code = "bad_request"
    default_message = "The request could not be understood."


class Unauthorized(ModerationError):
    http_status = 401
    code = "unauthorized"
    default_message = "A valid API key is required (Authorization: Bearer <key>)."

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="moderation"'}


class Forbidden(ModerationError):
    http_status = 403
    code = "forbidden"
    default_message = "This API key may not do that."


class NotFound(ModerationError):
    http_status = 404
    code = "not_found"
    default_message = "Not found."


class RequestTimeout(ModerationError):
    http_status = 408
    code = "body_timeout"
    default_message = "The request body did not arrive in time."


class Conflict(ModerationError):
    http_status = 409
    code = "conflict"
    default_message = "The request conflicts with the current state."


class DuplicateComment(Conflict):
    code = "duplicate_comment"
    default_message = "Duplicate comment detected; it looks as though you've already said that."


class IdempotencyConflict(Conflict):
    code = "idempotency_key_reused"
    default_message = "This Idempotency-Key was already used with a different request."


class StaleRevision(Conflict):
    code = "stale_revision"
    default_message = "The comment changed since you loaded it; reload and decide again."


class PayloadTooLarge(ModerationError):
    http_status = 413
    code = "payload_too_large"
    default_message = "The request body is too large."


class UnsupportedMediaType(ModerationError):
    http_status = 415
    code = "unsupported_media_type"
    default_message = "Send application/json or application/x-www-form-urlencoded."


class ValidationFailed(ModerationError):
    http_status = 422
    code = "invalid_submission"
    default_message = "The submission has invalid fields."


class TooManyRequests(ModerationError):
    http_status = 429
    code = "flood"
    default_message = "You are posting comments too quickly. Slow down."

    def __init__(self, message: str | None = None, *, retry_after: int, **public: Any) -> None:
        super().__init__(message, retry_after=retry_after, **public)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ServiceUnavailable(ModerationError):
    http_status = 503
    code = "unavailable"
    default_message = "The service is not ready."


class StoreUnavailable(ServiceUnavailable):
    """The database did not answer within its timeout; nothing of the request was stored."""

    code = "store_unavailable"
    default_message = "The database is unavailable; nothing was stored. Try again shortly."

    def __init__(self, message: str | None = None, *, retry_after: int = 2, **public: Any) -> None:
        super().__init__(message, retry_after=retry_after, **public)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}
