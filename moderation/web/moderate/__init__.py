"""The moderator web page at ``/moderate``: a sub-app, server-rendered (aiohttp-jinja2, autoescaping on), no
inline script.

As its own aiohttp application it carries its own answer headers (``page_headers``: a strict
Content-Security-Policy and friends on every answer, ``no-store`` on every page) and renders its own
errors as HTML (the shared error mapping of ``middlewares``, rendered by ``html_error``); the API's JSON
middleware never sees a page request's error.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp.typedefs import Handler

from ...middlewares import error_middleware_for
from . import handlers

PREFIX = "/moderate"
STATIC_DIR = Path(__file__).resolve().parent.parent.parent / "static"
STATIC_ROUTE = "moderate_static"

# No inline script or style anywhere: the page's own files only, no framing, forms post to us only.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def html_error(status: int, payload: dict[str, Any], headers: dict[str, str]) -> web.Response:
    page = (
        "<!doctype html><meta charset=utf-8><title>Error</title>"
        f"<h1>{status}</h1><p>{html.escape(payload['error']['message'])}</p><p><a href={PREFIX}>Back</a></p>"
    )
    return web.Response(status=status, text=page, content_type="text/html", headers=headers)


def _is_static(request: web.Request) -> bool:
    resource = request.match_info.route.resource
    return resource is not None and resource.name == STATIC_ROUTE


def _apply_headers(request: web.Request, headers: Any) -> None:
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    if not _is_static(request):
        # Pages show e-mail addresses: keep them out of shared and back-button caches.
        headers["Cache-Control"] = "no-store"


@web.middleware
async def page_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every answer of the page (pages, redirects, error pages, its static files) gets the page's headers."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # the handlers' redirects
        _apply_headers(request, exc.headers)
        raise
    _apply_headers(request, response.headers)
    return response


def create_page_app() -> web.Application:
    """The /moderate sub-app; mount it with ``app.add_subapp(PREFIX, create_page_app())``."""
    page = web.Application(middlewares=[page_headers, error_middleware_for(html_error)])
    aiohttp_jinja2.setup(
        page,
        loader=jinja2.PackageLoader("moderation", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    page.add_routes(handlers.routes)
    page.router.add_static("/static", STATIC_DIR, name=STATIC_ROUTE, append_version=True)
    return page
