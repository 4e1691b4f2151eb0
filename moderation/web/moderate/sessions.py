"""Server-side sessions for the moderator page: a random id in an HttpOnly cookie, only its hash stored.

Each session has its own CSRF token, checked on every POST. It is derived from the session id
(HMAC-SHA256 keyed by it), so the page can render it from the cookie, and only its SHA-256 is stored:
a copy of the database holds neither a usable session id nor a usable CSRF token. The sign-in form,
which has no session yet, uses a double-submit token: a random value in a SameSite=Strict cookie and
in a hidden field.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta

from aiohttp import web

from ...appkeys import CLOCK, SETTINGS, STORE
from ...errors import Forbidden
from ...store import ModeratorSession

SESSION_COOKIE = "mod_session"
SIGNIN_COOKIE = "mod_signin"
LANG_COOKIE = "mod_lang"
COOKIE_PATH = "/moderate"
SIGNIN_TOKEN_AGE = 3600


def hash_session_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def csrf_for(session_id: str) -> str:
    """The session's CSRF token: only the holder of the session cookie can compute it."""
    digest = hmac.new(session_id.encode("utf-8"), b"moderate-csrf", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def hash_csrf(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def session_csrf(request: web.Request) -> str:
    """The CSRF token to render into the signed-in page's forms (from the request's session cookie)."""
    return csrf_for(request.cookies.get(SESSION_COOKIE, ""))


def set_cookie(response: web.StreamResponse, request: web.Request, name: str, value: str, max_age: int,
               *, http_only: bool = True) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path=COOKIE_PATH, httponly=http_only, samesite="Strict",
        secure=request.config_dict[SETTINGS].secure_cookies,
    )


def clear_cookie(response: web.StreamResponse, name: str) -> None:
    response.del_cookie(name, path=COOKIE_PATH)


async def current_session(request: web.Request) -> ModeratorSession | None:
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id or len(session_id) > 100:
        return None
    return await request.config_dict[STORE].find_session(hash_session_id(session_id), request.config_dict[CLOCK]())


async def require_session(request: web.Request) -> ModeratorSession:
    """The signed-in moderator, or a redirect to the sign-in form (expired, revoked or signed out)."""
    session = await current_session(request)
    if session is None:
        raise web.HTTPSeeOther("/moderate/sign-in")
    return session


async def start_session(request: web.Request, response: web.StreamResponse, api_key_id: int) -> None:
    """Create a session for a key that has just signed in and set its cookie on ``response``."""
    session_id = secrets.token_urlsafe(32)
    now = request.config_dict[CLOCK]()
    max_age = request.config_dict[SETTINGS].session_max_age_seconds
    await request.config_dict[STORE].create_session(
        id_hash=hash_session_id(session_id), api_key_id=api_key_id, csrf_hash=hash_csrf(csrf_for(session_id)),
        now=now, expires_at=now + timedelta(seconds=max_age),
    )
    set_cookie(response, request, SESSION_COOKIE, session_id, max_age)


async def end_session(request: web.Request, response: web.StreamResponse) -> None:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        await request.config_dict[STORE].delete_session(hash_session_id(session_id))
    clear_cookie(response, SESSION_COOKIE)


def check_csrf(expected: str | None, submitted: object) -> None:
    """The sign-in form's double-submit check: the cookie's value against the form's."""
    # compare_digest refuses non-ASCII str (TypeError): such a token is simply wrong.
    if (not expected or not isinstance(submitted, str) or not submitted.isascii()
            or not hmac.compare_digest(expected, submitted)):
        raise csrf_failed()


def check_session_csrf(session: ModeratorSession, submitted: object) -> None:
    """A signed-in form's token against the stored hash of the session's token."""
    if not isinstance(submitted, str) or not submitted.isascii() or len(submitted) > 100 or not session.csrf_hash:
        raise csrf_failed()
    if not hmac.compare_digest(session.csrf_hash, hash_csrf(submitted)):
        raise csrf_failed()


def csrf_failed() -> Forbidden:
    return Forbidden("This form has expired or did not come from this page. Reload and try again.",
                     code="csrf_failed")
