"""API keys: created once, shown once, stored as a hash; every endpoint names the roles it accepts."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from aiohttp import web

from .appkeys import ABUSE_LIMITS, SETTINGS, STORE
from .domain import ApiKey, Role
from .errors import Forbidden, TooManyRequests, Unauthorized
from .ratelimit import retry_after_seconds

KEY_PREFIXES = {Role.SITE: "mod_site_", Role.MODERATOR: "mod_mod_", Role.ADMIN: "mod_adm_", Role.OPERATOR: "mod_op_"}
API_KEY = web.RequestKey("api_key", ApiKey)
# The one key shape the Akismet WordPress plugin's settings page keeps (it strips every other character).
AKISMET_ALIAS = re.compile(r"[0-9a-f]{12}")


def new_key(role: Role) -> str:
    """A fresh random key; 32 bytes of entropy, so a plain SHA-256 is a safe way to store it."""
    return KEY_PREFIXES[role] + secrets.token_urlsafe(32)


def new_akismet_alias() -> str:
    """12 random hex characters (48 bits): Akismet's key shape, accepted only by the Akismet endpoints."""
    return secrets.token_hex(6)


def is_akismet_alias(token: str) -> bool:
    return AKISMET_ALIAS.fullmatch(token) is not None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate(request: web.Request, token: str | None, *roles: Role) -> ApiKey:
    """The key behind ``token`` if it is valid and has one of ``roles``: else 401 / 403."""
    # Our keys are ASCII; anything else (a header byte decoded as a lone surrogate) cannot be one.
    if not token or len(token) > 200 or not token.isascii():
        raise Unauthorized()
    digest = hash_key(token)
    key = await request.config_dict[STORE].find_api_key(digest)
    # The lookup is by hash already; compare again in constant time so no timing tells a near miss.
    if key is None or key.revoked_at is not None or not hmac.compare_digest(digest, hash_key(token)):
        raise Unauthorized("The API key is missing, unknown or revoked.")
    if key.role not in roles:
        raise Forbidden(f"This endpoint needs a {' or '.join(r.value for r in roles)} key.")
    policy = request.config_dict[SETTINGS].policy.for_site(key.site_id)
    wait = request.config_dict[ABUSE_LIMITS].buckets.take(f"key:{key.role}:{key.id}", policy.key_requests_per_second, policy.key_burst)
    if wait is not None:
        raise TooManyRequests("This API key is making too many requests. Slow down.", code="rate_limited",
                              retry_after=retry_after_seconds(wait), limit="key")
    request[API_KEY] = key
    return key


async def require(request: web.Request, *roles: Role) -> ApiKey:
    """Authenticate the request's bearer key for one of ``roles``."""
    return await authenticate(request, bearer_token(request), *roles)
