"""The moderation workflow's rules, pure (no I/O): what a decision or a report changes, and who may post.

The store runs these inside its transactions and persists what they return; the services call the
store. Nothing here reads a clock, a database or a request: every fact comes in as an argument.

* The automatic outcome: ``outcome`` (publish, hold, or reject straight to ``spam`` under the site's rules).
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
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from .domain import Comment, Decision, Evidence, Status, Verdict
from .errors import Conflict, DuplicateComment, IdempotencyConflict, StaleRevision, TooManyRequests
from .labels import MODERATOR_SOURCE
from .policy import REJECTABLE_REASONS, Policy

# -- the automatic outcome ---------------------------------------------------------------------------


def rejects(reason: Evidence, policy: Policy) -> bool:
    """Whether one holding reason meets a reject rule of the site (spam signals only, never toxicity).

    A blocked author's comment follows the site's ``blocked_authors`` setting alone: the moderator chose it.
    """
    if reason.code == AUTHOR_BLOCKED:
        return reason.hold and policy.blocked_authors == "reject"
    if not policy.reject or not reason.hold or reason.code not in REJECTABLE_REASONS:
        return False
    if reason.code in policy.reject_reasons:
        return True
    return reason.code == "spam" and reason.score is not None and reason.score >= policy.reject_spam_score


def outcome(reasons: Iterable[Evidence], policy: Policy,
            author: AuthorStanding | None = None) -> tuple[Decision, tuple[Evidence, ...]]:
    """Publish when nothing holds; reject (to ``spam``) when a reject rule fires; hold otherwise.

    The reasons that rejected are marked (``reject: true``) so the Spam tab says why. A trusted author's
    comment held only by soft signals is published: those reasons stay on record, marked ``hold: false``,
    beside an ``author.trusted`` reason saying why.
    """
    marked = tuple(replace(r, reject=True) if rejects(r, policy) else r for r in reasons)
    if any(r.reject for r in marked):
        return Decision.REJECT, marked
    holding = [r for r in marked if r.hold]
    if holding and author is not None and trusted(author, policy) and all(r.code in TRUST_OVERRIDES for r in holding):
        kept = tuple(replace(r, hold=False) if r.hold else r for r in marked)
        return Decision.PUBLISH, (*kept, trusted_evidence(author, policy))
    return (Decision.HOLD if any(r.hold for r in marked) else Decision.PUBLISH), marked


# -- authors: trusted and blocked (by the keyed hash of the e-mail) -------------------------------------------

AUTHOR_BLOCKED = "author.blocked"
AUTHOR_TRUSTED = "author.trusted"
# What a trusted author's history outweighs: signals that hold ordinary commenters for a look, not evidence of
# abuse (a spam score below the reject score, typing fast, links, a review term, classifiers being down).
# Everything else stays hard: a honeypot, a disallowed term, a known campaign, toxicity, the site's hold-all,
# a block; and any reason that rejects outright (spam at or above ``reject_spam_score``) is decided first.
TRUST_OVERRIDES = ("spam", "too_fast", "policy.links", "policy.moderation_key", "classifier_unavailable")


@dataclass(frozen=True)
class AuthorStanding:
    """What a site already knows of an author (matched on the keyed hash of the e-mail) before a new comment."""

    published: int = 0
    refused: int = 0  # rejected, removed or spam
    blocked: bool = False


def trusted(author: AuthorStanding, policy: Policy) -> bool:
    """WordPress's "previously approved" rule, stricter: N published comments and none ever refused."""
    return (policy.trust_after_approved > 0 and not author.blocked and author.refused == 0
            and author.published >= policy.trust_after_approved)


def trusted_evidence(author: AuthorStanding, policy: Policy) -> Evidence:
    return Evidence(AUTHOR_TRUSTED, f"A trusted author on this site ({author.published} published, none refused).",
                    "author", score=float(author.published), threshold=float(policy.trust_after_approved),
                    hold=False)


def blocked_evidence(author: AuthorStanding | None) -> Evidence | None:
    if author is None or not author.blocked:
        return None
    return Evidence(AUTHOR_BLOCKED, "A moderator blocked this author on this site.", "author")


AUTHOR_BLOCK = "author_block"
AUTHOR_UNBLOCK = "author_unblock"


def plan_author_block(comment: Comment, email_hash: str | None, *, block: bool, currently_blocked: bool,
                      actor: str, note: str | None) -> AuditEntry | None:
    """The audit entry of blocking (or unblocking) the author of ``comment``; None when nothing changes.

    ``Conflict`` when the comment no longer names an author (its personal data was erased)."""
    if email_hash is None:
        raise Conflict("This comment's author was erased; there is nobody to block.", code="author_unknown")
    if block == currently_blocked:
        return None
    return audit_entry(comment, actor=actor, action=AUTHOR_BLOCK if block else AUTHOR_UNBLOCK,
                       to_status=comment.status, label=None, note=note)


def shadowed(decision: Decision, policy: Policy) -> tuple[Decision, Decision | None]:
    """In shadow mode everything is published and the real decision kept aside; otherwise it applies."""
    if policy.shadow:
        return Decision.PUBLISH, decision
    return decision, None


# -- moderator actions and the statuses they lead to -------------------------------------------------


class ModeratorAction(enum.StrEnum):
    APPROVE = "approve"  # publish a held comment (or rescue one from spam), or keep a reported one up
    REJECT = "reject"  # refuse a held comment (or confirm a spam one), or take down a reported one
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
    published comment. A comment rejected outright as spam can be rescued (approve) or confirmed (reject).
    """
    if action is ModeratorAction.REMOVE:
        return Status.REMOVED if current is Status.PUBLISHED else None
    if action is ModeratorAction.REOPEN:
        return Status.HELD if current in (Status.PUBLISHED, Status.REJECTED, Status.REMOVED, Status.SPAM) else None
    if action is ModeratorAction.RESTORE:
        return Status.PUBLISHED if current in (Status.REJECTED, Status.REMOVED, Status.SPAM) else None
    if current in (Status.HELD, Status.SPAM):
        return Status.PUBLISHED if action is ModeratorAction.APPROVE else Status.REJECTED
    if current is Status.PUBLISHED and open_reports > 0:
        return Status.PUBLISHED if action is ModeratorAction.APPROVE else Status.REMOVED
    return None


# -- what a decision writes ------------------------------------------------------------------------------

STATUS_CHANGED = "comment.status_changed"
COMMENT_CREATED = "comment.created"
WEBHOOK_EVENT_TYPES = (COMMENT_CREATED, STATUS_CHANGED)
# What a site receives when it never chose (sites set up before comment.created existed get what they had).
DEFAULT_WEBHOOK_EVENT_TYPES = (STATUS_CHANGED,)


def webhook_event_types(stored: str | None) -> tuple[str, ...]:
    """The event types a site chose, from their stored form (comma-separated; NULL: the default)."""
    if stored is None:
        return DEFAULT_WEBHOOK_EVENT_TYPES
    return tuple(t for t in stored.split(",") if t in WEBHOOK_EVENT_TYPES)


def stored_event_types(types: Iterable[str] | None) -> str | None:
    """The stored form of a site's choice, in a fixed order (None: the default)."""
    if types is None:
        return None
    chosen = set(types)
    return ",".join(t for t in WEBHOOK_EVENT_TYPES if t in chosen)


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
    label: str | None  # None: not a moderator's judgement (an edit changed the status)
    at: datetime
    event: str = STATUS_CHANGED

    def payload(self, event_id: int) -> str:
        """The body exactly as it will be signed and sent; ``event_id`` is the audit event's id."""
        return status_changed_payload(self.comment, self.status, self.label, event_id=event_id, at=self.at)


@dataclass(frozen=True)
class Created:
    """The webhook event of a new comment, with the automatic decision. Never carries the e-mail."""

    comment: Comment  # as stored
    at: datetime
    event: str = COMMENT_CREATED

    def payload(self, event_id: int) -> str:
        """The body exactly as it will be signed and sent; ``event_id`` is the 'submitted' audit event's id."""
        c = self.comment
        return json.dumps(
            {
                "event": COMMENT_CREATED,
                "event_id": event_id,
                "site_id": c.site_id,
                "comment_id": c.id,
                "article_id": c.article_id,
                "parent_id": c.parent_id,
                "status": c.status.value,
                "decision": c.decision.value,
                "reasons": [r.code for r in c.reasons if r.hold],
                "scores": c.scores,
                "model_version": c.model_version,
                "revision": c.revision,
                "created_at": self.at.isoformat(),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )


WebhookEvent = Created | StatusChange


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


def status_changed_payload(comment: Comment, status: Status, label: str | None, *, event_id: int,
                           at: datetime) -> str:
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


# -- what an edit writes -----------------------------------------------------------------------------------

# A comment its author may still edit; one a moderator rejected or took down stays as it was judged.
EDITABLE_STATUSES = (Status.PUBLISHED, Status.HELD, Status.SPAM)


def edited_status(current: Status, decision: Decision) -> Status:
    """Where an edit takes a comment. A published one stays up only if the new text would be published; else
    it goes back to held, never straight to spam: it was shown (perhaps approved by a moderator), so a person
    decides again. A held or spam comment stays where it is: an edit does not skip the moderator."""
    if current is Status.PUBLISHED:
        return Status.PUBLISHED if decision is Decision.PUBLISH else Status.HELD
    return current


@dataclass(frozen=True)
class Edit:
    """A new version of a comment from the site, already validated and scored."""

    comment_id: int
    content: str
    author_name: str
    author_url: str | None
    content_hash: str
    verdict: Verdict
    revision: int  # the version the site edited (a newer one meanwhile: 409)


@dataclass(frozen=True)
class EditPlan:
    comment: Comment  # before the edit
    edit: Edit
    target: Status
    event: AuditEntry
    webhook: StatusChange | None  # None: the status stays


def plan_edit(comment: Comment, edit: Edit, *, now: datetime) -> EditPlan:
    """What an edit writes; ``StaleRevision`` if the comment changed since or may no longer be edited."""
    if comment.status not in EDITABLE_STATUSES:
        raise StaleRevision(f"This comment is {comment.status.value} and can no longer be edited.",
                            current_revision=comment.revision, status=comment.status.value)
    if edit.revision != comment.revision:
        raise StaleRevision(current_revision=comment.revision, status=comment.status.value)
    target = edited_status(comment.status, edit.verdict.decision)
    event = AuditEntry(
        comment_id=comment.id, site_id=comment.site_id, actor="site", action="edit",
        from_status=comment.status.value, to_status=target.value, label=None, note=None,
        model_version=edit.verdict.model_version,
    )
    webhook = StatusChange(comment, target, None, now) if target is not comment.status else None
    return EditPlan(comment=comment, edit=edit, target=target, event=event, webhook=webhook)


# -- what a reader's report writes -----------------------------------------------------------------------


@dataclass(frozen=True)
class ReportPlan:
    opens: bool  # the comment awaits a decision: the report joins the reported queue
    resolution: str | None  # recorded closed at once, with this resolution, when it does not open
    event: AuditEntry
    # The site's threshold of open reports was reached: the published comment goes to held (revision + 1).
    hold_event: AuditEntry | None = None
    hold_webhook: StatusChange | None = None


def plan_report(comment: Comment, reason: str, *, open_reports: int = 0, hold_threshold: int = 0,
                now: datetime | None = None) -> ReportPlan:
    """A comment already decided against keeps the report on record, closed at once. A published comment
    whose open reports (``open_reports`` before this one) reach the site's ``hold_threshold`` is held."""
    opens = comment.status in AWAITING_STATUSES
    event = audit_entry(comment, actor="reader", action="report", to_status=comment.status, label=reason, note=None)
    holds = (opens and comment.status is Status.PUBLISHED and hold_threshold > 0
             and open_reports + 1 >= hold_threshold)
    return ReportPlan(
        opens=opens,
        resolution=None if opens else f"already_{comment.status.value}",
        event=event,
        hold_event=audit_entry(comment, actor="system", action="reports_threshold", to_status=Status.HELD,
                               label=None, note=f"{open_reports + 1} open reports") if holds else None,
        hold_webhook=StatusChange(comment, Status.HELD, None, now or comment.updated_at) if holds else None,
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
