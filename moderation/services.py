"""The service layer: what the HTTP handlers, the compatibility endpoints and the CLI call.

Handlers parse a request, call one function here and render its result; the store persists what
these functions decided (the rules themselves are in ``workflow``) and returns rows. Nothing here
knows about HTTP. Follow a comment: ``web/comments.py`` → ``Moderation.submit`` → ``assess`` (score +
checks → verdict) → ``Store.insert_comment``. Follow a decision: ``web/queue.py`` or the /moderate
page → ``Moderation.decide`` → ``Store.decide`` (which applies ``workflow.plan_decision``: status,
audit event, training label, webhook event in one transaction) → the campaign memory, the site head
and the webhook dispatcher hear of it.

``assess`` is the one place a text is scored and checked: every path (submissions, Akismet's
comment-check, ``moderation check``) scores under the policy's classifier timeout.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from . import i18n, views
from .author_hashes import AuthorHasher
from .campaigns import CampaignMemory, Observation
from .domain import ApiKey, Comment, Decision, Status, Submission, Verdict
from .errors import ModerationError, NotFound, ValidationFailed
from .metrics import Metrics
from .pipeline import run_checks
from .pipeline.checks import CheckContext
from .pipeline.scoring import BatchScores, Scorer, ScoringResult, ScoringUnavailable
from .pipeline.site_model import SiteLearner, SiteModel
from .policy import Policy
from .settings import Settings
from .store import AuthorBlockOutcome, DecisionOutcome, IdempotentResponse, NewComment, ReportOutcome, Store
from .textnorm import find_urls, normalize
from .validation import MAX_DB_INT, validate_submission
from .workflow import AuthorStanding, Edit, ModeratorAction, ModeratorDecision, TrainingLabel, check_replay

log = structlog.get_logger(__name__)

MAX_ACTOR_CHARS = 200
MAX_CLUSTER_DECISIONS = 500
SHADOW_RECENT = 20  # would-be holds listed in the shadow report


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- assessing a text: score + checks → verdict ------------------------------------------------------------


@dataclass(frozen=True)
class Assessment:
    verdict: Verdict
    scoring: ScoringResult | None  # None: the classifiers could not score it (the verdict holds it)
    scoring_error: str | None
    campaign: Observation | None


def keyword_text(submission: Submission, normalized_content: str) -> str:
    """What the site's term lists are matched against: WordPress matches name, URL and content alike."""
    others = [normalize(p) for p in (submission.author_name, submission.author_url) if p]
    return " \n ".join([p for p in (normalized_content, *others) if p])


async def assess(
    scorer: Scorer,
    submission: Submission,
    policy: Policy,
    *,
    now: datetime,
    normalized: str | None = None,
    site: SiteModel | None = None,
    campaigns: CampaignMemory | None = None,
    site_id: str | None = None,
    metrics: Metrics | None = None,
    author: AuthorStanding | None = None,
) -> Assessment:
    """Score ``submission`` (under the policy's classifier timeout) and run every check on it.

    ``normalized`` is ``normalize(submission.content)`` when the caller has it. With ``campaigns`` (and
    ``site_id``), the site's campaign memory is consulted; with ``site``, the site's online head blends in;
    with ``author``, the author's standing on the site (blocked, trusted) counts.
    A classifier that cannot score gives a verdict that holds (``classifier_unavailable``), never an error.
    """
    content_normalized = normalize(submission.content) if normalized is None else normalized
    scoring: ScoringResult | None = None
    scoring_error: str | None = None
    try:
        scoring = await scorer.score(
            submission.content, dict(policy.thresholds), timeout=policy.classifier_timeout_seconds,
            site=site, normalized=content_normalized,
        )
    except ScoringUnavailable as exc:
        scoring_error = str(exc)
        if metrics is not None:
            metrics.classifier_failures.inc()
    campaign = None
    if campaigns is not None and site_id is not None:
        campaign = await campaigns.observe(site_id, submission.content, content_normalized)
    verdict = run_checks(
        CheckContext(
            submission=submission,
            normalized=keyword_text(submission, content_normalized),
            policy=policy,
            now=now,
            scoring=scoring,
            campaign=campaign,
            author=author,
        )
    )
    return Assessment(verdict, scoring, scoring_error, campaign)


def submission_signals(submission: Submission, now: datetime) -> dict[str, Any]:
    """Everything the moderators and retraining may want besides the text (no e-mail here)."""
    signals: dict[str, Any] = {
        "honeypot_filled": bool(submission.honeypot),
        "links": len(find_urls(submission.content)),
        "content_chars": len(submission.content),
    }
    if submission.form_rendered_at is not None:
        signals["seconds_to_submit"] = round((now - submission.form_rendered_at).total_seconds(), 3)
    return signals


# -- the service ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submitted:
    comment: Comment
    body: dict[str, Any]  # the site's answer (views.site_submission_view), as first given
    replayed: bool  # the Idempotency-Key was used before with this request: nothing new was stored


@dataclass(frozen=True)
class DecisionResult:
    """One decision of several: what it changed, or why it was refused."""

    decision: ModeratorDecision
    outcome: DecisionOutcome | ModerationError


@dataclass(frozen=True)
class Idempotency:
    key: str
    request_hash: str


class Moderation:
    """The domain operations of one app, over its store, scorer and learners (built once by create_app)."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        scorer: Scorer,
        metrics: Metrics,
        clock: Callable[[], datetime],
        campaigns: CampaignMemory,
        site_learner: SiteLearner,
        wake_webhooks: Callable[[], None],
        author_hasher: AuthorHasher,
    ) -> None:
        self.settings = settings
        self.store = store
        self.scorer = scorer
        self.metrics = metrics
        self.clock = clock
        self.campaigns = campaigns
        self.site_learner = site_learner
        self.wake_webhooks = wake_webhooks  # the dispatcher delivers new events now, not at its next poll
        self.author_hasher = author_hasher  # keyed hashes the duplicate and flood checks match on

    def policy(self, site_id: str) -> Policy:
        return self.settings.policy.for_site(site_id)

    async def author_standing(self, site_id: str, email_hash: str, policy: Policy) -> AuthorStanding:
        # Only the trust rule reads the counts; without it the block is all a submission needs.
        return await self.store.author_standing(site_id, email_hash, counts=policy.trust_after_approved > 0)

    # -- submissions ------------------------------------------------------------------------------------

    async def earlier_answer(self, site_id: str, idempotency: Idempotency) -> IdempotentResponse | None:
        """The first answer to a request retried under the same Idempotency-Key (409 for another request)."""
        earlier = await self.store.find_idempotent(site_id, idempotency.key)
        if earlier is not None:
            check_replay(earlier.request_hash, idempotency.request_hash)
        return earlier

    async def submit(self, site_id: str, submission: Submission, *, lang: str,
                     idempotency: Idempotency | None = None) -> Submitted:
        """Check, score and decide a validated comment, and store it (committed when this returns)."""
        stages = self.metrics.stages
        if submission.parent_id is not None and not await self.store.parent_exists(
            site_id, submission.article_id, submission.parent_id
        ):
            raise ValidationFailed(
                i18n.message(lang, "invalid_submission"),
                fields={"parent_id": [{"code": "not_found", "message": i18n.message(lang, "parent_not_found")}]},
            )
        policy = self.policy(site_id)
        now = self.clock()
        t0 = time.perf_counter()
        # Normalised once: the classifiers, their explanations and the keyword checks all use it.
        normalized = normalize(submission.content)
        t1 = time.perf_counter()
        stages["normalise"].observe(t1 - t0)
        email_hash = self.author_hasher.email(submission.author_email)
        assessment = await assess(
            self.scorer, submission, policy, now=now, normalized=normalized,
            site=self.site_learner.for_site(site_id), campaigns=self.campaigns, site_id=site_id,
            metrics=self.metrics, author=await self.author_standing(site_id, email_hash, policy),
        )
        campaign = assessment.campaign
        assert campaign is not None  # consulted: campaigns and site_id were given
        t2 = time.perf_counter()
        stages["score"].observe(t2 - t1)
        new = NewComment(
            site_id=site_id,
            submission=submission,
            verdict=assessment.verdict,
            content_hash=sha256_hex(submission.content.encode("utf-8")),
            signals=submission_signals(submission, now),
            cluster_id=campaign.cluster_id,
            minhash=campaign.minhash_bytes,
            email_hash=email_hash,
            ip_hash=self.author_hasher.ip(submission.author_ip),
        )
        comment, body, replayed = await self.store.insert_comment(
            new,
            now=now,
            flood_interval=policy.flood_interval_seconds,
            idempotency=(idempotency.key, idempotency.request_hash) if idempotency else None,
            render=views.site_submission_view,
        )
        stages["store"].observe(time.perf_counter() - t2)
        if not replayed:
            self.campaigns.remember(site_id, comment.id, campaign, comment.created_at)
            self.metrics.decisions.labels(decision=comment.decision.value).inc()
            for reason in comment.reasons:
                self.metrics.reasons.labels(reason=reason.code).inc()
        return Submitted(comment, body, replayed)

    async def edit(self, site_id: str, comment_id: int, fields: dict[str, Any], *, lang: str) -> DecisionOutcome:
        """A new version of a comment from the site: validated and scored as a submission, then stored in one
        transaction (revision + 1, the audit event keeping the previous text, a webhook if the status moves)."""
        comment = await self.store.get_comment(site_id, comment_id)
        if comment is None:
            raise NotFound("No such comment.")
        problems: dict[str, list[dict[str, str]]] = {}
        for fixed in ("article_id", "author_email", "parent_id"):
            if fixed in fields:
                problems[fixed] = [{"code": "immutable", "message": "An edit cannot change this field."}]
        revision = fields.get("revision", comment.revision)
        if not isinstance(revision, int) or isinstance(revision, bool) or not 1 <= revision <= MAX_DB_INT:
            problems["revision"] = [{"code": "invalid", "message": "The revision you edited (an integer)."}]
        if problems:
            raise ValidationFailed(i18n.message(lang, "invalid_submission"), fields=problems)
        # Validated exactly as a new comment would be, with the fields an edit cannot change taken as stored.
        submission = validate_submission({
            "article_id": comment.article_id, "author_email": comment.author_email,
            "author_name": fields.get("author_name", comment.author_name),
            "author_url": fields.get("author_url", comment.author_url),
            "content": fields.get("content"),
        }, lang)
        policy = self.policy(site_id)
        now = self.clock()
        normalized = normalize(submission.content)
        # An edit counts the author's standing as a new comment would (a blocked author's edit is held too).
        author = (await self.author_standing(site_id, self.author_hasher.email(comment.author_email), policy)
                  if comment.author_email else None)
        assessment = await assess(
            self.scorer, submission, policy, now=now, normalized=normalized,
            site=self.site_learner.for_site(site_id), campaigns=self.campaigns, site_id=site_id,
            metrics=self.metrics, author=author,
        )
        outcome = await self.store.edit_comment(site_id, Edit(
            comment_id=comment.id, content=submission.content, author_name=submission.author_name,
            author_url=submission.author_url, content_hash=sha256_hex(submission.content.encode("utf-8")),
            verdict=assessment.verdict, revision=revision,
        ), now=now)
        self.metrics.decisions.labels(decision=outcome.comment.decision.value).inc()
        if outcome.webhook_queued:
            self.wake_webhooks()
        return outcome

    async def edit_latest(self, site_id: str, submission: Submission, *, lang: str) -> DecisionOutcome | None:
        """Edit the author's newest comment on the article into ``submission``'s text, for clients that name
        no comment of ours (Coral's EDIT). None when this author has no comment there."""
        comment_id = await self.store.latest_author_comment(
            site_id, submission.article_id, self.author_hasher.email(submission.author_email))
        if comment_id is None:
            return None
        return await self.edit(site_id, comment_id, {"content": submission.content}, lang=lang)

    async def check_text(self, site_id: str, submission: Submission) -> Assessment:
        """The verdict a comment would get under the site's policy, storing nothing (Akismet's comment-check).

        What the site has learned counts as it does for ``submit``: its online head, its campaign memory
        (only looked up; the comment is not added to it) and the author's standing (a block)."""
        policy = self.policy(site_id)
        normalized = normalize(submission.content)
        author = None
        if submission.author_email:
            author = await self.author_standing(site_id, self.author_hasher.email(submission.author_email), policy)
        return await assess(
            self.scorer, submission, policy, now=self.clock(), normalized=normalized,
            site=self.site_learner.for_site(site_id), campaigns=self.campaigns, site_id=site_id,
            metrics=self.metrics, author=author,
        )

    # -- moderator decisions and readers' reports ----------------------------------------------------------

    async def decide(self, key: ApiKey, decision: ModeratorDecision) -> DecisionOutcome:
        """Decide in one transaction; then the campaign memory, the site head and the webhooks hear of it."""
        actor = f"key:{key.id}"
        outcome = await self.store.decide(key.site_id, decision, actor=actor, now=self.clock())
        # After the commit, as its own step: the campaign memory learns from the decision. A failure there
        # loses only these votes (the decision stands), so it is logged, not raised.
        try:
            await self.campaigns.learn(key.site_id, outcome.comment.id, outcome.comment.content,
                                       action=decision.action.value, label=decision.label, actor=actor)
        except Exception as exc:  # noqa: BLE001
            log.error("campaign_learn_failed", comment_id=outcome.comment.id, error=repr(exc))
        self._count_decision(decision, outcome)
        self.site_learner.notify()  # the site's online head learns the new label off the request path
        if outcome.webhook_queued:
            self.wake_webhooks()
        return outcome

    def _count_decision(self, decision: ModeratorDecision, outcome: DecisionOutcome) -> None:
        metrics = self.metrics
        metrics.moderator_actions.labels(action=decision.action.value, label=decision.label or "none").inc()
        comment = outcome.comment
        version = comment.model_version or "none"
        if (comment.decision is Decision.HOLD and outcome.previous_status is Status.HELD
                and comment.status is Status.PUBLISHED):
            metrics.overturned.labels(model_version=version, kind="held_then_approved").inc()
        if outcome.previous_status is Status.SPAM and comment.status is Status.PUBLISHED:
            metrics.overturned.labels(model_version=version, kind="rejected_then_rescued").inc()
        if comment.decision is Decision.PUBLISH and comment.status is Status.REMOVED:
            metrics.overturned.labels(model_version=version, kind="published_then_removed").inc()

    async def decide_cluster(self, key: ApiKey, cluster_id: int, *, up_to_id: int, action: ModeratorAction,
                             label: str, note: str | None) -> list[DecisionResult]:
        """Each held comment of a cluster with id ≤ ``up_to_id`` decided on its own, at the revision it has.

        ``NotFound`` when the cluster has no held comment of this site. A comment decided by someone else
        meanwhile fails alone (its error is in its result); the others go on.
        """
        comments = await self.store.cluster_comments(
            key.site_id, cluster_id, statuses=(Status.HELD,), up_to_id=up_to_id, limit=MAX_CLUSTER_DECISIONS
        )
        if not comments:
            raise NotFound("No held comments in this cluster.")
        results = []
        for comment in comments:
            decision = ModeratorDecision(comment_id=comment.id, action=action, label=label,
                                         revision=comment.revision, note=note)
            try:
                results.append(DecisionResult(decision, await self.decide(key, decision)))
            except ModerationError as exc:
                results.append(DecisionResult(decision, exc))
        return results

    async def set_author_block(self, key: ApiKey, comment_id: int, *, block: bool,
                               note: str | None) -> AuthorBlockOutcome:
        """Block (or unblock) the author of a comment on the key's site, matched by the keyed hash of the e-mail."""
        outcome = await self.store.set_author_block(key.site_id, comment_id, block=block, actor=f"key:{key.id}",
                                                    note=note, now=self.clock())
        if outcome.changed:
            log.info("author_block" if block else "author_unblock", comment_id=comment_id, actor=f"key:{key.id}")
        return outcome

    async def report(self, site_id: str, comment_id: int, *, reason: str, note: str | None,
                     reporter: str | None) -> ReportOutcome:
        """A reader's report; only a hash of the site's reader id is kept (one report per reader counts)."""
        reporter_hash = sha256_hex(f"{site_id}\0{reporter}".encode()) if reporter else None
        outcome = await self.store.add_report(site_id, comment_id, reason=reason, note=note,
                                              reporter_hash=reporter_hash, now=self.clock(),
                                              hold_threshold=self.policy(site_id).report_hold_threshold)
        if outcome.held:
            self.wake_webhooks()
        return outcome

    async def shadow_report(self, site_id: str) -> dict[str, Any]:
        """What shadow mode would have held or rejected, beside what moderators and readers did since."""
        rows = await self.store.shadow_rows(site_id, recent=SHADOW_RECENT)
        return views.shadow_report_view(rows, shadow_on=self.policy(site_id).shadow)

    async def retry_failed_webhooks(self, site_id: str) -> int:
        """Queue again the events the dispatcher gave up on, and have it start now."""
        count = await self.store.retry_failed_webhooks(site_id, self.clock())
        self.wake_webhooks()
        return count

    # -- raw scores and feedback (the compatibility endpoints) --------------------------------------------

    async def score_texts(self, site_id: str, texts: list[str]) -> BatchScores:
        """Every head's raw score of ``texts`` (one model version), under the policy's classifier timeout."""
        try:
            return await self.scorer.score_texts(texts, timeout=self.policy(site_id).classifier_timeout_seconds)
        except ScoringUnavailable:
            self.metrics.classifier_failures.inc()
            raise

    async def add_feedback_label(self, site_id: str, *, text: str, label: str, source: str,
                                 actor: str | None) -> int:
        """Store a client's judgement of ``text`` for retraining, with what our current model thought of it.

        The model's scores are best effort: feedback is kept even when no model is loaded.
        """
        version: str | None = None
        scores: dict[str, float] | None = None
        try:
            batch = await self.score_texts(site_id, [text])
        except ScoringUnavailable:
            pass
        else:
            version, scores = batch.version, {k: round(v, 4) for k, v in batch.scores[0].items()}
        return await self.store.add_training_label(
            TrainingLabel(
                site_id=site_id,
                text=text,
                label=label,
                source=source,
                actor=(actor or None) and actor[:MAX_ACTOR_CHARS],
                model_version=version,
                scores=scores,
            ),
            self.clock(),
        )
