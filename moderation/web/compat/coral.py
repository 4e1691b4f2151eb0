"""Coral Talk's External Moderation Phase: ``POST /v1/compat/coral/moderate?key=<site key>``.

Coral (``services/comments/pipeline/phases/external.ts``) posts every new or edited comment to the phase's
URL, signed with the phase's signing secret: ``X-Coral-Signature: sha256=<hex HMAC-SHA256 of the raw
body>`` (comma-separated, one per active secret while rotating; ``models/settings/signingSecret/helpers.ts``).
The site key travels in the URL (Coral's phase has a URL and nothing else to carry it); the signing
secrets are the site's ``coral_signing_secrets`` in the policy file.

The comment is stored and decided like ``POST /v1/comments`` (``Moderation.submit``; an ``EDIT`` edits
the author's newest comment on the story, ``Moderation.edit_latest``), so it reaches /moderate. The answer
is Coral's ``ExternalModerationResponse``: ``{}`` (no opinion: Coral's own settings decide) for a comment
we publish, else a ``status`` with FLAG ``actions`` whose reason is ``COMMENT_DETECTED_SPAM`` and/or
``COMMENT_DETECTED_TOXIC``. Errors are our JSON errors: Coral treats any non-2xx as "no opinion".

Coral sends no name or e-mail; the author is Coral's user id, kept as a pseudonymous address
(``<hash>@coral-users.example``, a reserved domain) so the duplicate, flood and author checks match a
Coral user across comments. See docs/compat.md.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

from ... import i18n
from ...appkeys import ABUSE_LIMITS, MODERATION
from ...domain import Comment, Status, Submission
from ...errors import BadRequest, Forbidden, Unauthorized, ValidationFailed
from ...labels import SPAM_REASON_CODES, TOXIC, reason_kind
from ...middlewares import LOG_FIELDS
from ...ratelimit import limit_author
from ...validation import parse_json, validate_submission
from ..body import read_body
from .common import authenticate_site

routes = web.RouteTableDef()

PATH = "/v1/compat/coral/moderate"
SIGNATURE_HEADER = "X-Coral-Signature"
ACTIONS = ("NEW", "EDIT")
MAX_ID_CHARS = 200
PSEUDONYM_DOMAIN = "coral-users.example"  # RFC 2606 reserved: never a real mailbox
SPAM_REASONS = SPAM_REASON_CODES | {"campaign"}
DETECTED_SPAM = {"actionType": "FLAG", "reason": "COMMENT_DETECTED_SPAM"}
DETECTED_TOXIC = {"actionType": "FLAG", "reason": "COMMENT_DETECTED_TOXIC"}
# Our submission's fields as Coral names them, for the errors of validate_submission and edit.
CORAL_FIELD = {"content": "comment.body", "article_id": "story.id", "author_name": "author.id",
               "author_email": "author.id", "referrer": "story.url"}


@dataclass(frozen=True)
class CoralRequest:
    """Coral's ``ExternalModerationRequest``, checked."""

    action: str
    body: str
    author_id: str
    story_id: str
    story_url: str | None
    tenant_id: str


# -- the signature -------------------------------------------------------------------------------------------


def sign(secret: str, body: bytes) -> str:
    """The header value Coral sends for ``body`` under ``secret``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secrets: tuple[str, ...], body: bytes, header: str | None) -> None:
    """Accept when any signature in the header is the HMAC of the raw body under any configured secret."""
    if not secrets:
        raise Forbidden("No Coral signing secret is configured for this site (coral_signing_secrets in the "
                        "policy file).", code="coral_not_configured")
    if not header or not header.strip():
        raise Unauthorized(f"{SIGNATURE_HEADER} is missing.", code="missing_signature")
    given = [part.strip() for part in header.split(",") if part.strip()]
    expected = [sign(secret, body) for secret in secrets]
    # Every pair is compared (no early exit on the first candidate): the timing says nothing about which.
    matched = False
    for candidate in given:
        for wanted in expected:
            matched |= hmac.compare_digest(candidate.encode("utf-8", "replace"), wanted.encode("ascii"))
    if not matched:
        raise Unauthorized(f"{SIGNATURE_HEADER} does not match this site's Coral signing secret.",
                           code="bad_signature")


# -- the request ---------------------------------------------------------------------------------------------


class _PlainText(HTMLParser):
    """Coral's HTML body format as text: tags dropped, block tags as line breaks, link targets kept."""

    BLOCKS = frozenset({"br", "p", "div", "li", "blockquote", "ul", "ol"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BLOCKS:
            self.parts.append("\n")
        href = dict(attrs).get("href") if tag == "a" else None
        if href:
            self.hrefs.append(href)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def text(self) -> str:
        text = "".join(self.parts)
        # A link whose target is not its text: the target is what a spammer is paid for.
        hidden = [h for h in self.hrefs if h not in text]
        return "\n".join([text, *hidden]) if hidden else text


def plain_text(body: str) -> str:
    if "<" not in body and "&" not in body:
        return body
    parser = _PlainText()
    parser.feed(body)
    parser.close()
    return parser.text()


def _field(data: dict[str, Any], path: str, problems: dict[str, list[dict[str, str]]], *,
           required: bool = True, max_chars: int = MAX_ID_CHARS) -> str | None:
    value: Any = data
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        if required:
            problems[path] = [{"code": "required", "message": f"{path} is required."}]
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        problems[path] = [{"code": "invalid_type", "message": f"{path} must be a non-empty string."}]
        return None
    if len(value) > max_chars:
        problems[path] = [{"code": "too_long", "message": f"{path} is longer than {max_chars} characters."}]
        return None
    return value.strip()


def parse_request(raw: bytes) -> CoralRequest:
    """Coral's request, or 400 (not a JSON object) / 422 naming every bad field in Coral's names."""
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise BadRequest("The body must be Coral's ExternalModerationRequest (a JSON object).")
    problems: dict[str, list[dict[str, str]]] = {}
    action = data.get("action")
    if action not in ACTIONS:
        problems["action"] = [{"code": "invalid", "message": "action must be NEW or EDIT."}]
    for name in ("comment", "author", "story"):
        if not isinstance(data.get(name), dict):
            problems[name] = [{"code": "invalid_type", "message": f"{name} must be an object."}]
    body = data.get("comment", {}).get("body") if isinstance(data.get("comment"), dict) else None
    if not isinstance(body, str) and "comment" not in problems:
        problems["comment.body"] = [{"code": "invalid_type", "message": "comment.body must be a string."}]
    author_id = _field(data, "author.id", problems) if "author" not in problems else None
    story_id = _field(data, "story.id", problems) if "story" not in problems else None
    story_url = _field(data, "story.url", problems, required=False, max_chars=2048) if "story" not in problems else None
    tenant_id = _field(data, "tenantID", problems, required=False) or ""
    if problems:
        raise ValidationFailed("The Coral request has invalid fields.", code="invalid_coral_request",
                               fields=problems)
    assert isinstance(body, str) and author_id is not None and story_id is not None
    return CoralRequest(action=str(action), body=plain_text(body), author_id=author_id, story_id=story_id,
                        story_url=story_url, tenant_id=tenant_id)


def pseudonym(tenant_id: str, author_id: str) -> str:
    """The stable stand-in address of one Coral user (Coral sends no e-mail)."""
    digest = hashlib.sha256(f"{tenant_id}\0{author_id}".encode()).hexdigest()[:32]
    return f"u{digest}@{PSEUDONYM_DOMAIN}"


def submission_of(coral: CoralRequest, lang: str) -> Submission:
    """Validated as POST /v1/comments validates; its errors named as Coral names the fields."""
    try:
        return validate_submission({
            "article_id": coral.story_id,
            "author_name": f"Coral user {coral.author_id}"[:MAX_ID_CHARS],
            "author_email": pseudonym(coral.tenant_id, coral.author_id),
            "content": coral.body,
            "referrer": coral.story_url,
        }, lang)
    except ValidationFailed as exc:
        raise coral_names(exc) from None


def coral_names(exc: ValidationFailed) -> ValidationFailed:
    fields = exc.public.get("fields")
    if isinstance(fields, dict):
        exc.public["fields"] = {CORAL_FIELD.get(name, name): problems for name, problems in fields.items()}
    return exc


# -- the answer ----------------------------------------------------------------------------------------------


def coral_answer(comment: Comment) -> dict[str, Any]:
    """Coral's ``ExternalModerationResponse`` for a decided comment."""
    if comment.status is Status.PUBLISHED:
        return {}  # no opinion: Coral's own pre-moderation settings and phases still apply
    holding = [r for r in comment.reasons if r.hold]
    spam = any(r.code in SPAM_REASONS for r in holding)
    toxic = any(r.code not in SPAM_REASONS and reason_kind(r.code, r.source) == TOXIC for r in holding)
    actions = [a for a, fired in ((DETECTED_SPAM, spam), (DETECTED_TOXIC, toxic)) if fired]
    if comment.status is Status.HELD:
        # Flagged by a detector: Coral's own spam/toxic phases answer SYSTEM_WITHHELD; a hold for links or
        # review terms is plain pre-moderation.
        status = "SYSTEM_WITHHELD" if actions else "PREMOD"
    else:  # spam (rejected outright), or rejected / removed by a moderator earlier
        status = "REJECTED"
    return {"status": status, "actions": actions}


@routes.post(PATH)
async def moderate(request: web.Request) -> web.Response:
    """Store and decide a comment Coral sends (NEW or EDIT); answer in Coral's format."""
    key = await authenticate_site(request, request.query.get("key"))
    service = request.config_dict[MODERATION]
    body = await read_body(request)
    verify_signature(service.policy(key.site_id).coral_signing_secrets, body, request.headers.get(SIGNATURE_HEADER))
    coral = parse_request(body)
    lang = i18n.pick_language(request.headers.get("Accept-Language"))
    submission = submission_of(coral, lang)
    limit_author(request.app[ABUSE_LIMITS], key.site_id, submission, service.policy(key.site_id))

    outcome = None
    if coral.action == "EDIT":
        try:
            outcome = await service.edit_latest(key.site_id, submission, lang=lang)
        except ValidationFailed as exc:
            raise coral_names(exc) from None
    # An EDIT of a comment we never saw (Coral ran before this phase was set up) is judged as new.
    comment = outcome.comment if outcome is not None else (await service.submit(key.site_id, submission,
                                                                                 lang=lang)).comment
    answer = coral_answer(comment)
    request[LOG_FIELDS].update(comment_id=comment.id, decision=comment.decision.value, coral_action=coral.action,
                               reasons=[r.code for r in comment.reasons], coral_status=answer.get("status"))
    return web.json_response(answer, headers={"X-Moderation-Comment-Id": str(comment.id)})
