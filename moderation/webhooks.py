"""Signed notifications to the site: a durable outbox delivered by one background task.

A decision writes its event (``workflow.StatusChange``: the payload, built once) into ``webhook_outbox``
in the same transaction as the status change, so an event exists exactly when the change does. The
dispatcher (started and stopped by ``app._webhooks_ctx``, woken by ``Moderation.decide``) posts the oldest pending event of each site — in order per site, so a late
"published" can never overtake a "removed" — and retries failures with capped exponential backoff
and jitter. Pending rows are simply still in the table after a restart, so they are picked up again.
Delivery is at least once: receivers de-duplicate on ``event_id``.

Each request carries ``X-Moderation-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``;
the receiver recomputes it with the site's secret and rejects old timestamps (replays).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp
import structlog

from .store import OutboxItem, Store
from .webhook_targets import RefusedAddress, TargetPolicy, check_literal_at_delivery
from .workflow import STATUS_CHANGED

log = structlog.get_logger(__name__)

SIGNATURE_HEADER = "X-Moderation-Signature"
# The longest pause between dispatcher rounds while the store keeps failing (database outage).
MAX_ROUND_BACKOFF = 30.0


@dataclass(frozen=True)
class DeliveryConfig:
    """How the dispatcher paces itself. Defaults suit production; tests shrink every interval."""

    poll_interval: float = 2.0  # seconds between looks at the outbox when nothing wakes the dispatcher
    backoff_base: float = 5.0  # first retry after about this many seconds, then doubling
    backoff_cap: float = 1800.0  # never wait longer than this between two attempts
    max_attempts: int = 60  # then give up (about a day at the cap); an admin can redeliver
    timeout: float = 10.0  # per request
    batch: int = 20  # sites served per round


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: str) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: str, *, now: int, tolerance: int = 300) -> bool:
    """What a receiver does: check the HMAC in constant time and refuse stale timestamps."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).partition(",v1=")[2]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def backoff_delay(attempts: int, config: DeliveryConfig, rng: random.Random) -> float:
    """Capped exponential backoff with equal jitter, so many failing sites do not retry in lockstep."""
    delay = min(config.backoff_cap, config.backoff_base * (2 ** max(attempts - 1, 0)))
    return delay / 2 + rng.uniform(0, delay / 2)


def event_type(payload: str) -> str:
    """The event a stored payload announces (the outbox holds only bodies this service wrote)."""
    try:
        event = json.loads(payload).get("event")
    except (ValueError, AttributeError):
        event = None
    return event if isinstance(event, str) else STATUS_CHANGED


class WebhookDispatcher:
    """Delivers due outbox events until stopped; ``wake()`` makes it look at once after a decision."""

    def __init__(self, store: Store, session: aiohttp.ClientSession, clock: Callable[[], datetime],
                 config: DeliveryConfig, targets: TargetPolicy) -> None:
        self.store = store
        self.targets = targets
        self.session = session
        self.clock = clock
        self.config = config
        self._wake = asyncio.Event()
        self._rng = random.Random()
        self.pause = config.poll_interval  # the current wait between rounds (longer while the store fails)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        failures = 0
        while True:
            self._wake.clear()
            try:
                delivered_any = await self.deliver_due()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001  (a store hiccup must not stop deliveries for good)
                failures += 1
                log.error("webhook_round_failed", error=type(exc).__name__, consecutive=failures)
                delivered_any = False
            if delivered_any:
                continue  # the next event of the same site may be due right away
            # While the database is down, rounds back off (doubling, at most MAX_ROUND_BACKOFF) instead
            # of hammering it; the first round after it returns resets the pace.
            pause = min(self.config.poll_interval * 2 ** failures, max(MAX_ROUND_BACKOFF, self.config.poll_interval))
            self.pause = pause
            try:  # asyncio.timeout, not wait_for, which on 3.11 can swallow the shutdown's cancellation
                async with asyncio.timeout(pause):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def deliver_due(self) -> bool:
        """One round: the oldest pending event of each site, concurrently. True if any was delivered."""
        items = await self.store.due_webhooks(self.clock(), self.config.batch)
        results = await asyncio.gather(*(self.deliver(item) for item in items))
        return any(results)

    async def deliver(self, item: OutboxItem) -> bool:
        timestamp = int(self.clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "moderation-webhooks/1",
            "X-Moderation-Event": event_type(item.payload),
            "X-Moderation-Delivery": str(item.id),
            SIGNATURE_HEADER: sign(item.target.secret, timestamp, item.payload),
        }
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            # The session's GuardedResolver checks names; a literal address never reaches a resolver.
            check_literal_at_delivery(item.target.url, self.targets)
            async with self.session.post(
                item.target.url, data=item.payload.encode("utf-8"), headers=headers, allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.config.timeout),
            ) as response:
                status = response.status
                if not 200 <= status < 300:
                    # Status only: a receiver's body is not ours to keep (and would make the log an SSRF read-out).
                    error = f"HTTP {status}"
        except RefusedAddress as exc:
            error = f"refused: {exc}"[:300]
        except aiohttp.ClientConnectorError as exc:
            # aiohttp wraps the resolver's refusal; say what it was, not "cannot connect".
            refused = exc.os_error if isinstance(exc.os_error, RefusedAddress) else None
            error = f"refused: {refused}"[:300] if refused else f"{type(exc).__name__}: {exc}"[:300]
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:300] if str(exc) else type(exc).__name__
        duration_ms = (time.perf_counter() - started) * 1000
        delivered = error is None
        next_attempt: datetime | None = None
        if not delivered and item.attempts + 1 < self.config.max_attempts:
            delay = backoff_delay(item.attempts + 1, self.config, self._rng)
            next_attempt = self.clock() + timedelta(seconds=delay)
        await self.store.record_webhook_attempt(
            item, at=self.clock(), status_code=status, error=error, duration_ms=duration_ms,
            delivered=delivered, next_attempt_at=next_attempt,
        )
        log.info(
            "webhook_delivery", site_id=item.site_id, outbox_id=item.id, comment_id=item.comment_id,
            attempt=item.attempts + 1, status_code=status, delivered=delivered,
            gave_up=not delivered and next_attempt is None, latency_ms=round(duration_ms, 2),
        )
        return delivered
