"""The moderation workflow's rules, pure (no I/O): what a decision or a report changes, and who may post.

The store runs these inside its transactions and persists what they return; the services call the
store. Nothing here reads a clock, a database or a request: every fact comes in as an argument.

* Statuses and transitions: ``next_status`` (a moderator action on a comment in a status).
* ``plan_decision``: everything one moderator decision writes, as a ``DecisionPlan`` (new status,
  the revision it must still have, the audit event, the training label, the webhook event).
* ``plan_report``: whether a reader's report opens (the comment still awaits a decision) or is
  recorded closed.
* Admission of a submission: the duplicate rule and the flood rule with its Retry-After arithmetic,
  and the idempotent-replay rule.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .domain import Comment, Evidence, Status
from .errors import DuplicateComment, IdempotencyConflict, StaleRevision, TooManyRequests
from .labels import MODERATOR_SOURCE

# -- moderator actions and the statuses they lead to -------------------------------------------------


class ModeratorAction(enum.StrEnum):
    APPROVE = "approve"  # publish a held comment, or keep a reported one up and close its reports
    REJECT = "reject"  # refuse a held comment, or take down a reported one
    REMOVE = "remove"  # take down a published comment
    # The two below come from the site's own admin (wp-admin), where a decision can be undone:
    REOPEN = "reopen"  # put a decided comment back in the held queue ("unapprove"); teaches nothing
    RESTORE = "restore"  # publish a comment that was refused or taken down ("not spam"): labelled ham


# What a moderator's decision on /moderate or the queue API may be; the site's admin adds REOPEN/RESTORE.
QUEUE_ACTIONS = (ModeratorAction.APPROVE, ModeratorAction.REJECT, ModeratorAction.REMOVE)


@dataclass(frozen=True)
class ModeratorDecision:
    comment_id: int
    action: ModeratorAction
    label: str | None  # one of labels.TRAINING_LABELS; None for REOPEN, which says nothing about the text
    revision: int
    note: str | None = None


@dataclass(frozen=True)
class TrainingLabel:
    """A person's judgement of a text, kept for retraining (no e-mail, IP or name)."""

    site_id: str
    text: str
    label: str  # one of labels.TRAINING_LABELS
    source: str  # moderator, akismet.submit-spam, perspective.suggestscore...
    comment_id: int | None = None
    actor: str | None = None
    model_version: str | None = None
    scores: dict[str, float] | None = None


# Statuses in which a comment can still be decided on (a report against it opens).
AWAITING_STATUSES = (Status.PUBLISHED, Status.HELD)


def next_status(current: Status, open_reports: int, action: ModeratorAction) -> Status | None:
    """Where a moderator action takes a comment; ``None`` when the comment is not awaiting it.

    A comment awaits a decision while it is held, or published with open reader reports
    (reported comments stay up until a moderator acts, as in Coral). Taking down works on any
    published comment.
    """
    if action is ModeratorAction.REMOVE:
        return Status.REMOVED if current is Status.PUBLISHED else None
    if action is ModeratorAction.REOPEN:
        return Status.HELD if current in (Status.PUBLISHED, Status.REJECTED, Status.REMOVED) else None
    if action is ModeratorAction.RESTORE:
        return Status.PUBLISHED if current in (Status.REJECTED, Status.REMOVED) else None
    if current is Status.HELD:
        return Status.PUBLISHED if action is ModeratorAction.APPROVE else Status.REJECTED
    if current is Status.PUBLISHED and open_reports > 0:
        return Status.PUBLISHED if action is ModeratorAction.APPROVE else Status.REMOVED
    return None


# -- what a decision writes ------------------------------------------------------------------------------

STATUS_CHANGED = "comment.status_changed"


@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit log, as a service decided it (the store gives it its id)."""

    comment_id: int
    site_id: str
    actor: str
    action: str
    from_status: str
    to_status: str
    label: str | None
    note: str | None
    model_version: str | None


@dataclass(frozen=True)
class StatusChange:
    """The webhook event of a status change. Never carries the e-mail."""

    comment: Comment  # before the change
    status: Status
    label: str | None
    at: datetime
    event: str = STATUS_CHANGED

    def payload(self, event_id: int) -> str:
        """The body exactly as it will be signed and sent; ``event_id`` is the audit event's id."""
        return status_changed_payload(self.comment, self.status, self.label, event_id=event_id, at=self.at)


@dataclass(frozen=True)
class DecisionPlan:
    """Everything one moderator decision writes, in one transaction."""

    comment: Comment  # as read, before the decision
    target: Status
    expected_revision: int  # the update applies only while the comment still has it
    event: AuditEntry
    label: TrainingLabel | None  # None: the decision teaches nothing (a comment reopened)
    webhook: StatusChange | None  # None: the status does not change (a reported comment kept up)


def plan_decision(comment: Comment, open_reports: int, decision: ModeratorDecision, *, actor: str,
                  now: datetime) -> DecisionPlan:
    """What a decision on ``comment`` (with ``open_reports`` open) writes; ``StaleRevision`` if it may not."""
    target = next_status(comment.status, open_reports, decision.action)
    if decision.revision != comment.revision:
        raise StaleRevision(current_revision=comment.revision, status=comment.status.value)
    if target is None:
        raise StaleRevision(
            f"This comment is {comment.status.value} and awaits no {decision.action.value} decision.",
            current_revision=comment.revision, status=comment.status.value,
        )
    return DecisionPlan(
        comment=comment,
        target=target,
        expected_revision=comment.revision,
        event=audit_entry(comment, actor=actor, action=decision.action.value, to_status=target,
                          label=decision.label, note=decision.note),
        label=None if decision.label is None else TrainingLabel(
            site_id=comment.site_id, text=comment.content, label=decision.label, source=MODERATOR_SOURCE,
            comment_id=comment.id, actor=actor, model_version=comment.model_version, scores=comment.scores,
        ),
        webhook=StatusChange(comment, target, decision.label, now) if target is not comment.status else None,
    )


def audit_entry(comment: Comment, *, actor: str, action: str, to_status: Status, label: str | None,
                note: str | None) -> AuditEntry:
    return AuditEntry(
        comment_id=comment.id, site_id=comment.site_id, actor=actor, action=action,
        from_status=comment.status.value, to_status=to_status.value, label=label, note=note,
        model_version=comment.model_version,
    )


def status_changed_payload(comment: Comment, status: Status, label: str | None, *, event_id: int, at: datetime) -> str:
    """The webhook body for a status change, exactly as it will be signed and sent. Never the e-mail."""
    return json.dumps(
        {
            "event": STATUS_CHANGED,
            "event_id": event_id,  # the audit event id: the same change is never sent with two ids
            "site_id": comment.site_id,
            "comment_id": comment.id,
            "article_id": comment.article_id,
            "status": status.value,
            "previous_status": comment.status.value,
            "label": label,
            "revision": comment.revision + 1,  # lets the site drop an older event that arrives late
            "decided_at": at.isoformat(),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


# -- what a reader's report writes -----------------------------------------------------------------------


@dataclass(frozen=True)
class ReportPlan:
    opens: bool  # the comment awaits a decision: the report joins the reported queue
    resolution: str | None  # recorded closed at once, with this resolution, when it does not open
    event: AuditEntry


def plan_report(comment: Comment, reason: str) -> ReportPlan:
    """A comment already decided against keeps the report on record, closed at once."""
    opens = comment.status in AWAITING_STATUSES
    return ReportPlan(
        opens=opens,
        resolution=None if opens else f"already_{comment.status.value}",
        event=audit_entry(comment, actor="reader", action="report", to_status=comment.status, label=reason,
                          note=None),
    )


# -- a decision as votes for the campaign memory's signatures ----------------------------------------------


class SignatureVoteEffect(enum.Enum):
    SKIP = "skip"  # nothing to record
    CREATE = "create"  # a new signature, then the vote
    VOTE = "vote"  # a vote for the signature that exists


def signature_vote_effect(*, exists: bool, removed: bool, action: str) -> SignatureVoteEffect:
    """What one decision's vote does to a signature: a rejection creates one, an approval only weakens one,
    and a signature a moderator removed is never learned again."""
    if removed:
        return SignatureVoteEffect.SKIP
    if not exists:
        return SignatureVoteEffect.CREATE if action == ModeratorAction.REJECT.value else SignatureVoteEffect.SKIP
    return SignatureVoteEffect.VOTE


# -- admission of a submission -----------------------------------------------------------------------------


def flood_window_start(now: datetime, flood_interval: float) -> datetime:
    """Submissions after this moment by the same e-mail or IP count against the flood interval."""
    return now - timedelta(seconds=flood_interval)


def admit(*, duplicate_of: int | None, last_at: datetime | None, now: datetime, flood_interval: float) -> None:
    """Refuse a duplicate (409) before a flood (429), as WordPress does: a double-click gets "duplicate".

    ``duplicate_of`` is an earlier comment with the same article, e-mail and text; ``last_at`` the
    newest submission by the same e-mail or IP inside the flood window (both None when there is none).
    """
    if duplicate_of is not None:
        raise DuplicateComment(existing_id=duplicate_of)
    if flood_interval > 0 and last_at is not None:
        wait = flood_interval - (now - last_at).total_seconds()
        # Whole seconds, rounded up (a client that waits Retry-After is let in).
        raise TooManyRequests(retry_after=max(1, int(wait + 0.999)))


def check_replay(stored_request_hash: str, request_hash: str) -> None:
    """An Idempotency-Key seen before: the same request is a replay; another request under it is a 409."""
    if stored_request_hash != request_hash:
        raise IdempotencyConflict()


def reasons_json(reasons: Iterable[Evidence]) -> str:
    """The stored form of a verdict's reasons (JSON text, non-ASCII kept)."""
    return json.dumps([r.to_json() for r in reasons], ensure_ascii=False)
