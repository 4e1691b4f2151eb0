"""An Akismet-compatible spam check: ``/1.1/comment-check``, ``submit-spam``, ``submit-ham``, ``verify-key``.

Sites and plugins that speak Akismet switch by pointing their client at this service and using a site
API key of ours as the Akismet key (``api_key``, or ``key`` for verify-key, in the form body). Answers
are Akismet's plain text: ``true`` / ``false`` (+ ``X-akismet-pro-tip: discard`` for blatant spam),
``invalid`` with ``X-akismet-debug-help``, ``valid``, and "Thanks for making the web a better place."

comment-check answers ``true`` exactly when our pipeline, under the site's policy, would hold the text
*as spam* (spam head over its threshold, a disallowed term, a filled honeypot); a comment held only for
being toxic, for links or for review answers ``false``: Akismet is about spam (see docs/compat.md).
Nothing from comment-check is stored; submit-spam / submit-ham carry the text again and store it as a
training label (text and label only). The e-mail, name and IP are never stored or logged here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import wraps
from urllib.parse import parse_qsl

import structlog
from aiohttp import web

from ...appkeys import MODERATION, STORE
from ...auth import API_KEY, hash_key, is_akismet_alias
from ...domain import ApiKey, Role, Submission
from ...errors import Forbidden, ModerationError, PayloadTooLarge, Unauthorized, ValidationFailed
from ...labels import HAM, SPAM, SPAM_REASON_CODES
from ...middlewares import LOG_FIELDS
from ...pipeline.scoring import ScoringUnavailable
from ...validation import text_problem
from ...workflow import AUTHOR_BLOCKED
from ..body import read_body
from .common import authenticate_site, is_true

log = structlog.get_logger(__name__)
routes = web.RouteTableDef()

THANKS = "Thanks for making the web a better place."
# A spam score this high (or a filled honeypot) is blatant: X-akismet-pro-tip: discard.
DISCARD_SPAM_SCORE = 0.99
# Akismet's documented test values: this author name / e-mail always get "true".
TEST_SPAM_AUTHOR = "viagra-test-123"
TEST_SPAM_EMAIL = "akismet-guaranteed-spam@example.com"
STANDARD_FIELDS = frozenset(
    {
        "api_key", "key", "blog", "user_ip", "user_agent", "referrer", "permalink", "comment_type",
        "comment_author", "comment_author_email", "comment_author_url", "comment_content", "comment_date_gmt",
        "comment_post_modified_gmt", "comment_parent", "blog_lang", "blog_charset", "user_role", "is_test",
        "recheck_reason", "honeypot_field_name", "comment_context",
    }
)
AKISMET_SPAM_CODES = SPAM_REASON_CODES | {"campaign", AUTHOR_BLOCKED}
MAX_FIELDS = 1000  # the WordPress plugin also sends every $_SERVER variable

Params = Mapping[str, str]
Handler = Callable[[web.Request], Awaitable[web.Response]]


class AkismetInvalid(Exception):
    """Answered as Akismet does: 200, a plain-text body and ``X-akismet-debug-help``."""

    def __init__(self, debug_help: str, body: str = "invalid") -> None:
        super().__init__(debug_help)
        self.debug_help, self.body = debug_help, body


def text(body: str, *, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/plain", charset="utf-8",
                        headers=dict(headers or {}))


def akismet_errors(handler: Handler) -> Handler:
    """Answer every failure of ``handler`` in Akismet's plain-text way, never in our JSON shape."""

    @wraps(handler)
    async def wrapped(request: web.Request) -> web.Response:
        try:
            if request.method != "POST":
                return text("Akismet API calls are POST requests.", status=405, headers={"Allow": "POST"})
            return await handler(request)
        except AkismetInvalid as exc:
            request[LOG_FIELDS]["error"] = "invalid"
            return text(exc.body, headers={"X-akismet-debug-help": exc.debug_help})
        except PayloadTooLarge as exc:
            request[LOG_FIELDS]["error"] = exc.code
            return text("invalid", status=413, headers={"X-akismet-debug-help": exc.message})
        except ScoringUnavailable:
            # Not "false": clients (the WordPress plugin) keep the comment and check it again later.
            request[LOG_FIELDS]["error"] = "classifier_unavailable"
            return text("The spam classifier is not available; try again later.", status=503,
                        headers={"X-akismet-debug-help": "classifier unavailable", "Retry-After": "60"})
        except ModerationError as exc:
            request[LOG_FIELDS]["error"] = exc.code
            # (a 429 keeps its Retry-After)
            return text("invalid", status=exc.http_status,
                        headers={"X-akismet-debug-help": exc.message, **exc.headers()})
        except Exception:
            log.exception("unhandled_error", route=request.path)
            return text("Internal error.", status=500)

    return wrapped


async def read_params(request: web.Request) -> dict[str, str]:
    """The form body (any charset the client names), falling back to query parameters; first value wins."""
    body = await read_body(request)
    charset = request.charset or "utf-8"
    try:
        pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding=charset, errors="replace",
                          max_num_fields=MAX_FIELDS)
    except (LookupError, ValueError) as exc:
        raise AkismetInvalid(f"Could not read the form body: {exc}") from None
    params: dict[str, str] = {}
    for name, value in [*pairs, *request.query.items()]:
        params.setdefault(name, value)
    return params


async def authenticate_params(request: web.Request, params: Params) -> ApiKey:
    token = (params.get("api_key") or params.get("key") or "").strip()
    if not token:
        raise AkismetInvalid('Empty "api_key" value')
    if is_akismet_alias(token.lower()):
        return await authenticate_alias(request, token.lower())
    try:
        return await authenticate_site(request, token)
    except Unauthorized:
        raise AkismetInvalid("Your API key is not valid: use a site API key of this service.") from None
    except Forbidden:
        raise AkismetInvalid("This API key is not a site key.") from None


async def authenticate_alias(request: web.Request, alias: str) -> ApiKey:
    """A 12-hex Akismet alias (``moderation keys create --akismet``) stands for its site key here."""
    key = await request.app[STORE].find_akismet_alias(hash_key(alias))
    if key is None or key.revoked_at is not None:
        raise AkismetInvalid("Your API key is not valid: use an Akismet alias or a site API key of this service.")
    if key.role is not Role.SITE:
        raise AkismetInvalid("This API key is not a site key.")
    request[API_KEY] = key
    return key


@routes.route("*", "/1.1/verify-key")
@akismet_errors
async def verify_key(request: web.Request) -> web.Response:
    """``valid`` for a site key of ours (``key`` or ``api_key``), ``invalid`` otherwise."""
    params = await read_params(request)
    await authenticate_params(request, params)  # AkismetInvalid → "invalid" with X-akismet-debug-help
    return text("valid")


def submission_from(params: Params) -> Submission:
    """The comment as our pipeline sees it. The e-mail is only hashed (a moderator's block matches it), never
    stored or logged."""
    honeypot_field = params.get("honeypot_field_name", "")
    honeypot = params.get(honeypot_field) if honeypot_field and honeypot_field not in STANDARD_FIELDS else None
    return Submission(
        article_id=params.get("permalink", ""),
        author_name=params.get("comment_author", ""),
        author_email=params.get("comment_author_email", "")[:320],
        content=params.get("comment_content", ""),
        author_url=params.get("comment_author_url") or None,
        author_ip=params.get("user_ip") or None,
        user_agent=params.get("user_agent") or None,
        referrer=params.get("referrer") or None,
        honeypot=honeypot or None,
        lang=(params.get("blog_lang") or "").split(",")[0].strip() or None,
    )


@routes.route("*", "/1.1/comment-check")
@akismet_errors
async def comment_check(request: web.Request) -> web.Response:
    """``true`` when we would hold this comment as spam under the site's policy, else ``false``."""
    params = await read_params(request)
    key = await authenticate_params(request, params)
    fields = request[LOG_FIELDS]
    fields["is_test"] = is_true(params.get("is_test", ""))

    if params.get("comment_author") == TEST_SPAM_AUTHOR or params.get("comment_author_email") == TEST_SPAM_EMAIL:
        fields["akismet"] = "spam (test value)"
        return text("true")
    if params.get("user_role", "").strip().lower() == "administrator":
        fields["akismet"] = "ham (administrator)"
        return text("false")

    checked = await request.config_dict[MODERATION].check_text(key.site_id, submission_from(params))
    verdict, scoring = checked.verdict, checked.scoring
    # Only reasons that mean "held as spam" count; toxic, links, review terms or hold_all are not spam. A
    # campaign the site's moderators rejected and an author they blocked count: Akismet has no other way to say it.
    spam = [r.code for r in verdict.reasons if r.code in AKISMET_SPAM_CODES]
    fields.update(reasons=[r.code for r in verdict.reasons], model_version=verdict.model_version)
    headers = {"X-moderation-reasons": ",".join(r.code for r in verdict.reasons) or "none"}
    if verdict.model_version:
        headers["X-moderation-model-version"] = verdict.model_version
    if not spam:
        if scoring is None:
            raise ScoringUnavailable(checked.scoring_error or "no model loaded")
        fields["akismet"] = HAM
        return text("false", headers=headers)
    spam_score = scoring.scores.get("spam", 0.0) if scoring else 0.0
    if "honeypot" in spam or spam_score >= DISCARD_SPAM_SCORE:
        headers["X-akismet-pro-tip"] = "discard"
        fields["akismet"] = "discard"
    else:
        fields["akismet"] = "spam"
    return text("true", headers=headers)


async def _submit(request: web.Request, label: str) -> web.Response:
    params = await read_params(request)
    key = await authenticate_params(request, params)
    content = params.get("comment_content", "").strip()
    # What is stored as a training label must be storable text on every backend (no NUL on PostgreSQL).
    for name, value in (("comment_content", content), ("blog", params.get("blog") or "")):
        if text_problem(value, multiline=name == "comment_content"):
            raise ValidationFailed(f"{name} contains control characters.", code="invalid_submission",
                                   fields={name: [{"code": "invalid_characters", "message": "control characters"}]})
    # is_test: Akismet learns nothing from it, and neither do we. No text: nothing to learn from.
    if content and not is_true(params.get("is_test", "")):
        label_id = await request.config_dict[MODERATION].add_feedback_label(
            key.site_id, text=content, label=label, source=f"akismet.submit-{label}",
            actor=params.get("blog") or None,
        )
        request[LOG_FIELDS].update(label=label, training_label_id=label_id)
    else:
        request[LOG_FIELDS].update(label=label, stored=False)
    return text(THANKS)


@routes.route("*", "/1.1/submit-spam")
@akismet_errors
async def submit_spam(request: web.Request) -> web.Response:
    """A comment we missed: store its text as a ``spam`` training label."""
    return await _submit(request, SPAM)


@routes.route("*", "/1.1/submit-ham")
@akismet_errors
async def submit_ham(request: web.Request) -> web.Response:
    """A false positive: store its text as a ``ham`` training label."""
    return await _submit(request, HAM)
