"""Admin endpoints: model registry and hot reload, quality of the models in production."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from dataclasses import asdict

import structlog
from aiohttp import web

from ..appkeys import METRICS, SCORER, SETTINGS, SITE_LEARNER, STORE
from ..artefacts import ModelError
from ..auth import require
from ..domain import Role
from ..errors import ServiceUnavailable
from ..middlewares import LOG_FIELDS
from ..registry import list_versions

log = structlog.get_logger(__name__)
routes = web.RouteTableDef()


@routes.get("/v1/admin/models")
async def list_models(request: web.Request) -> web.Response:
    """Every model version in the models directory, which one is current, which one is serving."""
    await require(request, Role.ADMIN, Role.OPERATOR)
    versions = [asdict(v) for v in list_versions(request.config_dict[SETTINGS].models_dir)]
    return web.json_response({"serving": request.config_dict[SCORER].version, "versions": versions})


@routes.post("/v1/admin/models/reload")
async def reload_models(request: web.Request) -> web.Response:
    """Switch to the version CURRENT points at, without a restart and without failing a request.

    Operator keys only: the model is shared by every site, so no site's admin may switch it.
    """
    await require(request, Role.OPERATOR)
    scorer = request.config_dict[SCORER]
    try:
        previous, version = await scorer.reload()
    except ModelError as exc:
        # The old model keeps serving; say why the new one was refused.
        raise ServiceUnavailable(f"Model not reloaded, still serving {scorer.version}: {exc}",
                                 code="model_reload_failed") from None
    request.config_dict[METRICS].set_model(version)
    request.config_dict[SITE_LEARNER].notify()  # fresh site heads for the new version, replayed from the labels
    request[LOG_FIELDS].update(model_version=version, previous_model_version=previous)
    return web.json_response({"previous": previous, "version": version})


@routes.get("/v1/admin/stats")
async def stats(request: web.Request) -> web.Response:
    """Per model version, how often moderators overturned the automatic decision (for this site)."""
    key = await require(request, Role.ADMIN)
    rows = await request.config_dict[STORE].model_stats(key.site_id)
    return web.json_response({"site_id": key.site_id, "serving": request.config_dict[SCORER].version, "models": rows})


async def reload_on_sighup(app: web.Application) -> AsyncIterator[None]:
    """``kill -HUP <pid>`` reloads the models like the admin endpoint does."""
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()

    async def reload() -> None:
        try:
            previous, version = await app[SCORER].reload()
            app[METRICS].set_model(version)
            app[SITE_LEARNER].notify()
        except ModelError as exc:
            log.error("model_reload_failed", error=str(exc), serving=app[SCORER].version)

    def on_signal() -> None:
        task = loop.create_task(reload())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    try:
        loop.add_signal_handler(signal.SIGHUP, on_signal)
        installed = True
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
        installed = False
    yield
    if installed:
        loop.remove_signal_handler(signal.SIGHUP)
    for task in list(tasks):
        task.cancel()
