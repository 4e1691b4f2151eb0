"""``POST /v1/comments/{id}/status`` (site key): a decision made in the site's own admin (wp-admin).

The site's moderators may work in WordPress instead of ``/moderate``; their approve / unapprove / spam /
trash (and undoing a spam or trash) reaches us here and is applied exactly as a moderator's decision (``services.Moderation.decide``, as
``POST /v1/comments/{id}/decision``: one transaction with the revision check, audit event, training label
and webhook), so both queues agree.
The site names the status it set, not our action: which action that is depends on where the comment
is now (a held comment marked spam is rejected, a published one is taken down, a refused one approved
again is restored, an approved one unapproved is reopened).
"""

from __future__ import annotations

from aiohttp import web

from ..appkeys import MODERATION, STORE
from ..auth import require
from ..domain import Role, Status
from ..errors import NotFound, StaleRevision, ValidationFailed
from ..middlewares import LOG_FIELDS
from ..validation import MAX_DB_INT
from ..views import decision_view
from ..workflow import ModeratorAction, ModeratorDecision
from .params import MAX_NOTE, comment_id_from_path, note_problem, read_json_object

routes = web.RouteTableDef()

# The site's status -> the training label it means. "trash" says only "not wanted here"; "unapproved"
# (back to the queue) says nothing about the text.
SITE_STATUSES: dict[str, str | None] = {"approved": "ham", "unapproved": None, "spam": "spam", "trash": "other"}


def action_for(site_status: str, current: Status) -> ModeratorAction:
    """Our action for the status the site set, from where the comment is now."""
    if site_status == "approved":
        # "Not spam" / "Restore" in wp-admin overrides an earlier refusal: a person decided again.
        return ModeratorAction.RESTORE if current in (Status.REJECTED, Status.REMOVED) else ModeratorAction.APPROVE
    if site_status == "unapproved":
        return ModeratorAction.REOPEN
    # A held (or reported) comment is refused; a published one nobody reported is taken down.
    return ModeratorAction.REMOVE if current is Status.PUBLISHED else ModeratorAction.REJECT


def parse_site_status(body: dict[str, object]) -> tuple[str, int, str | None]:
    problems: dict[str, list[dict[str, str]]] = {}
    status = body.get("status")
    if not isinstance(status, str) or status not in SITE_STATUSES:
        problems["status"] = [{"code": "invalid", "message": f"One of {', '.join(SITE_STATUSES)}."}]
    revision = body.get("revision")
    if not isinstance(revision, int) or isinstance(revision, bool) or not 1 <= revision <= MAX_DB_INT:
        problems["revision"] = [{"code": "required", "message": "The revision the site last saw (an integer)."}]
    note = body.get("note")
    if note_problem(note):
        problems["note"] = [{"code": "invalid",
                             "message": f"Text of at most {MAX_NOTE} characters, no control characters."}]
    if problems:
        raise ValidationFailed("The status change is not valid.", code="invalid_status_change", fields=problems)
    assert isinstance(status, str) and isinstance(revision, int)
    return status, revision, (note.strip() or None) if isinstance(note, str) else None


def already(site_status: str, current: Status) -> bool:
    """The comment is where the site says it put it (e.g. the site echoing our own webhook back)."""
    if site_status == "approved":
        return current is Status.PUBLISHED
    if site_status == "unapproved":
        return current is Status.HELD
    return current in (Status.REJECTED, Status.REMOVED, Status.SPAM)


@routes.post("/v1/comments/{comment_id}/status")
async def set_status(request: web.Request) -> web.Response:
    """The site's moderator approved, unapproved, spammed or trashed a comment; 409 stale_revision on a conflict."""
    key = await require(request, Role.SITE)
    comment_id = comment_id_from_path(request)
    site_status, revision, note = parse_site_status(await read_json_object(request))
    comment = await request.app[STORE].get_comment(key.site_id, comment_id)
    if comment is None:
        raise NotFound("No such comment.")
    request[LOG_FIELDS].update(comment_id=comment_id, site_status=site_status)
    decision = ModeratorDecision(comment_id=comment_id, action=action_for(site_status, comment.status),
                                 label=SITE_STATUSES[site_status], revision=revision, note=note)
    try:
        outcome = await request.app[MODERATION].decide(key, decision)
    except StaleRevision:
        # Nothing to decide when both sides already agree: answered as done, and nothing is learnt twice.
        current = await request.app[STORE].get_comment(key.site_id, comment_id)
        if current is None or not already(site_status, current.status):
            raise
        return web.json_response({"id": current.id, "status": current.status.value,
                                  "previous_status": current.status.value, "revision": current.revision,
                                  "changed": False})
    request[LOG_FIELDS].update(action=decision.action.value)
    return web.json_response({**decision_view(outcome, decision), "changed": True})
