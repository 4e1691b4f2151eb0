"""Handlers of the moderator page: sign in and out, the queue, decisions from the page, language."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiDictProxy

from ... import i18n
from ...appkeys import ABUSE_LIMITS, MODERATION, STORE
from ...auth import authenticate
from ...domain import Role, Status
from ...errors import Forbidden, ModerationError, StaleRevision, Unauthorized
from ...labels import APPROVE_LABEL, SPAM, TOXIC
from ...middlewares import LOG_FIELDS
from ...ratelimit import retry_after_seconds
from ...store import AuthorHistory, QueueItem, QueueOrder
from ...validation import normalise_ip, parse_id
from ...workflow import ModeratorAction, ModeratorDecision
from ..body import read_form
from ..params import encode_cursor, queue_query_from
from .render import item_view
from .sessions import (
    LANG_COOKIE,
    SIGNIN_COOKIE,
    SIGNIN_TOKEN_AGE,
    check_csrf,
    check_session_csrf,
    clear_cookie,
    current_session,
    end_session,
    require_session,
    session_csrf,
    set_cookie,
    start_session,
)
from .text import TEXT, translator

routes = web.RouteTableDef()

# Page buttons → (action, label). "spam"/"toxic" reject a held comment, or take down a reported one.
BUTTONS = {
    "approve": (ModeratorAction.APPROVE, APPROVE_LABEL),
    "spam": (ModeratorAction.REJECT, SPAM),
    "toxic": (ModeratorAction.REJECT, TOXIC),
}
LISTING_PARAMS = ("status", "reason", "order", "article_id", "cursor", "limit")
MAX_FORM_DECISIONS = 100


def page_language(request: web.Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in TEXT:
        return chosen
    return i18n.pick_language(request.headers.get("Accept-Language"))


def listing_query(pairs: Any) -> dict[str, str]:
    """Only the known listing parameters, so nothing else can be smuggled into a redirect."""
    return {k: v for k, v in pairs if k in LISTING_PARAMS and v and len(v) <= 600}


def listing_url(params: dict[str, str], **extra: Any) -> str:
    merged = {**params, **{k: str(v) for k, v in extra.items() if v is not None}}
    merged = {k: v for k, v in merged.items() if v not in (None, "")}
    return "/moderate" + ("?" + urlencode(merged) if merged else "")


def render(template: str, request: web.Request, context: dict[str, Any], *, status: int = 200) -> web.Response:
    lang = page_language(request)
    return aiohttp_jinja2.render_template(
        template, request, {"t": translator(lang), "lang": lang, **context}, status=status
    )


# -- sign in and out -----------------------------------------------------------------------------------


def _signin_page(request: web.Request, *, failed: bool, status: int = 200, wait: int | None = None,
                 ) -> web.Response:
    token = secrets.token_urlsafe(32)
    response = render("moderate_signin.html", request, {"csrf": token, "failed": failed, "wait": wait},
                      status=status)
    set_cookie(response, request, SIGNIN_COOKIE, token, SIGNIN_TOKEN_AGE)
    if wait is not None:
        response.headers["Retry-After"] = str(wait)
    return response


def sign_in_names(request: web.Request, key_text: object) -> tuple[str, ...]:
    """Who is trying: the client address and the key prefix typed (12 characters, as keys are listed)."""
    try:
        client = normalise_ip(request.remote or "")
    except ValueError:  # a Unix socket or a test transport: one shared name
        client = request.remote or "unknown"
    names = [f"client:{client}"]
    if isinstance(key_text, str) and key_text.strip():
        names.append(f"prefix:{key_text.strip()[:12]}")
    return tuple(names)


@routes.get("/sign-in")
async def sign_in_form(request: web.Request) -> web.Response:
    if await current_session(request) is not None:
        raise web.HTTPSeeOther("/moderate")
    return _signin_page(request, failed=False)


@routes.post("/sign-in")
async def sign_in(request: web.Request) -> web.Response:
    form = await read_form(request)
    check_csrf(request.cookies.get(SIGNIN_COOKIE), form.get("csrf"))
    key_text = form.get("key")
    # Guessing keys is slowed per client and per key prefix: a few free failures, then a doubling wait
    # during which no key is even looked at.
    throttle = request.config_dict[ABUSE_LIMITS].sign_in
    names = sign_in_names(request, key_text)
    if (wait := throttle.wait(*names)) is not None:
        request[LOG_FIELDS]["sign_in"] = "throttled"
        return _signin_page(request, failed=True, status=429, wait=retry_after_seconds(wait))
    try:
        key = await authenticate(request, key_text.strip() if isinstance(key_text, str) else None,
                                 Role.MODERATOR, Role.ADMIN)
    except (Unauthorized, Forbidden):
        throttle.failed(*names)
        request[LOG_FIELDS]["sign_in"] = "refused"
        return _signin_page(request, failed=True, status=401)
    throttle.succeeded(*names)
    redirect = web.HTTPSeeOther("/moderate")
    await start_session(request, redirect, key.id)
    clear_cookie(redirect, SIGNIN_COOKIE)
    request[LOG_FIELDS].update(sign_in="ok", key_id=key.id)
    raise redirect


@routes.post("/sign-out")
async def sign_out(request: web.Request) -> web.Response:
    session = await require_session(request)
    check_session_csrf(session, (await read_form(request)).get("csrf"))
    redirect = web.HTTPSeeOther("/moderate/sign-in")
    await end_session(request, redirect)
    raise redirect


@routes.get("/language")
async def switch_language(request: web.Request) -> web.Response:
    """Remember the chosen interface language and go back to the same listing."""
    lang = request.query.get("to")
    redirect = web.HTTPSeeOther(listing_url(listing_query(request.query.items())))
    if lang in TEXT:
        set_cookie(redirect, request, LANG_COOKIE, lang, 365 * 24 * 3600)
    raise redirect


# -- the queue -------------------------------------------------------------------------------------------


@routes.get("")
async def queue_page(request: web.Request) -> web.Response:
    session = await require_session(request)
    site = session.api_key.site_id
    query, fingerprint = queue_query_from(request)
    store = request.config_dict[STORE]
    page = await store.list_queue(site, query)
    counts = await store.queue_counts(site)
    params = listing_query(request.query.items())
    base = {k: v for k, v in params.items() if k != "cursor"}  # filters without the page position
    order = {k: v for k, v in base.items() if k == "order"}
    lang = page_language(request)
    view = "reported" if query.reason == "reported" else "spam" if query.statuses == (Status.SPAM,) else "held"
    context = {
        "session": session,
        "csrf": session_csrf(request),
        "items": [item_view(item, lang) for item in page.items],
        "counts": counts,
        "view": view,
        "reason": query.reason,
        "order": query.order.value,
        "article_id": query.article_id,
        "back": urlencode(params),
        "links": {
            "held": listing_url(order),
            "reported": listing_url(order, reason="reported"),
            "spam": listing_url(order, status=Status.SPAM.value),
            "reasons": {kind: listing_url(order, reason=kind) for kind in ("spam", "toxic", "policy", "other")},
            "all_reasons": listing_url(order),
            "oldest": listing_url({k: v for k, v in base.items() if k != "order"}),
            "risk": listing_url(base, order=QueueOrder.RISK.value),
            "no_article": listing_url({k: v for k, v in base.items() if k != "article_id"}),
            "article": lambda article: listing_url(order, article_id=article),
            "next": listing_url(base, cursor=encode_cursor(page.items[-1], fingerprint))
            if page.has_more and page.items else None,
            "first": listing_url(base) if "cursor" in params else None,
            "language": "/moderate/language?" + urlencode({"to": "en" if lang == "id" else "id", **params}),
        },
        "notices": _notices(request),
    }
    request[LOG_FIELDS].update(page_items=len(page.items))
    return render("moderate_queue.html", request, context)


def _notices(request: web.Request) -> list[tuple[str, int]]:
    """Outcome counts carried in the redirect after a decision (numbers only, never echoed text)."""
    found = []
    for name in ("done", "stale", "failed", "none", "blocked", "unblocked"):
        count = parse_id(request.query.get(name, ""))
        if count is not None and count <= 10_000:
            found.append((name, count))
    return found


# -- decisions from the page -------------------------------------------------------------------------------


def _decision(button: str, target: str) -> ModeratorDecision | None:
    """``button`` is approve/spam/toxic; ``target`` is "<comment id>:<revision>" as the page showed it."""
    if button not in BUTTONS:
        return None
    raw_id, _, raw_revision = target.partition(":")
    comment_id, revision = parse_id(raw_id), parse_id(raw_revision)  # ASCII digits in range, so "²" is refused
    if comment_id is None or revision is None:
        return None
    action, label = BUTTONS[button]
    return ModeratorDecision(comment_id=comment_id, action=action, label=label, revision=revision)


def decisions_from_form(form: MultiDictProxy[Any]) -> list[ModeratorDecision | None]:
    one = form.get("one")
    if isinstance(one, str) and one:  # a button on one comment: "approve:<id>:<revision>"
        button, _, target = one.partition(":")
        return [_decision(button, target)]
    bulk = form.get("bulk")
    selected = [v for v in form.getall("select", []) if isinstance(v, str)][:MAX_FORM_DECISIONS]
    return [_decision(bulk if isinstance(bulk, str) else "", target) for target in selected]


@routes.post("/decide")
async def decide_from_page(request: web.Request) -> web.Response:
    session = await require_session(request)
    form = await read_form(request)
    check_session_csrf(session, form.get("csrf"))
    outcome = {"done": 0, "stale": 0, "failed": 0}
    decisions = decisions_from_form(form)
    for decision in decisions:
        if decision is None:
            outcome["failed"] += 1
            continue
        try:
            await request.config_dict[MODERATION].decide(session.api_key, decision)
            outcome["done"] += 1
        except StaleRevision:
            outcome["stale"] += 1
        except ModerationError:
            outcome["failed"] += 1
    request[LOG_FIELDS].update(**{f"decisions_{k}": v for k, v in outcome.items()})
    back = listing_query(parse_qsl(str(form.get("back", ""))))
    position = str(form.get("pos", ""))
    raise web.HTTPSeeOther(listing_url(
        back, **{k: v or None for k, v in outcome.items()}, none=1 if not decisions else None,
        pos=position if position.isascii() and position.isdigit() and len(position) <= 9 else None,
    ))


@routes.post("/author-block")
async def author_block_from_page(request: web.Request) -> web.Response:
    """The block / unblock button of a queue item: "block:<comment id>" or "unblock:<comment id>"."""
    session = await require_session(request)
    form = await read_form(request)
    check_session_csrf(session, form.get("csrf"))
    action, _, raw_id = str(form.get("author", "")).partition(":")
    comment_id = parse_id(raw_id)
    result: dict[str, int | None] = {"failed": 1}
    if action in ("block", "unblock") and comment_id is not None:
        try:
            await request.config_dict[MODERATION].set_author_block(session.api_key, comment_id,
                                                                   block=action == "block", note=None)
            result = {"blocked" if action == "block" else "unblocked": 1}
        except ModerationError:
            pass  # gone, another site's, or erased: the page says it could not be done
    request[LOG_FIELDS].update(author_action=action, comment_id=comment_id, failed=result.get("failed"))
    back = listing_query(parse_qsl(str(form.get("back", ""))))
    raise web.HTTPSeeOther(listing_url(back, **result))


# -- the queue by cluster ------------------------------------------------------------------------------------


@routes.get("/clusters")
async def clusters_page(request: web.Request) -> web.Response:
    """Held near-copies grouped, largest group first, each with one button for the whole group."""
    session = await require_session(request)
    site = session.api_key.site_id
    store = request.config_dict[STORE]
    lang = page_language(request)
    clusters = await store.list_clusters(site, statuses=(Status.HELD,), min_size=2, limit=50)
    views = []
    for c in clusters:
        sample = QueueItem(c.sample, max(c.sample.scores.values(), default=0.0), (), 0, {}, {}, AuthorHistory())
        views.append({"cluster_id": c.cluster_id, "count": c.count, "first_id": c.first_id, "last_id": c.last_id,
                      "sample": item_view(sample, lang)})
    context = {"session": session, "csrf": session_csrf(request), "clusters": views,
               "counts": await store.queue_counts(site), "notices": _notices(request)}
    return render("moderate_clusters.html", request, context)


@routes.get("/shadow")
async def shadow_page(request: web.Request) -> web.Response:
    """Shadow mode's report: what the rules would have held, beside what moderators and readers did."""
    session = await require_session(request)
    site = session.api_key.site_id
    context = {"session": session, "csrf": session_csrf(request),
               "report": await request.config_dict[MODERATION].shadow_report(site),
               "counts": await request.config_dict[STORE].queue_counts(site)}
    return render("moderate_shadow.html", request, context)


@routes.post("/clusters/decide")
async def decide_cluster_from_page(request: web.Request) -> web.Response:
    session = await require_session(request)
    form = await read_form(request)
    check_session_csrf(session, form.get("csrf"))
    button = form.get("button")
    raw_cluster, _, raw_up_to = str(form.get("cluster", "")).partition(":")
    cluster_id, up_to = parse_id(raw_cluster), parse_id(raw_up_to)
    outcome = {"done": 0, "stale": 0, "failed": 0}
    if button in ("approve", "spam") and cluster_id is not None and up_to is not None:
        action, label = BUTTONS[str(button)]
        try:
            results = await request.config_dict[MODERATION].decide_cluster(
                session.api_key, cluster_id, up_to_id=up_to, action=action, label=label, note=None)
        except ModerationError:  # no held comment of this site in that cluster
            results, outcome["failed"] = [], 1
        for r in results:
            if not isinstance(r.outcome, ModerationError):
                outcome["done"] += 1
            else:
                outcome["stale" if r.outcome.http_status == 409 else "failed"] += 1
    else:
        outcome["failed"] = 1
    request[LOG_FIELDS].update(**{f"decisions_{k}": v for k, v in outcome.items()})
    query = {k: v for k, v in outcome.items() if v}
    raise web.HTTPSeeOther("/moderate/clusters" + ("?" + urlencode(query) if query else "?none=1"))
