"""The yardstick: a bare aiohttp endpoint that reads and parses the same body and answers a small JSON.

    python bench/bare_server.py PORT

It uses the same event loop (uvloop) and JSON library (orjson) as the service, so the ratio
service / bare measures our request path, not a library choice.
"""

from __future__ import annotations

import sys

import orjson
from aiohttp import web


async def submit(request: web.Request) -> web.Response:
    data = orjson.loads(await request.read())
    body = orjson.dumps({"id": len(data), "decision": "publish", "status": "published"})
    return web.Response(body=body, status=201, content_type="application/json")


async def ready(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def main() -> None:
    app = web.Application()
    app.router.add_post("/v1/comments", submit)
    app.router.add_get("/readyz", ready)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows
        loop_factory = None
    else:
        loop_factory = uvloop.new_event_loop
    import asyncio

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(_serve(app, int(sys.argv[1])))


async def _serve(app: web.Application, port: int) -> None:
    import asyncio

    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


if __name__ == "__main__":
    main()
