"""``DELETE /v1/authors``: erase one author's personal data on the admin's own site."""

from __future__ import annotations

from aiohttp import web

from ..appkeys import CLOCK, STORE
from ..auth import require
from ..domain import Role
from ..middlewares import LOG_FIELDS
from ..privacy import erase
from .queue import read_json_object

routes = web.RouteTableDef()


@routes.delete("/v1/authors")
async def erase_author(request: web.Request) -> web.Response:
    """Anonymise every comment of ``author_email`` on this site; the answer says how much was touched."""
    key = await require(request, Role.ADMIN)
    body = await read_json_object(request)
    counts = await erase(request.app[STORE], key.site_id, body.get("author_email"), actor=f"key:{key.id}",
                         now=request.app[CLOCK]())
    request[LOG_FIELDS].update(erased_comments=counts["comments"])  # how many, never whose
    return web.json_response({"site_id": key.site_id, "erased": counts})
