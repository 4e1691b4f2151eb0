"""Storage: one async interface (``Store``), one module per backend, chosen by URL scheme.

``sqlite:///path`` (default, one replica) → ``moderation.store.sqlite``;
``postgresql://...`` (several replicas) → ``moderation.store.postgres``.

The rules are not here: what a decision or a report writes, the webhook event, the duplicate and flood
admission and the label vocabulary live once in ``moderation.workflow`` and ``moderation.labels``. Each
backend runs those pure functions inside its own transaction and keeps only its SQL. The backends differ
only where their concurrency does: SQLite has one writer thread per process, so a read-then-write is
atomic without locks; PostgreSQL serves several replicas at once, so it takes advisory and row locks and
leases the webhook events it claims (``postgres.py`` says which lock closes which race). Both record a
webhook attempt only against the claim it was made under (``attempts`` is the fencing token).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from ..domain import ApiKey, Comment, Role, Status, Submission, Verdict

# The workflow's records are what the store persists; re-exported for the callers that speak to the store.
from ..labels import REASON_KINDS as REASON_KINDS
from ..labels import REJECT_LABELS as REJECT_LABELS
from ..settings import DatabaseSettings
from ..workflow import COMMENT_CREATED as COMMENT_CREATED
from ..workflow import DEFAULT_WEBHOOK_EVENT_TYPES, AuthorStanding, Edit
from ..workflow import STATUS_CHANGED as STATUS_CHANGED
from ..workflow import ModeratorAction as ModeratorAction
from ..workflow import ModeratorDecision as ModeratorDecision
from ..workflow import TrainingLabel as TrainingLabel


@dataclass(frozen=True)
class IdempotentResponse:
    request_hash: str
    comment_id: int
    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class NewComment:
    site_id: str
    submission: Submission
    verdict: Verdict
    content_hash: str
    signals: dict[str, Any]
    # The campaign memory's near-duplicate cluster (None: the comment starts its own) and MinHash.
    cluster_id: int | None = None
    minhash: bytes | None = field(default=None, repr=False)
    # Keyed hashes of the e-mail and IP (author_hashes.py): duplicate and flood checks match on these
    # when given, and they outlive the raw IP's retention. None: match on the raw values.
    email_hash: str | None = field(default=None, repr=False)
    ip_hash: str | None = field(default=None, repr=False)


# Renders the site's answer from the stored comment, inside the insert transaction, so the
# idempotency record holds exactly what the first request got back.
RenderResponse = Callable[[Comment], dict[str, Any]]


class Store(Protocol):
    async def migrate(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> None:
        """Raise if the store cannot be reached."""

    # Sites and keys
    async def ensure_site(self, site_id: str, now: datetime) -> None: ...
    async def create_api_key(self, *, site_id: str, role: Role, key_hash: str, prefix: str, now: datetime) -> ApiKey: ...
    async def find_api_key(self, key_hash: str) -> ApiKey | None: ...
    async def create_akismet_alias(self, *, api_key_id: int, alias_hash: str, now: datetime) -> None:
        """Give a site key a 12-hex Akismet alias (migration 0005); the Akismet endpoints alone accept it."""
    async def find_akismet_alias(self, alias_hash: str) -> ApiKey | None:
        """The site key behind an Akismet alias (revoked or not: the caller checks), or ``None``."""

    # Comments
    async def get_comment(self, site_id: str, comment_id: int) -> Comment | None: ...
    async def parent_exists(self, site_id: str, article_id: str, parent_id: int) -> bool: ...
    async def latest_author_comment(self, site_id: str, article_id: str, email_hash: str) -> int | None:
        """The id of the newest comment by the author with this e-mail hash on this article (None: none)."""
        ...
    async def find_idempotent(self, site_id: str, key: str) -> IdempotentResponse | None: ...
    async def insert_comment(
        self,
        new: NewComment,
        *,
        now: datetime,
        flood_interval: float,
        idempotency: tuple[str, str] | None,
        render: RenderResponse,
    ) -> tuple[Comment, dict[str, Any], bool]:
        """Store a comment atomically: idempotency, duplicate check (409), flood check (429), insert.

        Returns the stored comment, the rendered response, and whether this was a replay (the
        idempotency key was already used with the same request: nothing new is stored).
        """
        ...

    # Moderator workflow (queue, decisions, reports, audit)
    async def list_queue(self, site_id: str, query: QueueQuery) -> QueuePage: ...
    async def queue_counts(self, site_id: str) -> dict[str, Any]: ...
    async def shadow_rows(self, site_id: str, *, recent: int) -> ShadowRows:
        """The comments decided in shadow mode, counted by would-be decision, status now and reader reports."""
        ...
    async def decide(self, site_id: str, decision: ModeratorDecision, *, actor: str, now: datetime) -> DecisionOutcome:
        """One transaction: status change, revision + 1, event, training label, webhook outbox row.

        Raises ``NotFound`` or ``StaleRevision`` (old revision, or the comment awaits no decision).
        """
        ...
    async def add_report(
        self, site_id: str, comment_id: int, *, reason: str, note: str | None, reporter_hash: str | None,
        now: datetime, hold_threshold: int = 0,
    ) -> ReportOutcome:
        """Record a report; a published comment reaching ``hold_threshold`` open reports is held (0: never)."""
        ...
    async def author_standing(self, site_id: str, email_hash: str, *, counts: bool = True) -> AuthorStanding:
        """What the site knows of an author before a new comment: published and refused counts, a block.

        ``counts=False``: only the block (the counts stay 0), for a site without a trust rule, where nothing
        reads them: it spares every submission a count over the author's comments."""
        ...
    async def set_author_block(self, site_id: str, comment_id: int, *, block: bool, actor: str, note: str | None,
                               now: datetime) -> AuthorBlockOutcome:
        """Block (or unblock) the author of a comment, with its audit entry, in one transaction."""
        ...
    async def edit_comment(self, site_id: str, edit: Edit, *, now: datetime) -> DecisionOutcome:
        """One transaction: the new text, fields and verdict, revision + 1, the audit event with the previous
        text, and a webhook event if the status changed (``workflow.plan_edit``). ``NotFound``/``StaleRevision``."""
        ...
    async def list_events(
        self, site_id: str, *, before_id: int | None, limit: int, comment_id: int | None = None,
    ) -> list[AuditEvent]: ...

    # Webhooks
    async def set_webhook(self, site_id: str, url: str | None, secret: str | None, now: datetime,
                          event_types: Sequence[str] | None = None) -> None:
        """Set or clear the URL; ``event_types`` None keeps the default (comment.status_changed only)."""
        ...
    async def get_webhook(self, site_id: str) -> WebhookTarget | None: ...
    async def due_webhooks(self, now: datetime, limit: int) -> list[OutboxItem]:
        """The oldest undelivered event of each site whose next attempt is due (in order per site)."""
        ...
    async def record_webhook_attempt(
        self, item: OutboxItem, *, at: datetime, status_code: int | None, error: str | None,
        duration_ms: float, delivered: bool, next_attempt_at: datetime | None,
    ) -> None:
        """Log one attempt; mark delivered, reschedule at ``next_attempt_at``, or give up when it is None."""
        ...
    async def list_webhook_deliveries(self, site_id: str, *, before_id: int | None, limit: int) -> list[DeliveryRecord]: ...
    async def webhook_backlog(self, site_id: str) -> dict[str, int]: ...
    async def retry_failed_webhooks(self, site_id: str, now: datetime) -> int: ...

    # Personal data: erasure on request, retention (store/privacy_sqlite.py, privacy_postgres.py)
    async def erase_author(self, site_id: str, email: str, *, actor: str, now: datetime) -> dict[str, int]: ...
    async def purge_site(self, site_id: str, *, ip_before: datetime | None, rejected_before: datetime | None,
                         apply: bool, actor: str, now: datetime) -> dict[str, int]: ...
    async def site_ids(self) -> list[str]: ...
    async def backfill_author_hashes(self, hash_email: Callable[[str], str],
                                     hash_ip: Callable[[str | None], str | None]) -> int: ...

    # Moderator page sessions
    async def create_session(self, *, id_hash: str, api_key_id: int, csrf_hash: str, now: datetime,
                             expires_at: datetime) -> None: ...
    async def find_session(self, id_hash: str, now: datetime) -> ModeratorSession | None: ...
    async def delete_session(self, id_hash: str) -> None: ...

    # Labels for retraining
    async def add_training_label(self, label: TrainingLabel, now: datetime) -> int: ...
    async def list_training_labels(self, *, since_id: int = 0, limit: int = 10_000) -> list[dict[str, Any]]: ...

    # Model quality in production
    async def model_stats(self, site_id: str | None = None) -> list[dict[str, Any]]:
        """Per model version: automatic decisions and how often moderators overturned them."""
        ...

    # Campaign memory (moderation.campaigns): clusters and signatures learned from moderators
    async def campaign_version(self, site_id: str) -> int:
        """A counter bumped whenever one of the site's signatures changes (cheap to poll)."""
        ...
    async def campaign_index_rows(self, site_id: str, *, after_id: int, since: datetime, limit: int) -> list[IndexEntry]:
        """Clustered comments newer than ``after_id`` and ``since``, oldest first (to rebuild the index)."""
        ...
    async def comment_campaign(self, site_id: str, comment_id: int) -> tuple[int, bytes | None] | None:
        """The comment's cluster id (its own id when it founded one) and MinHash; None if no such comment."""
        ...
    async def record_campaign_votes(
        self, site_id: str, comment_id: int, *, actor: str, action: str, label: str,
        keys: Sequence[SignatureKey], now: datetime, ttl: timedelta,
    ) -> int:
        """One moderator decision as votes, in one transaction; returns how many signatures changed.

        ``reject`` creates missing signatures and refreshes their expiry to ``now + ttl``; ``approve``
        only weakens signatures that exist. Removed signatures are left alone. Counts cover the votes
        of the last ``ttl``.
        """
        ...
    async def list_campaign_signatures(self, site_id: str, *, now: datetime) -> list[CampaignSignature]:
        """Every signature of the site that is neither expired nor removed, strongest first."""
        ...
    async def get_campaign_signature(self, site_id: str, signature_id: int) -> CampaignSignature | None: ...
    async def campaign_signature_votes(self, site_id: str, signature_id: int, *, limit: int) -> list[SignatureVote]: ...
    async def remove_campaign_signature(self, site_id: str, signature_id: int, *, actor: str, now: datetime) -> bool:
        """Mark a signature removed (it stays on record and never holds again); False if not found."""
        ...
    async def list_clusters(self, site_id: str, *, statuses: tuple[Status, ...], min_size: int,
                            limit: int) -> list[ClusterSummary]:
        """Clusters with at least ``min_size`` comments in ``statuses``, largest first."""
        ...
    async def cluster_comments(self, site_id: str, cluster_id: int, *, statuses: tuple[Status, ...],
                               up_to_id: int, limit: int) -> list[Comment]:
        """The cluster's comments in ``statuses`` with id ≤ ``up_to_id``, oldest first."""
        ...


def open_store(database_url: str, *, on_commit: Callable[[int], None] | None = None,
               database: DatabaseSettings | None = None) -> Store:
    """Pick the backend for a database URL (the connection is opened by ``migrate``).

    ``on_commit`` hears the number of writes in each group commit (SQLite; PostgreSQL commits each alone).
    ``database`` sizes PostgreSQL's pool and sets its connect and statement timeouts.
    """
    if database_url.startswith("sqlite:///"):
        from .sqlite import SQLiteStore

        return SQLiteStore(database_url.removeprefix("sqlite:///"), on_commit=on_commit)
    if database_url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        if database is None:
            return PostgresStore(database_url)
        return PostgresStore(database_url, min_size=database.pool_min, max_size=database.pool_max,
                             connect_timeout=database.connect_timeout_seconds,
                             statement_timeout=database.statement_timeout_seconds)
    raise ValueError("MODERATION_DATABASE_URL must start with sqlite:/// or postgresql://")


# -- The moderator workflow (queue, decisions, reports, audit, webhooks, page sessions) ----------------


class QueueOrder(enum.StrEnum):
    OLDEST = "oldest"
    RISK = "risk"  # highest classifier score first


@dataclass(frozen=True)
class QueueQuery:
    statuses: tuple[Status, ...] = (Status.HELD,)
    reason: str | None = None  # one of REASON_KINDS, or "reported"
    article_id: str | None = None
    order: QueueOrder = QueueOrder.OLDEST
    limit: int = 50
    after: tuple[float, int] | None = None  # (risk, id) of the last item of the previous page


@dataclass(frozen=True)
class AuthorHistory:
    """What this site already decided about comments from the same author (the keyed hash of the e-mail)."""

    published: int = 0
    held: int = 0
    rejected: int = 0
    removed: int = 0
    spam: int = 0
    blocked: bool = False  # a moderator blocked this author on this site

    def to_json(self) -> dict[str, Any]:
        return {"published": self.published, "held": self.held, "rejected": self.rejected, "removed": self.removed,
                "spam": self.spam, "blocked": self.blocked}


@dataclass(frozen=True)
class AuthorBlockOutcome:
    comment_id: int  # the comment the moderator acted from
    blocked: bool  # the author's state after the action
    changed: bool  # False: the author was already in that state (no audit entry written)
    event_id: int | None


@dataclass(frozen=True)
class QueueItem:
    comment: Comment
    risk: float
    reason_kinds: tuple[str, ...]
    open_reports: int
    report_reasons: dict[str, int]
    signals: dict[str, Any]
    history: AuthorHistory


@dataclass(frozen=True)
class QueuePage:
    items: list[QueueItem]
    has_more: bool


@dataclass(frozen=True)
class ShadowRows:
    outcomes: list[tuple[str, str, bool, int]]  # (would-be decision, status now, ever reported, count)
    kinds: list[tuple[str, str, int]]  # (would-be decision, reason kind, count) of would-be holds and rejections
    recent: list[Comment]  # the newest would-be holds and rejections


@dataclass(frozen=True)
class DecisionOutcome:
    comment: Comment  # after the decision
    previous_status: Status
    event_id: int
    webhook_queued: bool
    reports_closed: int


@dataclass(frozen=True)
class ReportOutcome:
    report_id: int
    comment: Comment
    open_reports: int
    duplicate: bool  # the same reader had already reported this comment
    held: bool = False  # the site's threshold of open reports was reached: the comment is held now


@dataclass(frozen=True)
class AuditEvent:
    id: int
    comment_id: int
    at: datetime
    actor: str
    action: str
    from_status: str | None
    to_status: str
    label: str | None
    note: str | None
    reasons: list[dict[str, Any]] | None
    model_version: str | None
    previous_content: str | None = None  # an edit: the text it replaced

    def to_json(self) -> dict[str, Any]:
        out = {
            "id": self.id, "comment_id": self.comment_id, "at": self.at.isoformat(), "actor": self.actor,
            "action": self.action, "from_status": self.from_status, "to_status": self.to_status,
            "label": self.label, "note": self.note, "reasons": self.reasons, "model_version": self.model_version,
        }
        if self.previous_content is not None:
            out["previous_content"] = self.previous_content
        return out


@dataclass(frozen=True)
class WebhookTarget:
    site_id: str
    url: str
    secret: str = field(repr=False)  # never printed, never logged
    event_types: tuple[str, ...] = DEFAULT_WEBHOOK_EVENT_TYPES


@dataclass(frozen=True)
class OutboxItem:
    id: int
    site_id: str
    comment_id: int
    payload: str  # the exact body to sign and send
    attempts: int
    created_at: datetime
    target: WebhookTarget


@dataclass(frozen=True)
class DeliveryRecord:
    id: int
    outbox_id: int
    comment_id: int
    event: str
    attempt: int
    at: datetime
    url: str
    status_code: int | None
    error: str | None
    duration_ms: float
    state: str  # pending, delivered, failed: where the event stands now

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "outbox_id": self.outbox_id, "comment_id": self.comment_id, "event": self.event,
            "attempt": self.attempt, "at": self.at.isoformat(), "url": self.url, "status_code": self.status_code,
            "error": self.error, "duration_ms": self.duration_ms, "state": self.state,
        }


@dataclass(frozen=True)
class ModeratorSession:
    api_key: ApiKey
    csrf_hash: str = field(repr=False)
    expires_at: datetime


# -- Campaign memory -----------------------------------------------------------------------------------

SIGNATURE_KINDS = ("brand", "url", "domain", "phone", "template")


@dataclass(frozen=True)
class SignatureKey:
    """What a decided comment contains that may mark a campaign."""

    kind: str  # one of SIGNATURE_KINDS
    value: str
    minhash: bytes | None = field(default=None, repr=False)  # template signatures only


@dataclass(frozen=True)
class CampaignSignature:
    id: int
    site_id: str
    kind: str
    value: str
    minhash: bytes | None = field(repr=False)
    rejections: int
    approvals: int
    moderators: int
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    removed_at: datetime | None = None


@dataclass(frozen=True)
class SignatureVote:
    comment_id: int
    actor: str
    action: str
    label: str
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"comment_id": self.comment_id, "actor": self.actor, "action": self.action, "label": self.label,
                "at": self.at.isoformat()}


@dataclass(frozen=True)
class IndexEntry:
    comment_id: int
    cluster_id: int
    minhash: bytes = field(repr=False)
    created_at: datetime


@dataclass(frozen=True)
class ClusterSummary:
    cluster_id: int
    count: int  # comments of the cluster in the statuses asked for
    first_id: int
    last_id: int
    first_at: datetime
    last_at: datetime
    sample: Comment  # the newest of them
