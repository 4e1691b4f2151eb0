"""Every shared resource of the app, one typed ``web.AppKey`` each."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from aiohttp import web

from .author_hashes import AuthorHasher
from .campaigns import CampaignMemory
from .fleet import ModelFleet
from .metrics import Metrics
from .pipeline.scoring import Scorer
from .pipeline.site_model import SiteLearner, SiteModelConfig
from .ratelimit import AbuseLimits
from .services import Moderation
from .settings import Settings
from .store import Store
from .webhooks import DeliveryConfig, WebhookDispatcher

SETTINGS = web.AppKey("settings", Settings)
STORE = web.AppKey("store", Store)
SCORER = web.AppKey("scorer", Scorer)
METRICS = web.AppKey("metrics", Metrics)
EXECUTOR = web.AppKey("executor", ThreadPoolExecutor)
# The clock, injected so tests control time (flood interval, form timing).
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")

# The moderator workflow: the webhook dispatcher (started by app.webhooks_ctx) and its pacing.
WEBHOOK_CONFIG = web.AppKey("webhook_config", DeliveryConfig)
WEBHOOKS = web.AppKey("webhooks", WebhookDispatcher)
# The OpenAPI description (moderation/openapi.json), read once at start-up and served as is.
OPENAPI = web.AppKey("openapi", bytes)

# The per-site campaign memory: near-duplicate clusters and signatures learned from moderators.
CAMPAIGNS = web.AppKey("campaigns", CampaignMemory)

# The online per-site heads learnt from moderator decisions (pipeline/site_model.py) and their settings.
SITE_MODEL_CONFIG = web.AppKey("site_model_config", SiteModelConfig)
SITE_LEARNER = web.AppKey("site_learner", SiteLearner)

# The service layer (moderation.services) every handler calls; built once the resources above exist.
MODERATION = web.AppKey("moderation", Moderation)

# Abuse limits kept in memory: token buckets per key and per author, sign-in backoff (ratelimit.py).
ABUSE_LIMITS = web.AppKey("abuse_limits", AbuseLimits)
# Keyed hashes of authors' e-mails and IPs for matching (author_hashes.py), set up beside the store.
AUTHOR_HASHER = web.AppKey("author_hasher", AuthorHasher)
# One model everywhere: the promoted version in the database, followed by every replica.
FLEET = web.AppKey("fleet", ModelFleet)
