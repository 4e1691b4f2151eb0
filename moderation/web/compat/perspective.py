"""A Perspective-compatible ``comments:analyze`` and ``comments:suggestscore`` (Comment Analyzer v1alpha1).

Sites that call Google's Perspective API (Coral Talk among them) switch to this service by changing
the endpoint URL and the key: ``POST /v1alpha1/comments:analyze?key=<site key>``. Requests, answers
and errors follow Perspective's JSON (``perspective_errors``); our model heads are mapped to
Perspective's attribute names in ``perspective_attributes``, languages are guessed in ``language``, the
discovery document is ``perspective_discovery`` (see docs/compat.md).

Nothing sent to ``comments:analyze`` is stored, whatever ``doNotStore`` says. ``comments:suggestscore``
is stored as a training label (text and label, never who wrote it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from ...appkeys import MODERATION
from ...domain import ApiKey
from ...errors import BadRequest
from ...middlewares import LOG_FIELDS
from ...pipeline.scoring import ScoringUnavailable
from ...validation import MAX_CONTENT_BYTES, text_problem
from ..body import parse_json, read_body
from .common import authenticate_site, is_true
from .language import (
    SUPPORTED_LANGUAGES,
    detect_language,
    effective_languages,
    normalise_language,
    sentence_spans,
)
from .perspective_attributes import (
    ATTRIBUTES,
    PERSPECTIVE_ATTRIBUTES,
    Scores,
    context_reason,
    resolve,
    suggested_label,
)
from .perspective_discovery import API_VERSION, discovery_document
from .perspective_errors import PerspectiveError, invalid, perspective_errors

routes = web.RouteTableDef()

KNOWN_FIELDS = frozenset(
    {
        "comment", "context", "requestedAttributes", "spanAnnotations", "languages", "doNotStore",
        "clientToken", "sessionId", "communityId", "dropUnsupportedAttributes",
    }
)
STRING_FIELDS = {"clientToken": "client_token", "sessionId": "session_id", "communityId": "community_id"}
SUGGEST_FIELDS = frozenset({"comment", "context", "attributeScores", "languages", "communityId", "clientToken"})


async def _authenticate(request: web.Request) -> ApiKey:
    # Perspective takes ?key=; Google APIs also accept X-Goog-Api-Key; our own Bearer works too.
    return await authenticate_site(request, request.query.get("key"), request.headers.get("X-Goog-Api-Key"))


async def _json_body(request: web.Request, known: frozenset[str]) -> dict[str, Any]:
    try:
        data = parse_json(await read_body(request))
    except BadRequest as exc:
        if exc.code == "incomplete_body":
            raise
        raise invalid(f"Invalid JSON payload received. {exc.message}", None) from None
    if not isinstance(data, dict):
        raise invalid("Invalid JSON payload received. The body must be a JSON object.", None)
    unknown = sorted(set(data) - known)
    if unknown:
        raise invalid(f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.', None)
    # clientToken is echoed in the answer: only ever as the string Perspective's protocol says it is
    # (null, as in proto3 JSON, means "not given").
    for name, proto_name in STRING_FIELDS.items():
        if data.get(name) is not None and not isinstance(data[name], str):
            raise invalid(f"Invalid value at '{proto_name}' (TYPE_STRING): expected a string.", None)
    return data


def _comment_text(data: Mapping[str, Any]) -> str:
    comment = data.get("comment")
    if comment is not None and not isinstance(comment, dict):
        raise invalid("Invalid value at 'comment': expected an object with 'text'.")
    comment = comment or {}
    text_type = comment.get("type", "PLAIN_TEXT")
    if text_type == "HTML":
        raise invalid("Currently, only 'PLAIN_TEXT' comments are supported")
    if text_type not in ("PLAIN_TEXT", "TEXT_TYPE_UNSPECIFIED"):
        raise invalid("Unknown text type")
    text = comment.get("text", "")
    if not isinstance(text, str):
        raise invalid("Invalid value at 'comment.text': expected a string.")
    if text_problem(text, multiline=True):
        raise invalid("Invalid value at 'comment.text': control characters and lone surrogates are not allowed.")
    if not text.strip():
        raise invalid("Comment must be non-empty.", "COMMENT_EMPTY")
    if len(text.encode("utf-8")) > MAX_CONTENT_BYTES:
        raise invalid("Comment text too long.", "COMMENT_TOO_LONG")
    return text


def _languages(data: Mapping[str, Any]) -> list[str] | None:
    languages = data.get("languages")
    if languages is None or languages == []:
        return None
    if not isinstance(languages, list) or not all(isinstance(x, str) and x.strip() for x in languages):
        raise invalid("Invalid value at 'languages': expected a list of language codes.")
    return languages


def _score(value: float) -> dict[str, Any]:
    return {"value": round(value, 7), "type": "PROBABILITY"}


@routes.route("*", f"/{API_VERSION}/comments:analyze")
@perspective_errors
async def analyze(request: web.Request) -> web.Response:
    """Score a comment for the requested attributes, in Perspective's response shape."""
    key = await _authenticate(request)
    data = await _json_body(request, KNOWN_FIELDS)
    text = _comment_text(data)

    requested = data.get("requestedAttributes")
    if not requested:
        raise invalid("Missing requested_attributes", "NO_REQUESTED_ATTRIBUTES")
    if not isinstance(requested, dict) or not all(isinstance(v, dict) for v in requested.values()):
        raise invalid("Invalid value at 'requested_attributes': expected a map of attribute → {}.")

    asked_languages = _languages(data)
    detected = detect_language(text)
    languages = effective_languages(asked_languages, text)
    overruled = asked_languages is not None and languages != [normalise_language(x) for x in asked_languages]

    service = request.config_dict[MODERATION]
    heads = service.scorer.heads
    if heads is None:
        raise ScoringUnavailable("no model loaded")

    drop_unsupported = is_true(data.get("dropUnsupportedAttributes", False))
    unsupported_languages = [x for x in languages if x not in SUPPORTED_LANGUAGES]
    plan: dict[str, tuple[Callable[[Scores], float | None], float | None]] = {}
    for name, params in requested.items():
        if not isinstance(name, str):
            raise invalid("Invalid attribute name.")
        base = name.split("@", 1)[0]
        score_type = params.get("scoreType", "PROBABILITY")
        if score_type not in ("PROBABILITY", "SCORE_TYPE_UNSPECIFIED"):
            raise invalid(f"Requested score type {score_type} is not supported by attribute {name}")
        threshold = params.get("scoreThreshold")
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                      or not 0 <= threshold <= 1):
            raise invalid(f"Invalid value at 'requested_attributes[{name}].score_threshold': "
                          "expected a number between 0 and 1.")
        fn = resolve(name, heads)
        if fn is None and base not in PERSPECTIVE_ATTRIBUTES:
            raise invalid(f"Unknown requested attribute: {name}")
        if fn is None or unsupported_languages:
            if drop_unsupported:
                continue
            shown = unsupported_languages or languages
            lang_key = "requestedLanguages" if asked_languages else "detectedLanguages"
            raise invalid(
                f"Attribute {name} does not support request languages: {', '.join(shown)}",
                "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
                languageNotSupportedByAttributeError={lang_key: shown, "attribute": name},
            )
        plan[name] = (fn, float(threshold) if threshold is not None else None)

    spans = sentence_spans(text) if is_true(data.get("spanAnnotations", False)) else [(0, len(text))]
    span_texts = [text[b:e] for b, e in spans] if len(spans) > 1 else []
    batch = await service.score_texts(key.site_id, [text, *span_texts])
    summary_scores = batch.scores[0]
    span_scores = batch.scores[1:] if span_texts else [summary_scores]

    attribute_scores: dict[str, Any] = {}
    for name, (fn, threshold) in plan.items():
        summary = fn(summary_scores)
        assert summary is not None  # resolve checked the heads
        if threshold is not None and summary < threshold:
            continue  # Perspective leaves out attributes below the requested scoreThreshold
        span_list = []
        for (begin, end), scores in zip(spans, span_scores, strict=True):
            value = fn(scores)
            if value is None or (threshold is not None and value < threshold):
                continue
            span_list.append({"begin": begin, "end": end, "score": _score(value)})
        attribute_scores[name] = {"spanScores": span_list, "summaryScore": _score(summary)}

    answer: dict[str, Any] = {
        "attributeScores": attribute_scores,
        # The asked languages echoed, as Perspective does, unless the text was clearly in another one.
        "languages": languages if overruled or not asked_languages else asked_languages,
        "detectedLanguages": [detected],
    }
    if data.get("clientToken") is not None:
        answer["clientToken"] = data["clientToken"]
    request[LOG_FIELDS].update(model_version=batch.version, attributes=sorted(plan), languages=languages)
    return web.json_response(answer)


def _suggested_value(name: str, raw: Any) -> float:
    if not isinstance(raw, dict):
        raise invalid(f"Invalid value at 'attribute_scores[{name}]': expected an object.")
    values: list[Any] = []
    summary = raw.get("summaryScore")
    if isinstance(summary, dict):
        values.append(summary.get("value", 0.0))  # proto3 JSON leaves out a zero value
    spans = raw.get("spanScores")
    if spans is not None and not isinstance(spans, list):
        raise invalid(f"Invalid value at 'attribute_scores[{name}].span_scores': expected a list.")
    for span in spans or []:
        if isinstance(span, dict) and isinstance(span.get("score"), dict):
            values.append(span["score"].get("value", 0.0))
    if not values:
        raise invalid(f"Attribute {name} needs a summaryScore or spanScores.")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0.0 <= v <= 1.0 for v in values):
        raise invalid(f"Invalid value at 'attribute_scores[{name}]': scores must be numbers between 0 and 1.")
    return float(summary.get("value", 0.0)) if isinstance(summary, dict) else float(max(values))


@routes.route("*", f"/{API_VERSION}/comments:suggestscore")
@perspective_errors
async def suggestscore(request: web.Request) -> web.Response:
    """Keep a client's suggested scores for a comment as a training label; echo ``clientToken``."""
    key = await _authenticate(request)
    data = await _json_body(request, SUGGEST_FIELDS)
    text = _comment_text(data)
    suggested = data.get("attributeScores")
    if not suggested or not isinstance(suggested, dict):
        raise invalid("Missing attribute_scores")
    heads = request.config_dict[MODERATION].scorer.heads or ()
    values: dict[str, float] = {}
    for name, raw in suggested.items():
        base = str(name).split("@", 1)[0]
        if base not in PERSPECTIVE_ATTRIBUTES and base not in ATTRIBUTES and base.lower() not in heads:
            raise invalid(f"Unknown requested attribute: {name}")
        values[base] = _suggested_value(str(name), raw)
    label = suggested_label(values, context_reason(data.get("context")))
    community = data.get("communityId")
    if community is not None and (not isinstance(community, str) or text_problem(community)):
        raise invalid("Invalid value at 'community_id': expected a string without control characters.")
    label_id = await request.config_dict[MODERATION].add_feedback_label(
        key.site_id, text=text, label=label, source="perspective.suggestscore",
        actor=community if isinstance(community, str) else None,
    )
    request[LOG_FIELDS].update(label=label, training_label_id=label_id)
    answer: dict[str, Any] = {}
    if data.get("clientToken") is not None:
        answer["clientToken"] = data["clientToken"]
    return web.json_response(answer)


@routes.get("/$discovery/rest")
async def discovery(request: web.Request) -> web.Response:
    """A Google API discovery document for this endpoint, so discovery-based clients (Google's own
    ``googleapiclient.discovery.build("commentanalyzer", "v1alpha1", discoveryServiceUrl=...)``) work.
    Public, like Google's: it holds no secret."""
    version = request.query.get("version", API_VERSION)
    if version != API_VERSION:
        return PerspectiveError(404, "NOT_FOUND", f"Discovery document not found for API service: "
                                                   f"commentanalyzer {version}").response()
    root = f"{request.url.origin()}/"
    return web.json_response(discovery_document(root))
