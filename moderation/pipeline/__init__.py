"""The moderation pipeline: run every check in order, collect the evidence, decide."""

from __future__ import annotations

from .. import workflow
from ..domain import Evidence, Verdict
from .checks import CHECKS, CheckContext


def run_checks(ctx: CheckContext) -> Verdict:
    """Publish when no check fires; otherwise hold (or reject under the site's rules), with every reason."""
    reasons: list[Evidence] = []
    for check in CHECKS:
        found = check(ctx)
        if found is None:
            continue
        reasons.extend(found if isinstance(found, list) else [found])
    decision, marked = workflow.outcome(reasons, ctx.policy, ctx.author)
    applied, shadow_decision = workflow.shadowed(decision, ctx.policy)
    scoring = ctx.scoring
    return Verdict(
        decision=applied,
        shadow_decision=shadow_decision,
        reasons=marked,
        scores={k: round(v, 4) for k, v in scoring.scores.items()} if scoring else {},
        model_version=scoring.version if scoring else None,
    )
