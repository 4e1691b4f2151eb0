"""One model everywhere: the promoted version is recorded in the database and every replica follows it.

A promotion (``POST /v1/admin/models/promote`` on any replica, or ``moderation models promote`` with a
database) verifies the version loads, writes a row to ``model_promotions`` (version, action, actor,
time) and moves the models directory's ``CURRENT`` pointer too. Each replica polls the newest row
every ``MODERATION_MODEL_POLL_SECONDS`` (2 s) and hot-reloads when it differs from what it serves
(``Scorer.reload``: requests in flight finish on the old model, none fails).

Artefacts come from the models directory, which every replica mounts (a shared volume): the versions
are 6-7 MB of arrays each, verified by their manifest's hashes on every load, so copying them into the
database would grow every backup and WAL stream by that much per retrain for nothing the hashes do not
already give. Polling rather than ``LISTEN/NOTIFY``: one indexed read per replica every two seconds
costs nothing, works the same on SQLite, and needs no dedicated connection to re-establish after an
outage; "within seconds" is what the issue asks for.

A replica that cannot load the promoted version keeps serving the one it has, reports it in its row
of ``model_replicas``, in ``/readyz`` (``model_sync``) and in ``/metrics``
(``moderation_model_sync_failed``), and tries again at most every ``RETRY_FAILED_SECONDS``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from .artefacts import ModelError, load_model
from .metrics import Metrics
from .pipeline.scoring import Scorer
from .registry import current_version, list_versions, promote_pointer
from .settings import FleetSettings
from .store.fleet import FleetStore, Promotion, ReplicaState, rollback_target

log = structlog.get_logger(__name__)

# A version that failed to load is not retried on every poll (each try reads and hashes megabytes).
RETRY_FAILED_SECONDS = 30.0
# After a failed poll (database down) the next one waits longer, up to this.
MAX_POLL_BACKOFF_SECONDS = 30.0
HISTORY_LIMIT = 200


class PromotionRefused(Exception):
    """The version cannot be promoted (unknown, does not verify, nothing to roll back to)."""

    def __init__(self, message: str, *, nothing_to_roll_back: bool = False) -> None:
        super().__init__(message)
        self.nothing_to_roll_back = nothing_to_roll_back


@dataclass(frozen=True)
class SyncState:
    serving: str | None
    promoted: Promotion | None
    error: str | None  # why the promoted version is not served (None: in step)
    last_poll_ok: bool


class ModelFleet:
    def __init__(self, store: FleetStore, scorer: Scorer, settings: FleetSettings, metrics: Metrics, *,
                 clock: Callable[[], datetime], on_switch: Callable[[str | None, str], None]) -> None:
        self.store = store
        self.metrics = metrics
        self.scorer = scorer
        self.settings = settings
        self.clock = clock
        self._on_switch = on_switch  # told (previous, new) after every hot reload
        self.host = socket.gethostname()
        self.started_at = clock()
        self.replica_id = f"{self.host}:{os.getpid()}:{int(time.time())}"
        self.promoted: Promotion | None = None
        self.error: str | None = None
        self.last_poll_ok = False
        self._failed: tuple[str, float] | None = None  # (version, monotonic time) of the last failed load
        self._lock = asyncio.Lock()
        # False for the command line, which records promotions but serves no model of its own.
        self.sync_local = True

    @property
    def models_dir(self) -> Path:
        return self.scorer.models_dir

    @property
    def wanted(self) -> str | None:
        """The version this replica should serve: the promoted one, else the directory's CURRENT."""
        return self.promoted.version if self.promoted else None

    def state(self) -> SyncState:
        return SyncState(self.scorer.version, self.promoted, self.error, self.last_poll_ok)

    async def sync(self) -> None:
        """One poll: read the promoted version, switch to it if needed, report this replica."""
        async with self._lock:
            try:
                self.promoted = await self.store.latest_promotion()
            except Exception:
                self.last_poll_ok = False
                self.metrics.model_poll_failures.inc()
                raise
            self.last_poll_ok = True
            await self._follow()
            self.metrics.set_promoted(self.wanted, self.error is not None)
            await self._report()

    async def _follow(self) -> None:
        wanted = self.wanted
        if wanted is None or wanted == self.scorer.version:
            self.error = None
            return
        if self._failed and self._failed[0] == wanted and time.monotonic() - self._failed[1] < RETRY_FAILED_SECONDS:
            return  # still failing: keep the error, try again later
        try:
            previous, version = await self.scorer.reload(wanted)
        except ModelError as exc:
            self._failed = (wanted, time.monotonic())
            self.error = f"cannot load promoted version {wanted}: {exc}"
            log.error("model_sync_failed", wanted=wanted, serving=self.scorer.version, error=str(exc))
            return
        self._failed = None
        self.error = None
        log.info("model_synced", previous=previous, version=version)
        self._on_switch(previous, version)

    async def _report(self) -> None:
        await self.store.report_replica(ReplicaState(
            replica_id=self.replica_id, host=self.host, serving=self.scorer.version, wanted=self.wanted,
            error=self.error, started_at=self.started_at, seen_at=self.clock(),
        ))

    async def run(self) -> None:
        """Poll until cancelled; a failed poll (database down) backs off, then polling resumes."""
        delay = self.settings.poll_seconds
        while True:
            await asyncio.sleep(delay)
            try:
                await self.sync()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - an outage must not end the poller
                delay = min(delay * 2, MAX_POLL_BACKOFF_SECONDS)
                log.warning("model_poll_failed", error=type(exc).__name__, next_poll_s=delay)
            else:
                delay = self.settings.poll_seconds

    async def promote(self, version: str, *, actor: str) -> Promotion:
        """Verify ``version`` (``latest``: the newest candidate whose gate passed), record it, switch here."""
        loop = asyncio.get_running_loop()
        resolved = resolve_version(self.models_dir, version)
        try:
            await loop.run_in_executor(None, load_model, self.models_dir, resolved)
        except ModelError as exc:
            raise PromotionRefused(f"version {resolved} does not verify: {exc}") from None
        return await self._record(resolved, "promote", actor)

    async def rollback(self, *, actor: str) -> Promotion:
        """Return to the version promoted before the current one."""
        history = await self.store.promotions(HISTORY_LIMIT)
        target = rollback_target(history)
        if target is None:
            raise PromotionRefused("nothing to roll back to: no earlier promotion is recorded",
                                   nothing_to_roll_back=True)
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, load_model, self.models_dir, target)
        except ModelError as exc:
            raise PromotionRefused(f"the previous version {target} does not verify: {exc}") from None
        return await self._record(target, "rollback", actor)

    async def _record(self, version: str, action: str, actor: str) -> Promotion:
        if not await self.store.promotions(1):
            # The first record: remember what was serving, so the first promotion can be rolled back.
            baseline = self.scorer.version or current_version(self.models_dir)
            if baseline and baseline != version:
                await self.store.record_promotion(baseline, action="promote", actor="baseline", now=self.clock())
        promotion = await self.store.record_promotion(version, action=action, actor=actor, now=self.clock())
        # The shared directory's pointer follows, so a replica started without the database agrees. The
        # database is the record: a read-only models mount only means the pointer stays behind.
        try:
            await asyncio.get_running_loop().run_in_executor(None, promote_pointer, self.models_dir, version)
        except OSError as exc:
            log.warning("model_pointer_not_written", version=version, error=type(exc).__name__)
        log.info("model_promoted", version=version, action=action, actor=actor)
        if self.sync_local:
            await self.sync()  # this replica switches before answering; the others within a poll
        return promotion

    async def overview(self) -> dict[str, Any]:
        """What ``GET /v1/admin/models`` shows: promoted version and history, each live replica."""
        since = self.clock() - timedelta(seconds=self.settings.replica_stale_seconds)
        replicas = await self.store.list_replicas(seen_since=since)
        history = await self.store.promotions(20)
        return {
            "promoted": self.promoted.to_json() if self.promoted else None,
            "history": [p.to_json() for p in history],
            "replicas": [r.to_json() for r in replicas],
            "this_replica": self.replica_id,
        }


def resolve_version(models_dir: Path, version: str) -> str:
    """A version that exists in the models directory (``latest``: newest candidate whose gate passed)."""
    if version == "latest":
        passed = [v for v in list_versions(models_dir) if v.gate and v.gate.get("decision") == "promote"]
        if not passed:
            raise PromotionRefused("no candidate has passed its gate; run `python -m training retrain` first")
        return passed[-1].version
    if not version or "/" in version or version.startswith(".") or not (models_dir / version / "manifest.json").is_file():
        raise PromotionRefused(f"no such model version: {version}")
    return version

