"""The moderation checks: small functions, each looking at one thing and returning its evidence.

A check returns ``Evidence`` when it fires and ``None`` otherwise. Every check that fires holds
the comment; the order in ``CHECKS`` is the order reasons are shown to moderators.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ..campaigns import Observation, campaign_details, campaign_message
from ..domain import Evidence, Submission
from ..policy import Policy
from ..textnorm import contains_term, find_urls
from ..workflow import AuthorStanding, blocked_evidence
from .scoring import ScoringResult


@dataclass(frozen=True)
class CheckContext:
    submission: Submission
    normalized: str  # normalised content (plus name and URL, which spammers also use)
    policy: Policy
    now: datetime
    scoring: ScoringResult | None  # None: the classifiers could not score this comment
    campaign: Observation | None = None  # the site's campaign memory on this comment (None: not consulted)
    author: AuthorStanding | None = None  # what the site knows of the author (None: not looked up)


# Heads whose score holds a comment by default; others only when the policy gives a threshold.
DEFAULT_HELD_HEADS = ("spam", "toxic")
SITE_MODEL_VISIBLE_CHANGE = 0.01  # smaller moves by the site's online head are not worth a sentence
# Heads that explain but never hold on their own, even with a policy threshold: hate speech in the training
# tweets covers hostility to the government, so holding on it flags ordinary political discussion (issue 11).
# Its reason is shown (hold=False) beside whatever else fired; `toxic` (abusive language) is what holds.
EXPLAIN_ONLY_HEADS = ("hate_speech",)
HEAD_MESSAGES = {
    "spam": "Looks like spam or gambling promotion",
    "toxic": "Looks insulting or abusive",
    "hate_speech": "May attack a group or institution (shown for context; does not hold on its own)",
}


def honeypot(ctx: CheckContext) -> Evidence | None:
    """A hidden form field that people never see was filled in: a bot."""
    if ctx.submission.honeypot:
        return Evidence("honeypot", "The hidden honeypot field was filled in (a bot).", "form")
    return None


def too_fast(ctx: CheckContext) -> Evidence | None:
    """Submitted sooner after the form was shown than a person can type."""
    rendered = ctx.submission.form_rendered_at
    limit = ctx.policy.min_submit_seconds
    if rendered is None or limit <= 0:
        return None
    elapsed = (ctx.now - rendered).total_seconds()
    if elapsed < limit:
        return Evidence(
            "too_fast",
            f"Submitted {max(elapsed, 0):.1f} s after the form was shown (minimum {limit:g} s).",
            "form",
            score=round(elapsed, 3),
            threshold=limit,
        )
    return None


def disallowed_term(ctx: CheckContext) -> Evidence | None:
    """A term from the site's disallowed list: held as spam."""
    for term in ctx.policy.disallowed_terms:
        if contains_term(ctx.normalized, term):
            return Evidence("policy.disallowed_key", f"Contains a disallowed term: “{term}”.", "policy")
    return None


def moderation_term(ctx: CheckContext) -> Evidence | None:
    """A term from the site's moderation list: a person should look."""
    for term in ctx.policy.moderation_terms:
        if contains_term(ctx.normalized, term):
            return Evidence("policy.moderation_key", f"Contains a term that needs review: “{term}”.", "policy")
    return None


def too_many_links(ctx: CheckContext) -> Evidence | None:
    """More links than the site allows (WordPress holds at 2 by default)."""
    links = len(find_urls(ctx.submission.content))
    if links > ctx.policy.max_links:
        return Evidence(
            "policy.links",
            f"Contains {links} links (more than {ctx.policy.max_links} are held).",
            "policy",
            score=float(links),
            threshold=float(ctx.policy.max_links),
        )
    return None


def classifier_unavailable(ctx: CheckContext) -> Evidence | None:
    """No model could score this comment: hold it rather than publish it unchecked."""
    if ctx.scoring is None:
        return Evidence("classifier_unavailable", "The classifiers could not score this comment.", "classifier")
    return None


def classifier_scores(ctx: CheckContext) -> list[Evidence]:
    """One piece of evidence per head whose score reaches its hold threshold."""
    if ctx.scoring is None:
        return []
    found = []
    explicit = ctx.policy.thresholds
    for head, score in ctx.scoring.scores.items():
        explain_only = head in EXPLAIN_ONLY_HEADS
        if head not in DEFAULT_HELD_HEADS and head not in explicit and not explain_only:
            continue
        threshold = ctx.scoring.thresholds.get(head)
        if threshold is None or score < threshold:
            continue
        label = HEAD_MESSAGES.get(head, f"High {head.replace('_', ' ')} score")
        message = f"{label} (score {score:.2f} ≥ {threshold:.2f})."
        site = ctx.scoring.site.get(head)
        site_model = None
        if site is not None and abs(score - site["global_score"]) >= SITE_MODEL_VISIBLE_CHANGE:
            # Say so when this site's own decisions, not the shared model alone, put the comment here.
            site_model = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in site.items() if k != "score"}
            message += (f" This site's moderators' {site['labels']} decisions moved it from "
                        f"{site['global_score']:.2f}.")
        found.append(
            Evidence(
                head,
                message,
                f"model:{ctx.scoring.version}",
                score=score,
                threshold=threshold,
                hold=not explain_only,
                explanation=tuple(ctx.scoring.explanations.get(head, ())),
                site_model=site_model,
            )
        )
    return found


def campaign(ctx: CheckContext) -> Evidence | None:
    """A signature learned from this site's moderators (brand, link, phone, template) matches: hold."""
    seen = ctx.campaign
    if seen is None or not seen.holding:
        return None
    strongest = max(seen.rules.strength(s) for s in seen.holding)
    return Evidence(
        "campaign",
        campaign_message(seen),
        "campaign",
        score=float(strongest),
        threshold=float(seen.rules.min_rejections),
        # The page highlights these; template signatures have no single word to show.
        explanation=tuple({"text": s.value, "kind": s.kind} for s in seen.holding if s.kind == "brand"),
        details=campaign_details(seen),
    )


def blocked_author(ctx: CheckContext) -> Evidence | None:
    """A moderator blocked this author (by the keyed hash of the e-mail): held, or rejected if the site says so."""
    return blocked_evidence(ctx.author)


def hold_all(ctx: CheckContext) -> Evidence | None:
    """The site reviews every comment before it appears."""
    if ctx.policy.hold_all:
        return Evidence("policy.hold_all", "This site holds every comment for review.", "policy")
    return None


CHECKS: tuple[Callable[[CheckContext], Evidence | list[Evidence] | None], ...] = (
    honeypot,
    too_fast,
    disallowed_term,
    moderation_term,
    too_many_links,
    classifier_unavailable,
    classifier_scores,
    campaign,
    blocked_author,
    hold_all,
)
