"""The Akismet account calls that clients make beside comment-check, answered plainly.

The WordPress plugin's settings page asks ``get-subscription`` (to show the key as active), ``get-stats``
and, on deactivation, ``deactivate``; other clients ask ``/1.2/usage-limit`` and ``/1.2/key-sites``.
There is no subscription, quota or per-site usage here, so each answers the shape Akismet documents
with what is true of this service: an active key without a limit, not throttled, no statistics kept
(the moderators' numbers are on ``/moderate`` and ``GET /v1/queue/counts``). Jetpack's
``verify-wpcom-key`` has no meaning without WordPress.com: ``invalid``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .akismet import AkismetInvalid, akismet_errors, authenticate_params, read_params, text

routes = web.RouteTableDef()


def json_answer(body: dict[str, Any]) -> web.Response:
    return web.json_response(body)


@routes.route("*", "/1.1/get-subscription")
@akismet_errors
async def get_subscription(request: web.Request) -> web.Response:
    """An active key with no billing: what the plugin's settings page needs to call the key valid."""
    key = await authenticate_params(request, await read_params(request))
    return json_answer({
        "account_id": key.id,
        "account_name": f"moderation: {key.site_id}",
        "account_type": "self-hosted",
        "status": "active",
        "next_billing_date": None,
    })


@routes.route("*", "/1.1/get-stats")
@akismet_errors
async def get_stats(request: web.Request) -> web.Response:
    """No Akismet-style statistics are kept: zeros (the plugin then shows no statistics panel)."""
    await authenticate_params(request, await read_params(request))
    return json_answer({"spam": 0, "ham": 0, "missed_spam": 0, "false_positives": 0, "accuracy": 0,
                        "time_saved": 0, "breakdown": {}})


@routes.route("*", "/1.1/deactivate")
@akismet_errors
async def deactivate(request: web.Request) -> web.Response:
    """The plugin says goodbye when it is deactivated; nothing is kept per installation."""
    await authenticate_params(request, await read_params(request))
    return text("deactivated")


@routes.route("*", "/1.1/verify-wpcom-key")
@akismet_errors
async def verify_wpcom_key(request: web.Request) -> web.Response:
    """Jetpack's WordPress.com account check has no counterpart here."""
    await read_params(request)
    raise AkismetInvalid("WordPress.com accounts do not exist here: enter the Akismet alias as the API key.")


@routes.route("*", "/1.2/usage-limit")
@akismet_errors
async def usage_limit(request: web.Request) -> web.Response:
    """No quota: ``limit: none``, never throttled."""
    await authenticate_params(request, await read_params(request))
    return json_answer({"limit": "none", "usage": 0, "percentage": "0", "throttled": False})


@routes.route("*", "/1.2/key-sites")
@akismet_errors
async def key_sites(request: web.Request) -> web.Response:
    """Which sites used the key: not recorded here (comment-check stores nothing), so none listed."""
    params = await read_params(request)
    await authenticate_params(request, params)
    if params.get("format") == "csv":
        return text("Site,Total API calls,Spam,Ham,Missed spam,False positives,Is revoked\n")
    return json_answer({"limit": 10, "offset": 0, "total": 0, "sites": []})
