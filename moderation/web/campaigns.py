"""The campaign memory for moderators: learned signatures (list, explain, remove) and the queue by cluster.

Every endpoint works on the calling key's site only; another site's signatures and clusters answer 404.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .. import views
from ..appkeys import CAMPAIGNS, CLOCK, MODERATION, STORE
from ..auth import require
from ..campaigns import signature_json
from ..domain import Status
from ..errors import NotFound
from ..labels import APPROVE_LABEL, REJECT_LABELS
from ..middlewares import LOG_FIELDS
from ..store import ClusterSummary
from ..validation import parse_id
from ..workflow import ModeratorAction
from .params import (
    MAX_NOTE,
    MODERATORS,
    choice_param,
    int_param,
    invalid,
    note_problem,
    read_json_object,
)

routes = web.RouteTableDef()

CLUSTER_STATUSES = ("held", "published", "rejected", "removed")


def _path_id(request: web.Request, name: str, what: str) -> int:
    # An id no database can hold (≥ 2**63) or spelt in other digits names nothing: 404, like any other.
    found = parse_id(request.match_info[name])
    if found is None:
        raise NotFound(f"No such {what}.")
    return found


@routes.get("/v1/campaigns/signatures")
async def list_signatures(request: web.Request) -> web.Response:
    """Every live signature of the site (holding or still learning), strongest first, with why."""
    key = await require(request, *MODERATORS)
    memory = request.config_dict[CAMPAIGNS]
    now = request.config_dict[CLOCK]()
    signatures = await request.config_dict[STORE].list_campaign_signatures(key.site_id, now=now)
    return web.json_response({
        "items": [signature_json(s, memory.rules, now) for s in signatures],
        "rules": {"min_rejections": memory.rules.min_rejections, "min_moderators": memory.rules.min_moderators,
                  "approval_weight": memory.rules.approval_weight, "signature_days": memory.settings.signature_days},
    })


@routes.get("/v1/campaigns/signatures/{signature_id}")
async def show_signature(request: web.Request) -> web.Response:
    """One signature and the moderator decisions behind it, newest first."""
    key = await require(request, *MODERATORS)
    signature_id = _path_id(request, "signature_id", "signature")
    store = request.config_dict[STORE]
    sig = await store.get_campaign_signature(key.site_id, signature_id)
    if sig is None:
        raise NotFound("No such signature.")
    votes = await store.campaign_signature_votes(key.site_id, signature_id, limit=100)
    body = signature_json(sig, request.config_dict[CAMPAIGNS].rules, request.config_dict[CLOCK]())
    body["removed_at"] = sig.removed_at.isoformat() if sig.removed_at else None
    body["votes"] = [v.to_json() for v in votes]
    return web.json_response(body)


@routes.delete("/v1/campaigns/signatures/{signature_id}")
async def remove_signature(request: web.Request) -> web.Response:
    """A moderator removes a signature: it stops holding at once and is not learned again."""
    key = await require(request, *MODERATORS)
    signature_id = _path_id(request, "signature_id", "signature")
    removed = await request.config_dict[STORE].remove_campaign_signature(
        key.site_id, signature_id, actor=f"key:{key.id}", now=request.config_dict[CLOCK]()
    )
    if not removed:
        raise NotFound("No such signature (or it was already removed).")
    request.config_dict[CAMPAIGNS].invalidate(key.site_id)
    request[LOG_FIELDS].update(signature_id=signature_id)
    return web.json_response({"id": signature_id, "removed": True})


def cluster_json(cluster: ClusterSummary) -> dict[str, Any]:
    sample = cluster.sample
    return {
        "cluster_id": cluster.cluster_id,
        "count": cluster.count,
        "first_id": cluster.first_id,
        "last_id": cluster.last_id,  # send it back as up_to_id: later arrivals are not decided unseen
        "first_at": cluster.first_at.isoformat(),
        "last_at": cluster.last_at.isoformat(),
        "sample": {
            "id": sample.id, "revision": sample.revision, "status": sample.status.value,
            "comment": views.public_view(sample), "author_email": sample.author_email,
            "reasons": [r.to_json() for r in sample.reasons], "scores": sample.scores,
        },
    }


@routes.get("/v1/queue/clusters")
async def queue_clusters(request: web.Request) -> web.Response:
    """The queue grouped by near-duplicate cluster, largest first (default: held, clusters of 2 or more)."""
    key = await require(request, *MODERATORS)
    status = Status(choice_param(request, "status", CLUSTER_STATUSES) or "held")
    min_size = int_param(request, "min_size", default=2, low=1, high=10_000)
    limit = int_param(request, "limit", default=50, low=1, high=100)
    clusters = await request.config_dict[STORE].list_clusters(key.site_id, statuses=(status,), min_size=min_size,
                                                      limit=limit)
    return web.json_response({"status": status.value, "items": [cluster_json(c) for c in clusters]})


@routes.post("/v1/campaigns/clusters/{cluster_id}/decision")
async def decide_cluster(request: web.Request) -> web.Response:
    """Reject (or approve) every held comment of a cluster up to ``up_to_id``, each as a normal decision."""
    key = await require(request, *MODERATORS)
    cluster_id = _path_id(request, "cluster_id", "cluster")
    body = await read_json_object(request)
    action_raw = body.get("action")
    if action_raw not in ("reject", "approve"):
        raise invalid("action", "invalid", "one of reject, approve", error_code="invalid_decision")
    action = ModeratorAction(action_raw)
    label = body.get("label") or (APPROVE_LABEL if action is ModeratorAction.APPROVE else "")
    if action is ModeratorAction.APPROVE and label != APPROVE_LABEL:
        raise invalid("label", "invalid", "an approved comment is labelled ham", error_code="invalid_decision")
    if action is ModeratorAction.REJECT and label not in REJECT_LABELS:
        raise invalid("label", "invalid", f"one of {', '.join(REJECT_LABELS)}", error_code="invalid_decision")
    label = str(label)
    up_to_id = parse_id(body.get("up_to_id")) if isinstance(body.get("up_to_id"), int) else None
    if up_to_id is None:
        raise invalid("up_to_id", "required", "the cluster's last_id you saw (an integer)",
                      error_code="invalid_decision")
    note = body.get("note")
    if note_problem(note):
        raise invalid("note", "invalid", f"text of at most {MAX_NOTE} characters", error_code="invalid_decision")
    decided = await request.config_dict[MODERATION].decide_cluster(key, cluster_id, up_to_id=up_to_id, action=action,
                                                           label=label, note=(note or "").strip() or None)
    results = [views.decision_result_view(r.decision.comment_id, r.decision, r.outcome) for r in decided]
    succeeded = sum(1 for r in results if r["ok"])
    request[LOG_FIELDS].update(cluster_id=cluster_id, bulk=len(results), succeeded=succeeded)
    return web.json_response({"cluster_id": cluster_id, "results": results, "succeeded": succeeded,
                              "failed": len(results) - succeeded})
