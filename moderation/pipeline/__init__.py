"""The moderation pipeline: run every check in order, collect the evidence, decide."""

from __future__ import annotations

from ..domain import Decision, Evidence, Verdict
from .checks import CHECKS, CheckContext


def run_checks(ctx: CheckContext) -> Verdict:
    """Publish when no check fires; otherwise hold, with every reason (moderators want them all)."""
    reasons: list[Evidence] = []
    for check in CHECKS:
        found = check(ctx)
        if found is None:
            continue
        reasons.extend(found if isinstance(found, list) else [found])
    decision = Decision.HOLD if any(r.hold for r in reasons) else Decision.PUBLISH
    scoring = ctx.scoring
    return Verdict(
        decision=decision,
        reasons=tuple(reasons),
        scores={k: round(v, 4) for k, v in scoring.scores.items()} if scoring else {},
        model_version=scoring.version if scoring else None,
    )
