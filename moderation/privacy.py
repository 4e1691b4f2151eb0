"""The personal-data lifecycle: erasure on request and retention per site, for the API, the CLI and a timer.

Retention (each site's policy): IP and user agent go ``retain_addresses_days`` after the comment
arrived; rejected and taken-down comments go entirely ``retain_rejected_days`` after that decision
(their training labels stay, text and label only, unlinked). The audit log keeps its events, which
hold no personal data. Erasure anonymises every comment of one e-mail on one site. Both record in
``privacy_events`` that they happened, by whom and how much — never whose data it was.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import structlog
from aiohttp import web
from email_validator import EmailNotValidError

from .appkeys import CLOCK, SETTINGS, STORE
from .errors import ValidationFailed
from .policy import Policy, PolicyBook
from .store import Store
from .validation import normalise_email, text_problem

log = structlog.get_logger(__name__)


def retention_cutoffs(policy: Policy, now: datetime) -> tuple[datetime | None, datetime | None]:
    """(addresses before, rejected before) for ``policy`` at ``now``; None where the site keeps forever."""
    def before(days: float) -> datetime | None:
        return now - timedelta(days=days) if days > 0 else None

    return before(policy.retain_addresses_days), before(policy.retain_rejected_days)


async def purge(store: Store, policies: PolicyBook, now: datetime, *, apply: bool, actor: str,
                ) -> dict[str, dict[str, int]]:
    """Every site's retention: what was removed (``apply``) or would be (a dry run), per site."""
    report = {}
    for site_id in await store.site_ids():
        ip_before, rejected_before = retention_cutoffs(policies.for_site(site_id), now)
        report[site_id] = await store.purge_site(site_id, ip_before=ip_before, rejected_before=rejected_before,
                                                 apply=apply, actor=actor, now=now)
    return report


def erasure_email(value: object) -> str:
    """The e-mail to erase, spelt as stored (normalised, lower-case); else a 422 naming ``author_email``."""
    def invalid(code: str, message: str) -> ValidationFailed:
        return ValidationFailed("Give the author's e-mail address.", code="invalid_erasure",
                                fields={"author_email": [{"code": code, "message": message}]})

    if not isinstance(value, str) or not value.strip():
        raise invalid("required", "The e-mail address whose data to erase.")
    if len(value) > 254 or text_problem(value):
        raise invalid("invalid", "Not an e-mail address.")
    try:
        return normalise_email(value.strip())
    except EmailNotValidError:
        raise invalid("invalid", "Not an e-mail address.") from None


async def erase(store: Store, site_id: str, email: object, *, actor: str, now: datetime) -> dict[str, int]:
    return await store.erase_author(site_id, erasure_email(email), actor=actor, now=now)


async def retention_ctx(app: web.Application) -> AsyncIterator[None]:
    """Apply every site's retention every ``purge_interval_seconds`` (the first run after one interval)."""
    interval = app[SETTINGS].purge_interval_seconds
    if interval <= 0:
        yield
        return

    async def run() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                report = await purge(app[STORE], app[SETTINGS].policy, app[CLOCK](), apply=True, actor="retention")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001  (a store hiccup must not end retention for good)
                log.error("retention_failed", error=type(exc).__name__)
                continue
            removed = {site: counts for site, counts in report.items() if any(counts.values())}
            if removed:
                log.info("retention_applied", sites=removed)

    task = asyncio.get_running_loop().create_task(run(), name="retention")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
