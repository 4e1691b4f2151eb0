"""The moderator web page at ``/moderate``: server-rendered (aiohttp-jinja2, autoescaping on), no inline script."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from . import handlers

STATIC_DIR = Path(__file__).resolve().parent.parent.parent / "static"

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


def setup(app: web.Application) -> None:
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("moderation", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    app.add_routes(handlers.routes)
    app.router.add_static("/moderate/static", STATIC_DIR, name="moderate_static", append_version=True)
    app.on_response_prepare.append(_security_headers)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    if not request.path.startswith("/moderate"):
        return
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.path.startswith("/moderate/static/"):
        # Pages show e-mail addresses: keep them out of shared and back-button caches.
        response.headers["Cache-Control"] = "no-store"
