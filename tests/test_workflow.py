"""The workflow's rules on their own (no store): transitions, decision plans, reports, admission, votes."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from moderation.domain import Comment, Decision, Status
from moderation.errors import DuplicateComment, IdempotencyConflict, StaleRevision, TooManyRequests
from moderation.workflow import (
    ModeratorAction,
    ModeratorDecision,
    SignatureVoteEffect,
    admit,
    check_replay,
    next_status,
    plan_decision,
    plan_report,
    signature_vote_effect,
)

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=timezone.utc)


def comment(status: Status = Status.HELD, revision: int = 1) -> Comment:
    return Comment(
        id=7, site_id="site-a", article_id="art-1", parent_id=None, author_name="Ani", author_email="ani@example.com",
        author_url=None, content="slot gacor", status=status, decision=Decision.HOLD, reasons=(),
        scores={"spam": 0.9}, model_version="v1", revision=revision, created_at=NOW, updated_at=NOW,
    )


@pytest.mark.parametrize(
    ("status", "reports", "action", "expected"),
    [
        (Status.HELD, 0, ModeratorAction.APPROVE, Status.PUBLISHED),
        (Status.HELD, 0, ModeratorAction.REJECT, Status.REJECTED),
        (Status.HELD, 0, ModeratorAction.REMOVE, None),
        (Status.PUBLISHED, 0, ModeratorAction.APPROVE, None),  # nothing to decide
        (Status.PUBLISHED, 2, ModeratorAction.APPROVE, Status.PUBLISHED),  # kept up, reports closed
        (Status.PUBLISHED, 2, ModeratorAction.REJECT, Status.REMOVED),
        (Status.PUBLISHED, 0, ModeratorAction.REMOVE, Status.REMOVED),
        (Status.REJECTED, 1, ModeratorAction.APPROVE, None),
        # The site's admin can undo: restore a refused or taken-down comment, reopen a decided one.
        (Status.REJECTED, 0, ModeratorAction.RESTORE, Status.PUBLISHED),
        (Status.REMOVED, 0, ModeratorAction.RESTORE, Status.PUBLISHED),
        (Status.HELD, 0, ModeratorAction.RESTORE, None),
        (Status.PUBLISHED, 0, ModeratorAction.REOPEN, Status.HELD),
        (Status.REJECTED, 0, ModeratorAction.REOPEN, Status.HELD),
        (Status.HELD, 0, ModeratorAction.REOPEN, None),
    ],
)
def test_transitions(status: Status, reports: int, action: ModeratorAction, expected: Status | None) -> None:
    assert next_status(status, reports, action) is expected


def test_a_decision_plans_status_event_label_and_webhook() -> None:
    held = comment()
    plan = plan_decision(held, 0, ModeratorDecision(7, ModeratorAction.REJECT, "spam", 1, note="judol"),
                         actor="key:3", now=NOW)
    assert (plan.target, plan.expected_revision) == (Status.REJECTED, 1)
    assert (plan.event.from_status, plan.event.to_status, plan.event.action, plan.event.note) == (
        "held", "rejected", "reject", "judol")
    assert (plan.label.text, plan.label.label, plan.label.source, plan.label.actor) == (
        "slot gacor", "spam", "moderator", "key:3")
    assert plan.webhook is not None
    body = json.loads(plan.webhook.payload(41))
    assert body["event_id"] == 41 and body["status"] == "rejected" and body["revision"] == 2
    assert "ani@example.com" not in plan.webhook.payload(41)


def test_keeping_a_reported_comment_up_sends_no_webhook() -> None:
    plan = plan_decision(comment(Status.PUBLISHED), 3, ModeratorDecision(7, ModeratorAction.APPROVE, "ham", 1),
                         actor="key:3", now=NOW)
    assert plan.target is Status.PUBLISHED and plan.webhook is None


def test_a_stale_or_pointless_decision_is_refused() -> None:
    with pytest.raises(StaleRevision) as stale:
        plan_decision(comment(revision=2), 0, ModeratorDecision(7, ModeratorAction.APPROVE, "ham", 1),
                      actor="key:3", now=NOW)
    assert stale.value.public == {"current_revision": 2, "status": "held"}
    with pytest.raises(StaleRevision, match="awaits no approve"):
        plan_decision(comment(Status.REJECTED), 0, ModeratorDecision(7, ModeratorAction.APPROVE, "ham", 1),
                      actor="key:3", now=NOW)


def test_a_report_opens_only_while_the_comment_awaits_a_decision() -> None:
    opened = plan_report(comment(Status.PUBLISHED), "spam")
    assert opened.opens and opened.resolution is None and opened.event.action == "report"
    closed = plan_report(comment(Status.REMOVED), "spam")
    assert not closed.opens and closed.resolution == "already_removed"


def test_duplicate_comes_before_flood_and_retry_after_rounds_up() -> None:
    with pytest.raises(DuplicateComment) as dup:
        admit(duplicate_of=5, last_at=NOW, now=NOW, flood_interval=15)
    assert dup.value.public == {"existing_id": 5}
    with pytest.raises(TooManyRequests) as flood:
        admit(duplicate_of=None, last_at=NOW - timedelta(seconds=4.5), now=NOW, flood_interval=15)
    assert flood.value.retry_after == 11  # 10.5 s left: wait 11
    with pytest.raises(TooManyRequests) as almost:
        admit(duplicate_of=None, last_at=NOW - timedelta(seconds=14.9), now=NOW, flood_interval=15)
    assert almost.value.retry_after == 1  # never 0
    admit(duplicate_of=None, last_at=None, now=NOW, flood_interval=15)
    admit(duplicate_of=None, last_at=NOW, now=NOW, flood_interval=0)  # no flood rule


def test_replay_under_an_idempotency_key() -> None:
    check_replay("abc", "abc")
    with pytest.raises(IdempotencyConflict):
        check_replay("abc", "abd")


def test_signature_votes() -> None:
    assert signature_vote_effect(exists=False, removed=False, action="reject") is SignatureVoteEffect.CREATE
    assert signature_vote_effect(exists=False, removed=False, action="approve") is SignatureVoteEffect.SKIP
    assert signature_vote_effect(exists=True, removed=False, action="approve") is SignatureVoteEffect.VOTE
    assert signature_vote_effect(exists=True, removed=True, action="reject") is SignatureVoteEffect.SKIP
