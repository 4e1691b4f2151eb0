"""Helpers shared by the drop-in compatibility endpoints (Perspective, Akismet).

Both emulated APIs answer errors in their own shape, so their handlers catch our ``ModerationError``s
themselves; what is common to both lives here: authenticating a site key and reading their booleans.
Scoring and feedback labels are the service layer's (``Moderation.score_texts``, ``add_feedback_label``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...auth import authenticate, bearer_token
from ...domain import ApiKey, Role


async def authenticate_site(request: web.Request, *tokens: str | None) -> ApiKey:
    """The site key given by the first non-empty token (or a bearer header); 401 / 403 otherwise."""
    token = next((t.strip() for t in tokens if t and t.strip()), None) or bearer_token(request)
    return await authenticate(request, token, Role.SITE)


def is_true(value: Any) -> bool:
    """Form and JSON booleans as clients send them: ``1``, ``true``, ``yes``, ``on``."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")
