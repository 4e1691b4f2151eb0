"""Which model heads hold a comment: `toxic` (abusive language) holds, `hate_speech` only explains."""

from __future__ import annotations

from datetime import datetime, timezone

from moderation.domain import Decision, Evidence, Submission
from moderation.pipeline import run_checks
from moderation.pipeline.checks import CheckContext
from moderation.pipeline.scoring import ScoringResult
from moderation.policy import Policy

THRESHOLDS = {"spam": 0.6, "toxic": 0.5, "hate_speech": 0.5}
WORDS = [{"text": "antek asing", "weight": 1.2}]


def verdict(scores: dict[str, float], policy: Policy | None = None):
    sub = Submission(article_id="a", author_name="Budi", author_email="budi@example.co.id",
                     content="Pemerintah ini antek asing semua")
    scoring = ScoringResult(scores=scores, version="t", thresholds=THRESHOLDS, explanations={"hate_speech": WORDS})
    ctx = CheckContext(submission=sub, normalized="pemerintah ini antek asing semua", policy=policy or Policy(),
                       now=datetime(2026, 12, 2, tzinfo=timezone.utc), scoring=scoring)
    return run_checks(ctx)


def test_hate_speech_alone_explains_but_publishes() -> None:
    v = verdict({"spam": 0.01, "toxic": 0.2, "hate_speech": 0.9})
    assert v.decision is Decision.PUBLISH
    (reason,) = v.reasons
    assert reason.code == "hate_speech" and reason.hold is False and reason.explanation == tuple(WORDS)
    assert reason.to_json()["hold"] is False
    assert Evidence.from_json(reason.to_json()) == reason


def test_hate_speech_never_holds_even_with_a_policy_threshold() -> None:
    v = verdict({"spam": 0.01, "toxic": 0.2, "hate_speech": 0.9}, Policy(thresholds={"hate_speech": 0.3}))
    assert v.decision is Decision.PUBLISH


def test_abusive_comment_holds_and_hate_speech_is_shown_beside_it() -> None:
    v = verdict({"spam": 0.01, "toxic": 0.8, "hate_speech": 0.9})
    assert v.decision is Decision.HOLD
    assert [(r.code, r.hold) for r in v.reasons] == [("toxic", True), ("hate_speech", False)]
    assert "hold" not in v.reasons[0].to_json()


def test_below_threshold_gives_no_reason() -> None:
    v = verdict({"spam": 0.01, "toxic": 0.2, "hate_speech": 0.1})
    assert v.decision is Decision.PUBLISH and v.reasons == ()
