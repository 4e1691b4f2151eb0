"""``GET /v1/openapi.json``: the OpenAPI 3.1 description of the whole HTTP API (``moderation/openapi.json``).

The file is kept by hand next to the handlers; ``tests/test_openapi.py`` checks that it describes every
route of the app and nothing else, and ``tests/test_openapi_fuzz.py`` runs schemathesis against it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from importlib import resources

from aiohttp import web

from ..appkeys import OPENAPI

routes = web.RouteTableDef()


def load_description() -> bytes:
    """The packaged description, as bytes (JSON: serving it needs no YAML library)."""
    return resources.files("moderation").joinpath("openapi.json").read_bytes()


async def openapi_ctx(app: web.Application) -> AsyncIterator[None]:
    app[OPENAPI] = load_description()
    yield


@routes.get("/v1/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    """The description; public, like the API's documentation (it holds no secret)."""
    return web.Response(body=request.config_dict[OPENAPI], content_type="application/json")
