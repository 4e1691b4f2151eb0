"""The Google API discovery document of the emulated Comment Analyzer v1alpha1 (for discovery-based clients)."""

from __future__ import annotations

from typing import Any

API_VERSION = "v1alpha1"


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
