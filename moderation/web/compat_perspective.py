"""A Perspective-compatible ``comments:analyze`` and ``comments:suggestscore`` (Comment Analyzer v1alpha1).

Sites that call Google's Perspective API (Coral Talk among them) switch to this service by changing
the endpoint URL and the key: ``POST /v1alpha1/comments:analyze?key=<site key>``. Requests, answers
and errors follow Perspective's JSON (``{"error": {"code", "message", "status", "details"}}``); our
model heads are mapped to Perspective's attribute names by ``ATTRIBUTES`` (see docs/compat.md).

Nothing sent to ``comments:analyze`` is stored, whatever ``doNotStore`` says. ``comments:suggestscore``
is stored as a training label (text and label, never who wrote it).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from functools import wraps
from typing import Any

import structlog
from aiohttp import web

from ..appkeys import MODERATION
from ..domain import ApiKey
from ..errors import BadRequest, ModerationError, PayloadTooLarge, RequestTimeout, Unauthorized
from ..labels import HAM, SPAM, TOXIC
from ..middlewares import LOG_FIELDS
from ..pipeline.scoring import ScoringUnavailable
from ..validation import MAX_CONTENT_BYTES, text_problem
from .body import parse_json, read_body
from .compat_common import authenticate_site, is_true

log = structlog.get_logger(__name__)
routes = web.RouteTableDef()

API_VERSION = "v1alpha1"
ERROR_TYPE = "type.googleapis.com/google.commentanalyzer.v1alpha1.Error"

# --- attribute mapping ------------------------------------------------------------------------------
# Each Perspective attribute is computed from our model heads; a function returns None when the
# heads it needs are not in the model serving now (then the attribute is "not supported").
Scores = Mapping[str, float]


def _first(*heads: str) -> Callable[[Scores], float | None]:
    def value(scores: Scores) -> float | None:
        return next((scores[h] for h in heads if h in scores), None)

    return value


def _severe(scores: Scores) -> float | None:
    # Both the general toxicity head and a finer abuse/hate head must be confident: min(toxic, max(finer)).
    if "severe_toxic" in scores:
        return scores["severe_toxic"]
    finer = [scores[h] for h in ("abusive", "hate_speech") if h in scores]
    if "toxic" not in scores or not finer:
        return None
    return min(scores["toxic"], max(finer))


ATTRIBUTES: dict[str, Callable[[Scores], float | None]] = {
    "TOXICITY": _first("toxic"),
    "TOXICITY_FAST": _first("toxic"),  # our one model is already the fast one
    "SEVERE_TOXICITY": _severe,
    "INSULT": _first("insult", "abusive"),
    "PROFANITY": _first("profanity", "abusive"),
    "IDENTITY_ATTACK": _first("identity_attack", "hate_speech"),
    "THREAT": _first("threat"),
    "SPAM": _first("spam"),
}

# Perspective's own attribute names (production and experimental): asking for one we cannot score
# gets Perspective's "does not support request languages" error, as Perspective itself answered for
# attributes it had no Indonesian model for. Any other name is an "Unknown requested attribute".
PERSPECTIVE_ATTRIBUTES = frozenset(
    {
        "TOXICITY", "SEVERE_TOXICITY", "TOXICITY_FAST", "IDENTITY_ATTACK", "INSULT", "PROFANITY", "THREAT",
        "SEXUALLY_EXPLICIT", "FLIRTATION", "ATTACK_ON_AUTHOR", "ATTACK_ON_COMMENTER", "INCOHERENT",
        "INFLAMMATORY", "LIKELY_TO_REJECT", "OBSCENE", "SPAM", "UNSUBSTANTIAL",
    }
    | {f"{name}_EXPERIMENTAL" for name in ("SEVERE_TOXICITY", "IDENTITY_ATTACK", "INSULT", "PROFANITY", "THREAT",
                                            "TOXICITY", "SEXUALLY_EXPLICIT", "FLIRTATION")}
)
# Suggested scores for these attributes mean "spam"; for any other attribute "toxic" (see suggestscore).
SPAM_ATTRIBUTES = frozenset({"SPAM", "GAMBLING", "JUDOL"})

SUPPORTED_LANGUAGES = ("id", "en")  # Indonesian first, English second: what the models were trained on
_LANGUAGE_ALIASES = {"in": "id", "ind": "id", "eng": "en"}

_ID_WORDS = frozenset(
    {
        "yang", "dan", "di", "ini", "itu", "tidak", "ga", "gak", "nggak", "enggak", "aku", "saya", "kamu",
        "lu", "lo", "dengan", "untuk", "ke", "dari", "ada", "juga", "sudah", "udah", "banget", "aja",
        "saja", "kalau", "kalo", "karena", "bisa", "akan", "lagi", "sama", "mereka", "kita", "kami", "apa",
        "atau", "pemerintah", "semoga", "dasar", "jangan", "harus", "belum", "masih", "tapi", "tetapi",
        "pak", "bu"
    }
)
_EN_WORDS = frozenset(
    {
        "the", "and", "is", "are", "was", "were", "you", "your", "this", "that", "it", "not", "for", "with",
        "have", "has", "of", "to", "in", "on", "be", "what", "why", "how", "they", "we", "i", "me", "my",
        "our", "will", "would", "can", "could", "should", "an", "a"
    }
)
_WORD = re.compile(r"[^\W\d_]+")
# A sentence: from a non-space up to its closing punctuation (or a line end); spans like Perspective's.
_SENTENCE = re.compile(r"\S[^.!?…\n]*(?:[.!?…]+|$)", re.MULTILINE)

KNOWN_FIELDS = frozenset(
    {
        "comment", "context", "requestedAttributes", "spanAnnotations", "languages", "doNotStore",
        "clientToken", "sessionId", "communityId", "dropUnsupportedAttributes",
    }
)
STRING_FIELDS = {"clientToken": "client_token", "sessionId": "session_id", "communityId": "community_id"}
SUGGEST_FIELDS = frozenset({"comment", "context", "attributeScores", "languages", "communityId", "clientToken"})


class PerspectiveError(Exception):
    """An error answered in Perspective's shape."""

    def __init__(
        self, http: int, status: str, message: str, error_type: str | None = None, **detail: Any
    ) -> None:
        super().__init__(message)
        self.http, self.status, self.message = http, status, message
        self.error_type, self.detail = error_type, detail

    def response(self) -> web.Response:
        error: dict[str, Any] = {"code": self.http, "message": self.message, "status": self.status}
        if self.error_type is not None:
            error["details"] = [{"@type": ERROR_TYPE, "errorType": self.error_type, **self.detail}]
        return web.json_response({"error": error}, status=self.http)


def invalid(message: str, error_type: str | None = "INVALID_REQUEST", **detail: Any) -> PerspectiveError:
    return PerspectiveError(400, "INVALID_ARGUMENT", message, error_type, **detail)


Handler = Callable[[web.Request], Awaitable[web.Response]]


def perspective_errors(handler: Handler) -> Handler:
    """Answer every failure of ``handler`` in Perspective's error shape (not our own JSON shape)."""

    @wraps(handler)
    async def wrapped(request: web.Request) -> web.Response:
        try:
            if request.method != "POST":
                raise PerspectiveError(404, "NOT_FOUND", "Method not found.")
            return await handler(request)
        except PerspectiveError as exc:
            request[LOG_FIELDS]["error"] = exc.error_type or exc.status
            return exc.response()
        except Unauthorized:
            request[LOG_FIELDS]["error"] = "API_KEY_INVALID"
            return _key_error(request).response()
        except PayloadTooLarge:
            request[LOG_FIELDS]["error"] = "COMMENT_TOO_LONG"
            return invalid("Comment text too long.", "COMMENT_TOO_LONG").response()
        except RequestTimeout as exc:
            request[LOG_FIELDS]["error"] = exc.code
            return PerspectiveError(408, "DEADLINE_EXCEEDED", exc.message).response()
        except BadRequest as exc:  # the body ended before it was complete
            request[LOG_FIELDS]["error"] = exc.code
            return PerspectiveError(400, "INVALID_ARGUMENT", exc.message).response()
        except ModerationError as exc:  # 403: a key of another role
            request[LOG_FIELDS]["error"] = exc.code
            return PerspectiveError(403, "PERMISSION_DENIED", exc.message).response()
        except ScoringUnavailable:
            request[LOG_FIELDS]["error"] = "UNAVAILABLE"
            return PerspectiveError(503, "UNAVAILABLE", "The service is currently unavailable.").response()
        except Exception:
            log.exception("unhandled_error", route=request.path)
            return PerspectiveError(500, "INTERNAL", "Internal error encountered.").response()

    return wrapped


def _key_error(request: web.Request) -> PerspectiveError:
    if not _token(request):
        return PerspectiveError(
            403, "PERMISSION_DENIED",
            "The request is missing a valid API key.",
        )
    return PerspectiveError(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.")


def _token(request: web.Request) -> str | None:
    return request.query.get("key") or request.headers.get("X-Goog-Api-Key")


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


def normalise_language(tag: str) -> str:
    """``id-ID`` → ``id``; ``in`` (the old ISO code) → ``id``."""
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    return _LANGUAGE_ALIASES.get(primary, primary)


def detect_language(text: str) -> str:
    """A crude guess between Indonesian and English by counting function words; Indonesian on a tie."""
    words = [w.lower() for w in _WORD.findall(text)]
    english = sum(w in _EN_WORDS for w in words)
    indonesian = sum(w in _ID_WORDS for w in words)
    return "en" if english > indonesian else "id"


def _languages(data: Mapping[str, Any]) -> list[str] | None:
    languages = data.get("languages")
    if languages is None or languages == []:
        return None
    if not isinstance(languages, list) or not all(isinstance(x, str) and x.strip() for x in languages):
        raise invalid("Invalid value at 'languages': expected a list of language codes.")
    return languages


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentence spans ``[begin, end)`` in code points, trailing spaces excluded."""
    spans = []
    for m in _SENTENCE.finditer(text):
        end = m.start() + len(m.group().rstrip())
        spans.append((m.start(), end))
    return spans or [(0, len(text))]


def _score(value: float) -> dict[str, Any]:
    return {"value": round(value, 7), "type": "PROBABILITY"}


def _resolve(name: str, heads: tuple[str, ...]) -> Callable[[Scores], float | None] | None:
    """The function computing attribute ``name`` from the current heads, or None if it cannot be scored."""
    base = name.split("@", 1)[0]  # ATTRIBUTE@VERSION pins a model version in Perspective; we have one
    probe = dict.fromkeys(heads, 0.0)
    fn = ATTRIBUTES.get(base)
    if fn is not None and fn(probe) is not None:
        return fn
    if base.lower() in heads:  # an extension: any head of ours by its upper-case name (GAMBLING, ABUSIVE...)
        return _first(base.lower())
    return None


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
    languages = [normalise_language(x) for x in asked_languages] if asked_languages else [detected]

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
        fn = _resolve(name, heads)
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
        assert summary is not None  # _resolve checked the heads
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
        "languages": asked_languages or [detected],
        "detectedLanguages": [detected],
    }
    if data.get("clientToken") is not None:
        answer["clientToken"] = data["clientToken"]
    request[LOG_FIELDS].update(model_version=batch.version, attributes=sorted(plan))
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


def suggested_label(values: Mapping[str, float]) -> str:
    """One training label from suggested scores: spam if a spam attribute is ≥ 0.5, else toxic if any
    other is, else ham (Coral sends TOXICITY 0 for an approved comment and 1 for a rejected one)."""
    if any(v >= 0.5 for name, v in values.items() if name in SPAM_ATTRIBUTES):
        return SPAM
    if any(v >= 0.5 for name, v in values.items() if name not in SPAM_ATTRIBUTES):
        return TOXIC
    return HAM


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
    label = suggested_label(values)
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


def _method(name: str, request_schema: str, response_schema: str, description: str) -> dict[str, Any]:
    return {
        "id": f"commentanalyzer.comments.{name}",
        "path": f"{API_VERSION}/comments:{name}",
        "flatPath": f"{API_VERSION}/comments:{name}",
        "httpMethod": "POST",
        "parameters": {},
        "parameterOrder": [],
        "request": {"$ref": request_schema},
        "response": {"$ref": response_schema},
        "description": description,
    }


def _object(schema_id: str, **properties: Any) -> dict[str, Any]:
    return {"id": schema_id, "type": "object", "properties": properties}


def discovery_document(root_url: str) -> dict[str, Any]:
    """A minimal discovery document for Comment Analyzer v1alpha1 rooted at ``root_url``."""
    string, boolean, number = {"type": "string"}, {"type": "boolean"}, {"type": "number", "format": "float"}
    text_entry = {"$ref": "TextEntry"}
    score = {"$ref": "Score"}
    attribute_scores = {"type": "object", "additionalProperties": {"$ref": "AttributeScores"}}
    return {
        "kind": "discovery#restDescription",
        "discoveryVersion": "v1",
        "id": f"commentanalyzer:{API_VERSION}",
        "name": "commentanalyzer",
        "version": API_VERSION,
        "title": "Perspective Comment Analyzer API (moderation service)",
        "description": "A self-hosted, Perspective-compatible comment analyzer (see docs/compat.md).",
        "protocol": "rest",
        "rootUrl": root_url,
        "servicePath": "",
        "baseUrl": root_url,
        "batchPath": "batch",
        "parameters": {
            "key": {"type": "string", "location": "query", "description": "The site API key."},
            "alt": {"type": "string", "location": "query", "default": "json", "enum": ["json"],
                    "enumDescriptions": ["Responses with Content-Type of application/json"]},
            "prettyPrint": {"type": "boolean", "location": "query", "default": "true"},
            "fields": {"type": "string", "location": "query"},
            "quotaUser": {"type": "string", "location": "query"},
            "$.xgafv": {"type": "string", "location": "query", "enum": ["1", "2"],
                        "enumDescriptions": ["v1 error format", "v2 error format"]},
        },
        "schemas": {
            "TextEntry": _object("TextEntry", text=string, type=string),
            "Context": _object("Context", entries={"type": "array", "items": text_entry}),
            "AttributeParameters": _object("AttributeParameters", scoreType=string, scoreThreshold=number),
            "Score": _object("Score", value=number, type=string),
            "SpanScore": _object("SpanScore", begin={"type": "integer"}, end={"type": "integer"}, score=score),
            "AttributeScores": _object(
                "AttributeScores", summaryScore=score, spanScores={"type": "array", "items": {"$ref": "SpanScore"}}
            ),
            "AnalyzeCommentRequest": _object(
                "AnalyzeCommentRequest", comment=text_entry, context={"$ref": "Context"},
                requestedAttributes={"type": "object", "additionalProperties": {"$ref": "AttributeParameters"}},
                spanAnnotations=boolean, languages={"type": "array", "items": string}, doNotStore=boolean,
                clientToken=string, sessionId=string, communityId=string, dropUnsupportedAttributes=boolean,
            ),
            "AnalyzeCommentResponse": _object(
                "AnalyzeCommentResponse", attributeScores=attribute_scores,
                languages={"type": "array", "items": string}, detectedLanguages={"type": "array", "items": string},
                clientToken=string,
            ),
            "SuggestCommentScoreRequest": _object(
                "SuggestCommentScoreRequest", comment=text_entry, context={"$ref": "Context"},
                attributeScores=attribute_scores, languages={"type": "array", "items": string},
                communityId=string, clientToken=string,
            ),
            "SuggestCommentScoreResponse": _object(
                "SuggestCommentScoreResponse", clientToken=string,
                detectedLanguages={"type": "array", "items": string},
                requestedLanguages={"type": "array", "items": string},
            ),
        },
        "resources": {
            "comments": {
                "methods": {
                    "analyze": _method("analyze", "AnalyzeCommentRequest", "AnalyzeCommentResponse",
                                       "Analyzes the provided text and returns scores for requested attributes."),
                    "suggestscore": _method("suggestscore", "SuggestCommentScoreRequest",
                                            "SuggestCommentScoreResponse",
                                            "Suggest comment scores as training data."),
                }
            }
        },
    }
