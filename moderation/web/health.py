"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from ..appkeys import FLEET, METRICS, SCORER, STORE

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """The process is alive and serving."""
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Ready when a verified model is loaded and the store answers; 503 with the cause otherwise."""
    checks: dict[str, str] = {}
    scorer = request.config_dict[SCORER]
    checks["models"] = f"ok ({scorer.version})" if scorer.current else f"failed: {scorer.load_error}"
    try:
        await request.config_dict[STORE].ping()
        checks["store"] = "ok"
    except Exception as exc:  # readiness reports the failure instead of raising it
        checks["store"] = f"failed: {type(exc).__name__}"
    ready = all(v.startswith("ok") for v in checks.values())
    # Shown, not counted: a replica that cannot load the promoted version still serves the one it has
    # (taking it out of rotation would turn one bad artefact into an outage of every replica).
    state = request.app[FLEET].state()
    if state.error:
        checks["model_sync"] = f"behind: {state.error}"
    elif state.promoted is not None:
        checks["model_sync"] = f"ok (promoted {state.promoted.version})"
    return web.json_response({"status": "ready" if ready else "not_ready", "checks": checks},
                             status=200 if ready else 503)


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition."""
    body = request.config_dict[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
