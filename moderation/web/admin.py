"""Admin endpoints: model registry and hot reload, quality of the models in production."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from dataclasses import asdict

import structlog
from aiohttp import web

from ..appkeys import FLEET, METRICS, SCORER, SETTINGS, SITE_LEARNER, STORE
from ..artefacts import ModelError
from ..auth import require
from ..domain import Role
from ..errors import Conflict, ServiceUnavailable, ValidationFailed
from ..fleet import PromotionRefused
from ..middlewares import LOG_FIELDS
from ..registry import list_versions
from .queue import invalid, read_json_object

log = structlog.get_logger(__name__)
routes = web.RouteTableDef()


# Who may reload, promote and roll back the shared model: operators only (no site owns it).
MODEL_ROLES = (Role.OPERATOR,)
# Who may see which versions exist and what each replica serves.
MODEL_READERS = (Role.ADMIN, Role.OPERATOR)


@routes.get("/v1/admin/models")
async def list_models(request: web.Request) -> web.Response:
    """Every version in the models directory, the promoted one, and what each live replica serves."""
    await require(request, *MODEL_READERS)
    versions = [asdict(v) for v in list_versions(request.config_dict[SETTINGS].models_dir)]
    fleet = request.config_dict[FLEET]
    state = fleet.state()
    return web.json_response({"serving": request.config_dict[SCORER].version, "versions": versions,
                              "sync_error": state.error, **await fleet.overview()})


async def _version_from_body(request: web.Request) -> str:
    body = await read_json_object(request)
    version = body.get("version")
    if not isinstance(version, str) or not version or len(version) > 200:
        raise invalid("version", "invalid", "a model version (a folder of the models directory) or 'latest'")
    return version


@routes.post("/v1/admin/models/promote")
async def promote_model(request: web.Request) -> web.Response:
    """Verify a version, record it as promoted (who, when) and switch every replica to it within seconds."""
    key = await require(request, *MODEL_ROLES)
    version = await _version_from_body(request)
    fleet = request.config_dict[FLEET]
    previous = fleet.scorer.version
    try:
        promotion = await fleet.promote(version, actor=f"key:{key.id}")
    except PromotionRefused as exc:
        raise ValidationFailed(str(exc), code="model_not_promotable",
                               fields={"version": [{"code": "not_promotable", "message": str(exc)}]}) from None
    request[LOG_FIELDS].update(model_version=promotion.version, previous_model_version=previous)
    return web.json_response({"previous": previous, "promotion": promotion.to_json(),
                              "serving": fleet.scorer.version, "sync_error": fleet.error})


@routes.post("/v1/admin/models/rollback")
async def rollback_model(request: web.Request) -> web.Response:
    """Return every replica to the version promoted before the current one."""
    key = await require(request, *MODEL_ROLES)
    fleet = request.config_dict[FLEET]
    previous = fleet.scorer.version
    try:
        promotion = await fleet.rollback(actor=f"key:{key.id}")
    except PromotionRefused as exc:
        if exc.nothing_to_roll_back:
            raise Conflict(str(exc), code="nothing_to_roll_back") from None
        raise ServiceUnavailable(str(exc), code="model_rollback_failed") from None
    request[LOG_FIELDS].update(model_version=promotion.version, previous_model_version=previous)
    return web.json_response({"previous": previous, "promotion": promotion.to_json(),
                              "serving": fleet.scorer.version, "sync_error": fleet.error})


@routes.post("/v1/admin/models/reload")
async def reload_models(request: web.Request) -> web.Response:
    """Switch to the promoted version (or CURRENT's), without a restart and without failing a request.

    Operator keys only: the model is shared by every site, so no site's admin may switch it.
    """
    await require(request, *MODEL_ROLES)
    scorer = request.config_dict[SCORER]
    try:
        previous, version = await scorer.reload(request.config_dict[FLEET].wanted)
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
            fleet = app.get(FLEET)  # a signal during start-up comes before the fleet exists
            previous, version = await app[SCORER].reload(fleet.wanted if fleet else None)
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
