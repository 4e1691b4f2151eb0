"""``create_app(settings)``: the only way to build the service (no globals, no I/O at import)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import cast

import aiohttp
import structlog
from aiohttp import web

from .appkeys import (
    ABUSE_LIMITS,
    AUTHOR_HASHER,
    CAMPAIGNS,
    CLOCK,
    EXECUTOR,
    FLEET,
    METRICS,
    MODERATION,
    SCORER,
    SETTINGS,
    SITE_LEARNER,
    SITE_MODEL_CONFIG,
    STORE,
    WEBHOOK_CONFIG,
    WEBHOOKS,
)
from .author_hashes import AuthorHasher
from .campaigns import CampaignMemory
from .fleet import ModelFleet
from .metrics import Metrics
from .middlewares import error_middleware, request_context
from .pipeline.scoring import Scorer
from .pipeline.site_model import SiteLearner, SiteModelConfig
from .privacy import retention_ctx
from .ratelimit import AbuseLimits
from .services import Moderation
from .settings import Settings
from .store import Store, open_store
from .store.faults import GuardedStore
from .store.fleet import open_fleet_store
from .web import (
    admin,
    campaigns,
    comments,
    health,
    moderate,
    openapi,
    privacy,
    queue,
    site_status,
)
from .web.body import close_if_body_unread
from .web.compat import akismet, akismet_account, coral, perspective
from .webhook_targets import GuardedResolver
from .webhooks import DeliveryConfig, WebhookDispatcher

log = structlog.get_logger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> web.Application:
    # client_max_size is a backstop; handlers enforce settings.max_body_bytes themselves with a clear 413.
    app = web.Application(
        middlewares=[request_context, error_middleware],
        client_max_size=settings.max_body_bytes + 1024,
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[METRICS] = Metrics()
    app[ABUSE_LIMITS] = AbuseLimits.create(clock)
    app.on_response_prepare.append(close_if_body_unread)
    app.cleanup_ctx.append(_executor_ctx)
    app.cleanup_ctx.append(_store_ctx)
    app.cleanup_ctx.append(_campaigns_ctx)
    app.cleanup_ctx.append(_models_ctx)
    # Tests may replace the config before the app starts (e.g. fewer labels before a head counts).
    app[SITE_MODEL_CONFIG] = SiteModelConfig()
    app.cleanup_ctx.append(_site_learner_ctx)
    app.cleanup_ctx.append(_fleet_ctx)
    app.cleanup_ctx.append(admin.reload_on_sighup)
    # Tests may replace the config before the app starts, to retry in milliseconds.
    app[WEBHOOK_CONFIG] = DeliveryConfig(timeout=settings.webhook_timeout_seconds)
    app.cleanup_ctx.append(_webhooks_ctx)
    app.cleanup_ctx.append(_services_ctx)
    app.cleanup_ctx.append(retention_ctx)
    app.cleanup_ctx.append(openapi.openapi_ctx)
    app.add_routes(health.routes)
    app.add_routes(openapi.routes)
    app.add_routes(comments.routes)
    app.add_routes(admin.routes)
    app.add_routes(queue.routes)
    app.add_routes(site_status.routes)  # decisions made in the site's own admin (wp-admin)
    app.add_routes(campaigns.routes)
    app.add_routes(privacy.routes)
    # The moderator page: a sub-app with its own templates, static files, headers and HTML errors.
    app.add_subapp(moderate.PREFIX, moderate.create_page_app())
    # Drop-in compatibility: Perspective's comments:analyze and Akismet's comment-check (docs/compat.md).
    app.add_routes(perspective.routes)
    app.add_routes(coral.routes)  # Coral Talk's External Moderation Phase
    app.add_routes(akismet.routes)
    app.add_routes(akismet_account.routes)
    return app


async def _executor_ctx(app: web.Application) -> AsyncIterator[None]:
    executor = ThreadPoolExecutor(max_workers=app[SETTINGS].inference_threads, thread_name_prefix="inference")
    app[EXECUTOR] = executor
    yield
    executor.shutdown(wait=True)


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    backend = open_store(settings.effective_database_url, on_commit=app[METRICS].commit_batch.observe,
                         database=settings.database)
    await backend.migrate()
    # Every call bounded by the database timeouts; an unreachable database is a 503, never a hang.
    guarded = GuardedStore(backend, settings.database,
                           on_unavailable=lambda operation: app[METRICS].store_unavailable.labels(operation).inc())
    store = cast(Store, guarded)
    hasher = AuthorHasher.from_settings(settings)
    # Comments stored before the hashes existed get theirs now, so matching covers them too.
    await store.backfill_author_hashes(hasher.email, hasher.ip)
    app[AUTHOR_HASHER] = hasher
    app[STORE] = store
    yield
    await store.close()


async def _campaigns_ctx(app: web.Application) -> AsyncIterator[None]:
    # Empty at start: each site's index is rebuilt from the database on its first comment.
    app[CAMPAIGNS] = CampaignMemory(app[STORE], app[SETTINGS].campaigns, app[CLOCK])
    yield


async def _models_ctx(app: web.Application) -> AsyncIterator[None]:
    # Loaded once at start-up; a missing or tampered model does not stop the service: it reports
    # not ready and holds every comment with reason classifier_unavailable.
    scorer = Scorer(app[SETTINGS].models_dir, app[EXECUTOR])
    scorer.try_load()
    app[SCORER] = scorer
    app[METRICS].set_model(scorer.version)
    yield


async def _site_learner_ctx(app: web.Application) -> AsyncIterator[None]:
    # The heads are rebuilt from the label table in the background; until then scoring uses the shared
    # model alone, so start-up is not delayed by a long replay.
    learner = SiteLearner(app[STORE], app[SCORER], app[SITE_MODEL_CONFIG])
    app[SITE_LEARNER] = learner
    learner.notify()
    task = asyncio.get_running_loop().create_task(learner.run(), name="site-learner")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    learner.close()


async def _webhooks_ctx(app: web.Application) -> AsyncIterator[None]:
    """Start the dispatcher with its HTTP client session; on shutdown cancel it, then close the session."""
    config = app[WEBHOOK_CONFIG]
    targets = app[SETTINGS].webhook_targets
    # No DNS cache: every delivery resolves and checks the name again (no rebinding after registration).
    connector = aiohttp.TCPConnector(resolver=GuardedResolver(targets), use_dns_cache=False)
    session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=config.timeout))
    dispatcher = WebhookDispatcher(app[STORE], session, app[CLOCK], config, targets)
    app[WEBHOOKS] = dispatcher
    task = asyncio.create_task(dispatcher.run(), name="webhook-dispatcher")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await session.close()


async def _services_ctx(app: web.Application) -> AsyncIterator[None]:
    app[MODERATION] = Moderation(
        settings=app[SETTINGS],
        store=app[STORE],
        scorer=app[SCORER],
        metrics=app[METRICS],
        clock=app[CLOCK],
        campaigns=app[CAMPAIGNS],
        site_learner=app[SITE_LEARNER],
        wake_webhooks=app[WEBHOOKS].wake,
        author_hasher=app[AUTHOR_HASHER],
    )
    yield


async def _fleet_ctx(app: web.Application) -> AsyncIterator[None]:
    # Follow the version promoted in the database (moderation.fleet): once before serving, then on a timer.
    settings = app[SETTINGS]
    fleet_store = open_fleet_store(settings.effective_database_url, settings.database)
    await fleet_store.open()

    def switched(previous: str | None, version: str) -> None:
        app[METRICS].set_model(version)
        app[SITE_LEARNER].notify()  # fresh site heads for the new version, replayed from the labels

    fleet = ModelFleet(fleet_store, app[SCORER], settings.fleet, app[METRICS], clock=app[CLOCK], on_switch=switched)
    app[FLEET] = fleet
    try:
        await fleet.sync()
    except Exception as exc:  # noqa: BLE001 - the poller tries again; the model loaded at start serves meanwhile
        log.warning("model_poll_failed", error=type(exc).__name__)
    task = asyncio.get_running_loop().create_task(fleet.run(), name="model-fleet")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await fleet_store.close()
