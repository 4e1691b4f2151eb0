"""Plain types shared by the pipeline, the store and the web layer (no I/O here)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Status(enum.StrEnum):
    PUBLISHED = "published"
    HELD = "held"
    REJECTED = "rejected"  # a moderator refused it (spam, toxic, other)
    REMOVED = "removed"  # taken down after it had been published
    SPAM = "spam"  # rejected outright as near-certain spam: never shown, not in the held queue (Spam tab)


class Decision(enum.StrEnum):
    PUBLISH = "publish"
    HOLD = "hold"
    REJECT = "reject"  # near-certain spam under the site's reject rules: straight to the spam status


class Role(enum.StrEnum):
    SITE = "site"
    MODERATOR = "moderator"
    ADMIN = "admin"
    # Not a site's key: reloads the model every site shares (operator_keys; site_id is "").
    OPERATOR = "operator"


@dataclass(frozen=True)
class Submission:
    """A validated comment as the site sent it. ``author_email`` is private."""

    article_id: str
    author_name: str
    author_email: str
    content: str
    author_url: str | None = None
    parent_id: int | None = None
    author_ip: str | None = None
    user_agent: str | None = None
    referrer: str | None = None
    honeypot: str | None = None
    form_rendered_at: datetime | None = None
    lang: str | None = None


@dataclass(frozen=True)
class Evidence:
    """One reason for a decision: what fired, how strongly, against which limit, from where."""

    code: str
    message: str
    source: str
    score: float | None = None
    threshold: float | None = None
    hold: bool = True
    # This reason met one of the site's reject rules: the comment went straight to spam.
    reject: bool = False
    explanation: tuple[dict[str, Any], ...] = ()
    # Structured evidence a check wants moderators to see (the campaign check: cluster and signatures).
    details: dict[str, Any] | None = None
    # When this site's online head moved the score: {"labels", "global_score", "weight", ...}.
    site_model: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message, "source": self.source}
        if self.score is not None:
            out["score"] = round(self.score, 4)
        if self.threshold is not None:
            out["threshold"] = self.threshold
        if self.explanation:
            out["explanation"] = list(self.explanation)
        if self.details is not None:
            out["details"] = self.details
        if self.site_model:
            out["site_model"] = dict(self.site_model)
        if self.reject:
            out["reject"] = True
        if not self.hold:
            out["hold"] = False  # shown for context only (e.g. hate_speech): this reason held nothing
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Evidence:
        return cls(
            code=raw["code"],
            message=raw["message"],
            source=raw["source"],
            score=raw.get("score"),
            threshold=raw.get("threshold"),
            hold=raw.get("hold", True) is not False,
            reject=raw.get("reject") is True,
            explanation=tuple(raw.get("explanation", ())),
            details=raw.get("details"),
            site_model=raw.get("site_model"),
        )


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    reasons: tuple[Evidence, ...]
    scores: dict[str, float] = field(default_factory=dict)
    model_version: str | None = None
    # Shadow mode: what the site's rules decided, while ``decision`` (publish) is what was applied.
    shadow_decision: Decision | None = None

    @property
    def status(self) -> Status:
        return DECISION_STATUS[self.decision]


# Where each automatic decision puts a new comment.
DECISION_STATUS = {Decision.PUBLISH: Status.PUBLISHED, Decision.HOLD: Status.HELD, Decision.REJECT: Status.SPAM}


@dataclass(frozen=True)
class Comment:
    """A stored comment (what each audience may see of it is in ``views``)."""

    id: int
    site_id: str
    article_id: str
    parent_id: int | None
    author_name: str
    author_email: str
    author_url: str | None
    content: str
    status: Status
    decision: Decision
    reasons: tuple[Evidence, ...]
    scores: dict[str, float]
    model_version: str | None
    revision: int
    created_at: datetime
    updated_at: datetime
    lang: str | None = None
    shadow_decision: Decision | None = None  # decided in shadow mode: what would have happened


@dataclass(frozen=True)
class ApiKey:
    id: int
    site_id: str
    role: Role
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None
