"""What each audience sees of a comment: the public, the site's backend, a moderator.

The e-mail is private: only the moderator view carries it (moderators decide on the author's history).
The public view is what the site may publish; the site's views add the decision and its evidence.
"""

from __future__ import annotations

from typing import Any

from .domain import Comment
from .errors import ModerationError
from .labels import REASON_KINDS
from .store import DecisionOutcome, ShadowRows
from .workflow import ModeratorDecision


def public_view(comment: Comment) -> dict[str, Any]:
    """What anyone may see: the comment as the site publishes it (no e-mail, no IP, no evidence)."""
    return {
        "id": comment.id,
        "article_id": comment.article_id,
        "parent_id": comment.parent_id,
        "author_name": comment.author_name,
        "author_url": comment.author_url,
        "content": comment.content,
        "created_at": comment.created_at.isoformat(),
    }


def site_submission_view(comment: Comment) -> dict[str, Any]:
    """The site's answer to a submission: decision, reasons, scores, versions and the public view."""
    version = comment.model_version
    body = {
        "id": comment.id,
        "decision": comment.decision.value,
        "status": comment.status.value,
        "reasons": [r.to_json() for r in comment.reasons],
        "scores": comment.scores,
        "models": {"spam": version, "toxic": version},
        "comment": public_view(comment),
    }
    if comment.shadow_decision is not None:
        body["shadow_decision"] = comment.shadow_decision.value  # the site is in shadow mode: what would have been
    return body


def site_status_view(comment: Comment) -> dict[str, Any]:
    """The site's view of a comment later on: where it stands now, at which revision."""
    return {
        "id": comment.id,
        "status": comment.status.value,
        "decision": comment.decision.value,
        "revision": comment.revision,
        "updated_at": comment.updated_at.isoformat(),
        "comment": public_view(comment),
    }


def moderator_view(comment: Comment) -> dict[str, Any]:
    """What a moderator sees of the comment itself: the site's view plus the e-mail and the evidence."""
    return {
        **site_status_view(comment),
        "created_at": comment.created_at.isoformat(),
        "author_email": comment.author_email,
        "reasons": [r.to_json() for r in comment.reasons],
        "scores": comment.scores,
        "model_version": comment.model_version,
    }


def decision_view(outcome: DecisionOutcome, decision: ModeratorDecision) -> dict[str, Any]:
    """A moderator's answer to a decision: where the comment went, and what followed from it."""
    c = outcome.comment
    return {
        "id": c.id,
        "status": c.status.value,
        "previous_status": outcome.previous_status.value,
        "revision": c.revision,
        "action": decision.action.value,
        "label": decision.label,
        "reports_closed": outcome.reports_closed,
        "webhook_queued": outcome.webhook_queued,
    }


def decision_result_view(comment_id: Any, decision: ModeratorDecision | None,
                         outcome: DecisionOutcome | ModerationError) -> dict[str, Any]:
    """One result of several decisions: ``ok`` with the decision's answer, or the error that refused it."""
    if isinstance(outcome, ModerationError) or decision is None:
        assert isinstance(outcome, ModerationError)
        return {"comment_id": comment_id, "ok": False, "http_status": outcome.http_status, **outcome.to_json()}
    return {"comment_id": comment_id, "ok": True, **decision_view(outcome, decision)}


# Where a comment decided in shadow mode stands now, from what moderators and readers did since.
TAKEN_DOWN = ("removed", "rejected")


def shadow_report_view(rows: ShadowRows, *, shadow_on: bool) -> dict[str, Any]:
    """Shadow mode's report: what the rules would have done, beside what moderators and readers later did.

    ``confirmed``: would-be holds and rejections a moderator later took down or a reader reported;
    ``missed``: comments the rules would have published that were taken down or reported all the same.
    """
    would: dict[str, dict[str, Any]] = {
        d: {"count": 0, "taken_down": 0, "reported": 0, "up": 0} for d in ("publish", "hold", "reject")
    }
    for decision, status, reported, n in rows.outcomes:
        entry = would[decision]
        entry["count"] += n
        if status in TAKEN_DOWN:
            entry["taken_down"] += n
        else:
            entry["up"] += n
        if reported:
            entry["reported"] += n
    confirmed = sum(n for d, status, reported, n in rows.outcomes
                    if d != "publish" and (status in TAKEN_DOWN or reported))
    missed = sum(n for d, status, reported, n in rows.outcomes if d == "publish" and (status in TAKEN_DOWN or reported))
    flagged = would["hold"]["count"] + would["reject"]["count"]
    by_reason = {kind: 0 for kind in REASON_KINDS}
    for _, kind, n in rows.kinds:
        by_reason[kind] = by_reason.get(kind, 0) + n
    return {
        "shadow": shadow_on,
        "comments": sum(entry["count"] for entry in would.values()),
        "would": would,
        "would_hold_by_reason": by_reason,
        "flagged": flagged,
        "confirmed": confirmed,
        "missed": missed,
        "precision": round(confirmed / flagged, 4) if flagged else None,
        "recent": [
            {
                "id": c.id, "article_id": c.article_id, "would": c.shadow_decision.value if c.shadow_decision else None,
                "reasons": [r.code for r in c.reasons if r.hold], "status": c.status.value,
                "created_at": c.created_at.isoformat(), "content": c.content,
            }
            for c in rows.recent
        ],
    }
