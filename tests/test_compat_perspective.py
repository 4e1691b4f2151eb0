"""The Perspective-compatible comments:analyze / comments:suggestscore, through the real app factory.

Contract tests replay the request/response examples published in Perspective's API reference
(conversationai/perspectiveapi, 2-api/methods.md and 2-api/limits.md) and the shapes seen from the live
API; the real-client test drives Google's own discovery-based client (google-api-python-client).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
from typing import Any

import pytest
from structlog.testing import capture_logs

from moderation.app import create_app
from moderation.domain import Role
from moderation.appkeys import SCORER
from moderation.settings import Settings

from .conftest import Api, FakeClock

ANALYZE = "/v1alpha1/comments:analyze"
SUGGEST = "/v1alpha1/comments:suggestscore"
INSULT_ID = "dasar bodoh kamu goblok tolol banget"
HAM_ID = "semoga banjir cepat surut dan warga bisa kembali ke rumah"
JUDOL = "slot gacor hari ini maxwin daftar sekarang situs judi terpercaya"


async def analyze(api: Api, body: dict[str, Any], *, key: str | None = None) -> tuple[int, dict[str, Any]]:
    key = key if key is not None else await api.key()
    resp = await api.client.post(ANALYZE, params={"key": key} if key else {}, json=body)
    assert resp.content_type == "application/json"
    return resp.status, await resp.json()


def labels(settings: Settings) -> list[tuple[str, str, str, str | None, str | None]]:
    path = settings.effective_database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT site_id, text, label, source, actor FROM training_labels ORDER BY id").fetchall()


# --- contract: the published examples --------------------------------------------------------------


async def test_methods_md_analyze_example_toxicity(api: Api) -> None:
    # From Perspective's API reference, 2-api/methods.md, "AnalyzeComment example" (request):
    #   {"comment": {"text": "What kind of idiot name is foo? Sorry, I like your name."},
    #    "languages": ["en"], "requestedAttributes": {"TOXICITY": {}, "UNSUBSTANTIAL": {}}}
    # and its response: {"attributeScores": {"TOXICITY": {"summaryScore": {"value": 0.8627961,
    #   "type": "PROBABILITY"}}, ...}, "languages": ["en"]}
    # UNSUBSTANTIAL (English-only, experimental) has no model here; TOXICITY alone gives the same shape.
    text = "What kind of idiot name is foo? Sorry, I like your name."
    status, body = await analyze(api, {"comment": {"text": text}, "languages": ["en"],
                                       "requestedAttributes": {"TOXICITY": {}}})
    assert status == 200
    assert set(body) == {"attributeScores", "languages", "detectedLanguages"}
    assert body["languages"] == ["en"]
    toxicity = body["attributeScores"]["TOXICITY"]
    assert toxicity["summaryScore"]["type"] == "PROBABILITY"
    assert 0.0 <= toxicity["summaryScore"]["value"] <= 1.0
    # Without spanAnnotations: one span over the whole text carrying the summary score.
    assert toxicity["spanScores"] == [{"begin": 0, "end": len(text), "score": toxicity["summaryScore"]}]


async def test_methods_md_span_annotations_give_per_sentence_spans(api: Api) -> None:
    # From 2-api/methods.md: "the span [0,31) (corresponding to "What kind of idiot name is foo?") and
    # the span [32,56) (corresponding to "Sorry, I like your name.")" (spanAnnotations: per sentence).
    text = "What kind of idiot name is foo? Sorry, I like your name."
    status, body = await analyze(api, {"comment": {"text": text}, "languages": ["en"], "spanAnnotations": True,
                                       "requestedAttributes": {"TOXICITY": {}}})
    assert status == 200
    spans = body["attributeScores"]["TOXICITY"]["spanScores"]
    assert [(s["begin"], s["end"]) for s in spans] == [(0, 31), (32, 56)]
    assert text[0:31] == "What kind of idiot name is foo?" and text[32:56] == "Sorry, I like your name."
    assert all(s["score"]["type"] == "PROBABILITY" and 0 <= s["score"]["value"] <= 1 for s in spans)


async def test_methods_md_unsubstantial_gets_perspectives_language_error(api: Api) -> None:
    # The full methods.md example asks for UNSUBSTANTIAL too, which we cannot score: the answer is the
    # error the live API gave for attributes without a model for the language, e.g. (atom/biohazard-alert#11)
    #   400 - {"error":{"code":400,"message":"Attribute PROFANITY does not support request languages: it",
    #          "status":"INVALID_ARGUMENT"}}
    # with details [{"@type": "type.googleapis.com/google.commentanalyzer.v1alpha1.Error",
    #   "errorType": "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE", "languageNotSupportedByAttributeError": {...}}].
    status, body = await analyze(api, {
        "comment": {"text": "What kind of idiot name is foo? Sorry, I like your name."},
        "languages": ["en"], "requestedAttributes": {"TOXICITY": {}, "UNSUBSTANTIAL": {}},
    })
    assert status == 400
    assert body == {"error": {
        "code": 400,
        "message": "Attribute UNSUBSTANTIAL does not support request languages: en",
        "status": "INVALID_ARGUMENT",
        "details": [{
            "@type": "type.googleapis.com/google.commentanalyzer.v1alpha1.Error",
            "errorType": "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
            "languageNotSupportedByAttributeError": {"requestedLanguages": ["en"], "attribute": "UNSUBSTANTIAL"},
        }],
    }}


async def test_drop_unsupported_attributes_drops_instead_of_failing(api: Api) -> None:
    status, body = await analyze(api, {"comment": {"text": INSULT_ID}, "dropUnsupportedAttributes": True,
                                       "requestedAttributes": {"TOXICITY": {}, "THREAT": {}}})
    assert status == 200
    assert list(body["attributeScores"]) == ["TOXICITY"]


async def test_methods_md_suggestscore_example_is_stored_as_a_label(api: Api, settings: Settings) -> None:
    # From 2-api/methods.md, "SuggestCommentScore example": request
    #   {"comment": {"text": "I guess it comes down a simple choice: Get busy living, or get busy dying."},
    #    "attributeScores": {"TOXICITY": {"summaryScore": {"value": 0}}},
    #    "communityId": "/forum/movies", "clientToken": "comment-53922"}
    # and response {"clientToken": "comment-53922"}.
    key = await api.key()
    text = "I guess it comes down a simple choice: Get busy living, or get busy dying."
    resp = await api.client.post(SUGGEST, params={"key": key}, json={
        "comment": {"text": text},
        "attributeScores": {"TOXICITY": {"summaryScore": {"value": 0}}},
        "communityId": "/forum/movies",
        "clientToken": "comment-53922",
    })
    assert resp.status == 200
    assert await resp.json() == {"clientToken": "comment-53922"}
    assert labels(settings) == [("kompas-test", text, "ham", "perspective.suggestscore", "/forum/movies")]


async def test_coral_rejection_feedback_becomes_a_toxic_label(api: Api, settings: Settings) -> None:
    # Coral Talk's suggestscore for a rejected comment (services/perspective/perspective.ts): value 1,
    # the story URL in context.entries, communityId "Coral:<tenant URL>", clientToken "comment:<id>".
    key = await api.key()
    resp = await api.client.post(SUGGEST, params={"key": key}, json={
        "comment": {"text": INSULT_ID},
        "context": {"entries": [{"text": '{"url":"https://example.co.id/a?commentID=1","Coral_comment_id":"1"}'}]},
        "attributeScores": {"TOXICITY": {"summaryScore": {"value": 1}}},
        "languages": ["en"],
        "communityId": "Coral:https://example.co.id",
        "clientToken": "comment:1",
    })
    assert resp.status == 200 and await resp.json() == {"clientToken": "comment:1"}
    spam = await api.client.post(SUGGEST, params={"key": key}, json={
        "comment": {"text": JUDOL}, "attributeScores": {"SPAM": {"summaryScore": {"value": 0.9}}}})
    assert spam.status == 200 and await spam.json() == {}
    assert [(row[2], row[3]) for row in labels(settings)] == [
        ("toxic", "perspective.suggestscore"), ("spam", "perspective.suggestscore")]


# --- contract: errors in Perspective's shape (2-api/limits.md) -----------------------------------------


@pytest.mark.parametrize(
    ("body", "message", "error_type"),
    [
        # limits.md: "Comment is empty" → "Comment must be non-empty."
        ({"comment": {"text": ""}, "requestedAttributes": {"TOXICITY": {}}}, "Comment must be non-empty.",
         "COMMENT_EMPTY"),
        # limits.md: "Missing requested attribute" → "Missing requested_attributes"
        ({"comment": {"text": "halo"}}, "Missing requested_attributes", "NO_REQUESTED_ATTRIBUTES"),
        # limits.md: "Unknown attribute" → "Unknown requested attribute: <attr_name>"
        ({"comment": {"text": "halo"}, "requestedAttributes": {"NOT_AN_ATTRIBUTE": {}}},
         "Unknown requested attribute: NOT_AN_ATTRIBUTE", "INVALID_REQUEST"),
        # limits.md: "only 'PLAIN_TEXT' comments are supported"
        ({"comment": {"text": "<b>halo</b>", "type": "HTML"}, "requestedAttributes": {"TOXICITY": {}}},
         "Currently, only 'PLAIN_TEXT' comments are supported", "INVALID_REQUEST"),
        # limits.md: "Requested score type <score_type> is not supported by attribute <attr_name>"
        ({"comment": {"text": "halo"}, "requestedAttributes": {"TOXICITY": {"scoreType": "STD_DEV_SCORE"}}},
         "Requested score type STD_DEV_SCORE is not supported by attribute TOXICITY", "INVALID_REQUEST"),
        # limits.md: "Languages not supported" — we have Indonesian and English models only.
        ({"comment": {"text": "hola"}, "languages": ["es"], "requestedAttributes": {"TOXICITY": {}}},
         "Attribute TOXICITY does not support request languages: es", "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE"),
        # limits.md: "Comment text too long."
        ({"comment": {"text": "a" * 70_000}, "requestedAttributes": {"TOXICITY": {}}}, "Comment text too long.",
         "COMMENT_TOO_LONG"),
    ],
)
async def test_errors_follow_limits_md(api: Api, body: dict[str, Any], message: str, error_type: str) -> None:
    status, answer = await analyze(api, body)
    assert status == 400
    error = answer["error"]
    assert (error["code"], error["status"], error["message"]) == (400, "INVALID_ARGUMENT", message)
    assert error["details"][0]["@type"] == "type.googleapis.com/google.commentanalyzer.v1alpha1.Error"
    assert error["details"][0]["errorType"] == error_type


async def test_unknown_json_field_and_broken_json(api: Api) -> None:
    status, answer = await analyze(api, {"comment": {"text": "halo"}, "requestedAttributes": {"TOXICITY": {}},
                                         "colour": "blue"})
    assert status == 400
    assert answer["error"]["message"] == 'Invalid JSON payload received. Unknown name "colour": Cannot find field.'
    key = await api.key()
    resp = await api.client.post(ANALYZE, params={"key": key}, data=b"{not json",
                                 headers={"Content-Type": "application/json"})
    assert resp.status == 400
    error = (await resp.json())["error"]
    assert error["status"] == "INVALID_ARGUMENT" and error["message"].startswith("Invalid JSON payload received.")


@pytest.mark.parametrize("field", ["clientToken", "sessionId", "communityId"])
@pytest.mark.parametrize("value", [{}, 5, ["t"], True])
async def test_string_fields_must_be_strings(api: Api, field: str, value: Any) -> None:
    # clientToken is echoed back: a non-string would come back as sent, against Perspective's protocol.
    body = {"comment": {"text": "halo semua"}, "requestedAttributes": {"TOXICITY": {}}, field: value}
    status, answer = await analyze(api, body)
    assert status == 400 and answer["error"]["status"] == "INVALID_ARGUMENT"
    assert "(TYPE_STRING)" in answer["error"]["message"]
    resp = await api.client.post(SUGGEST, params={"key": await api.key()}, json={
        "comment": {"text": "halo"}, "attributeScores": {"TOXICITY": {"summaryScore": {"value": 0}}}, field: value})
    assert resp.status == 400
    # null is proto3 JSON's "not given": accepted, and not echoed.
    status, answer = await analyze(api, {**body, field: None})
    assert status == 200 and "clientToken" not in answer


async def test_key_errors_are_googles(api: Api) -> None:
    body = {"comment": {"text": "halo"}, "requestedAttributes": {"TOXICITY": {}}}
    # Google's answer to a wrong key: 400 "API key not valid. Please pass a valid API key."
    status, answer = await analyze(api, body, key="AIzaSyNotAKeyOfOurs")
    assert status == 400
    assert answer["error"] == {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                               "status": "INVALID_ARGUMENT"}
    status, answer = await analyze(api, body, key="")
    assert status == 403
    assert answer["error"]["status"] == "PERMISSION_DENIED"
    assert answer["error"]["message"] == "The request is missing a valid API key."
    moderator = await api.key(Role.MODERATOR)
    status, answer = await analyze(api, body, key=moderator)
    assert status == 403 and answer["error"]["status"] == "PERMISSION_DENIED"
    # A GET is not a method of the API.
    resp = await api.client.get(ANALYZE, params={"key": await api.key()})
    assert resp.status == 404 and (await resp.json())["error"]["status"] == "NOT_FOUND"


async def test_key_in_header_and_bearer_work_too(api: Api) -> None:
    key = await api.key()
    body = {"comment": {"text": "halo"}, "requestedAttributes": {"TOXICITY": {}}}
    for headers in ({"X-Goog-Api-Key": key}, {"Authorization": f"Bearer {key}"}):
        resp = await api.client.post(ANALYZE, json=body, headers=headers)
        assert resp.status == 200


# --- behaviour ------------------------------------------------------------------------------------------


async def test_indonesian_insult_scores_high_toxicity_and_ham_low(api: Api) -> None:
    body = {"requestedAttributes": {"TOXICITY": {}, "SPAM": {}}, "languages": ["id"]}
    _, insult = await analyze(api, {**body, "comment": {"text": INSULT_ID}})
    _, ham = await analyze(api, {**body, "comment": {"text": HAM_ID}})
    _, judol = await analyze(api, {**body, "comment": {"text": JUDOL}})
    tox = {name: b["attributeScores"]["TOXICITY"]["summaryScore"]["value"] for name, b in
           (("insult", insult), ("ham", ham), ("judol", judol))}
    spam = {name: b["attributeScores"]["SPAM"]["summaryScore"]["value"] for name, b in
            (("insult", insult), ("ham", ham), ("judol", judol))}
    assert tox["insult"] > 0.5 > tox["ham"]
    assert spam["judol"] > 0.5 > spam["ham"]


async def test_coral_request_shape_with_en_fallback_for_indonesian(api: Api) -> None:
    # Coral Talk sends languages ["en"] for an id-ID tenant (its language map has no Indonesian) and
    # doNotStore; the text is clearly Indonesian, so it is scored and reported as Indonesian.
    status, body = await analyze(api, {"comment": {"text": INSULT_ID}, "doNotStore": True,
                                       "requestedAttributes": {"TOXICITY": {}}, "languages": ["en"]})
    assert status == 200
    assert body["languages"] == ["id"] and body["detectedLanguages"] == ["id"]
    assert body["attributeScores"]["TOXICITY"]["summaryScore"]["value"] > 0.5


async def test_auto_detected_language_and_client_token(api: Api) -> None:
    status, body = await analyze(api, {"comment": {"text": HAM_ID}, "clientToken": "abc-1",
                                       "requestedAttributes": {"TOXICITY": {}}})
    assert status == 200
    assert body["languages"] == ["id"] and body["detectedLanguages"] == ["id"]
    assert body["clientToken"] == "abc-1"
    _, english = await analyze(api, {"comment": {"text": "thanks for the clear explanation of the news"},
                                     "requestedAttributes": {"TOXICITY": {}}})
    assert english["detectedLanguages"] == ["en"]
    # BCP-47 tags and the old ISO code for Indonesian are accepted.
    status, _ = await analyze(api, {"comment": {"text": HAM_ID}, "languages": ["id-ID", "in"],
                                    "requestedAttributes": {"TOXICITY": {}}})
    assert status == 200


async def test_score_threshold_leaves_out_low_attributes(api: Api) -> None:
    status, body = await analyze(api, {"comment": {"text": HAM_ID},
                                       "requestedAttributes": {"TOXICITY": {"scoreThreshold": 0.99},
                                                               "SPAM": {}}})
    assert status == 200
    assert list(body["attributeScores"]) == ["SPAM"]


async def test_mapping_follows_the_heads_of_the_model_serving_now(api: Api) -> None:
    # The test model has only spam and toxic: finer attributes are unsupported...
    for attribute in ("INSULT", "PROFANITY", "IDENTITY_ATTACK", "SEVERE_TOXICITY", "THREAT"):
        status, body = await analyze(api, {"comment": {"text": INSULT_ID}, "requestedAttributes": {attribute: {}}})
        assert status == 400, attribute
        assert body["error"]["details"][0]["errorType"] == "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE"
    # ...and our own heads can be asked for by name (an extension), e.g. TOXIC, and ATTRIBUTE@VERSION is accepted.
    status, body = await analyze(api, {"comment": {"text": INSULT_ID},
                                       "requestedAttributes": {"TOXIC": {}, "TOXICITY@6": {}}})
    assert status == 200 and set(body["attributeScores"]) == {"TOXIC", "TOXICITY@6"}

    # A model with finer heads serves them under Perspective's names.
    class Finer:
        heads = ("spam", "toxic", "abusive", "hate_speech")

        def predict_scores(self, texts: list[str]) -> list[dict[str, float]]:
            return [{"spam": 0.1, "toxic": 0.9, "abusive": 0.7, "hate_speech": 0.3} for _ in texts]

    loaded = api.app[SCORER].current
    assert loaded is not None
    api.app[SCORER].current = dataclasses.replace(loaded, model=Finer())  # as a hot reload would swap it
    try:
        status, body = await analyze(api, {"comment": {"text": INSULT_ID}, "requestedAttributes": {
            "TOXICITY": {}, "SEVERE_TOXICITY": {}, "INSULT": {}, "PROFANITY": {}, "IDENTITY_ATTACK": {}, "SPAM": {}}})
    finally:
        api.app[SCORER].current = loaded
    assert status == 200
    values = {k: v["summaryScore"]["value"] for k, v in body["attributeScores"].items()}
    assert values == {"TOXICITY": 0.9, "SEVERE_TOXICITY": 0.7, "INSULT": 0.7, "PROFANITY": 0.7,
                      "IDENTITY_ATTACK": 0.3, "SPAM": 0.1}


async def test_no_model_answers_503_unavailable(api: Api) -> None:
    api.app[SCORER].current = None
    status, body = await analyze(api, {"comment": {"text": "halo"}, "requestedAttributes": {"TOXICITY": {}}})
    assert status == 503
    assert body["error"]["status"] == "UNAVAILABLE"


async def test_analyze_stores_nothing_and_logs_no_text(api: Api, settings: Settings) -> None:
    with capture_logs() as logs:
        status, _ = await analyze(api, {"comment": {"text": INSULT_ID}, "requestedAttributes": {"TOXICITY": {}}})
    assert status == 200
    assert labels(settings) == []
    assert INSULT_ID not in repr(logs)
    line = next(e for e in logs if e.get("event") == "request")
    assert line["route"] == ANALYZE and line["model_version"] == "2026.01.01-test"


# --- a real client: Google's discovery-based google-api-python-client ----------------------------------


async def test_googleapiclient_drives_analyze_and_suggestscore(
    aiohttp_server: Any, settings: Settings, clock: FakeClock
) -> None:
    # The sample in Perspective's docs builds its client with discovery.build("commentanalyzer", "v1alpha1",
    # developerKey=..., discoveryServiceUrl="https://commentanalyzer.googleapis.com/$discovery/rest?version=v1alpha1",
    # static_discovery=False). Pointing discoveryServiceUrl at this service is the only change needed.
    # Installed by the test extra; a missing install must fail here, not skip.
    from googleapiclient import discovery, errors
    app = create_app(settings, clock=clock)
    server = await aiohttp_server(app)
    api = Api(client=None, app=app)  # type: ignore[arg-type]  # only for key creation
    key = await api.key()
    base = f"http://127.0.0.1:{server.port}"

    def run_client() -> tuple[dict[str, Any], dict[str, Any], int]:
        client = discovery.build(
            "commentanalyzer", "v1alpha1", developerKey=key,
            discoveryServiceUrl=f"{base}/$discovery/rest?version={{apiVersion}}", static_discovery=False,
            cache_discovery=False,
        )
        try:
            analyzed = client.comments().analyze(body={
                "comment": {"text": INSULT_ID}, "requestedAttributes": {"TOXICITY": {}}, "languages": ["id"],
            }).execute()
            suggested = client.comments().suggestscore(body={
                "comment": {"text": INSULT_ID}, "attributeScores": {"TOXICITY": {"summaryScore": {"value": 1}}},
                "clientToken": "t-1",
            }).execute()
            try:
                client.comments().analyze(body={"comment": {"text": "halo"},
                                                 "requestedAttributes": {"FLIRTATION": {}}}).execute()
            except errors.HttpError as exc:
                status = exc.resp.status
            else:
                status = 200
            return analyzed, suggested, status
        finally:
            client.close()

    analyzed, suggested, error_status = await asyncio.to_thread(run_client)
    assert analyzed["attributeScores"]["TOXICITY"]["summaryScore"]["value"] > 0.5
    assert analyzed["languages"] == ["id"]
    assert suggested == {"clientToken": "t-1"}
    assert error_status == 400
    assert [(row[2], row[3]) for row in labels(settings)] == [("toxic", "perspective.suggestscore")]


# --- Coral's requests: languages ["en"] for Indonesian tenants, rejections for spam ------------------------
# Coral (coralproject/talk server/src/core/server/services/perspective/perspective.ts, convertLanguage and
# formatBody) sends languages: ["en"] for every locale Perspective lacks, and suggestscore
# attributeScores {TOXICITY: {summaryScore: {value: 1}}} for every rejected comment.


async def test_coral_en_for_clearly_indonesian_text_is_scored_as_indonesian(api: Api) -> None:
    text = "Dasar pemerintah tidak becus, jalan di kampung kami sudah rusak dan belum juga diperbaiki."
    status, body = await analyze(api, {"comment": {"text": text}, "languages": ["en"],
                                       "requestedAttributes": {"TOXICITY": {}}})
    assert status == 200
    assert body["languages"] == ["id"] and body["detectedLanguages"] == ["id"]


async def test_asked_language_kept_for_text_that_is_not_clearly_another(api: Api) -> None:
    for text, asked in (("What kind of idiot name is foo?", ["en"]), ("ok banget", ["en"]),
                        ("Terima kasih, ini the best", ["id"])):
        status, body = await analyze(api, {"comment": {"text": text}, "languages": asked,
                                           "requestedAttributes": {"TOXICITY": {}}})
        assert status == 200
        assert body["languages"] == asked, text


def coral_suggest(text: str, rejected: bool, **context: Any) -> dict[str, Any]:
    entry = {"url": "https://news.example.id/a?commentID=c1", "reply_to_id_Coral_comment_id": None,
             "Coral_comment_id": "c1", **context}
    return {"comment": {"text": text}, "context": {"entries": [{"text": json.dumps(entry)}]},
            "attributeScores": {"TOXICITY": {"summaryScore": {"value": 1 if rejected else 0}}},
            "languages": ["en"], "communityId": "Coral:https://komentar.news.example.id",
            "clientToken": "comment:c1"}


@pytest.mark.parametrize("context, label", [
    ({}, "toxic"),  # Coral as it is: a rejection says nothing of why
    ({"rejectionReason": {"code": "SPAM"}}, "spam"),
    ({"rejectionReason": {"code": "AD"}}, "spam"),
    ({"reason": "COMMENT_DETECTED_SPAM"}, "spam"),
    ({"rejectionReason": {"code": "ABUSIVE"}}, "toxic"),
])
async def test_suggestscore_rejection_reason_in_context_picks_the_label(api: Api, settings: Settings,
                                                                       context: dict[str, Any], label: str) -> None:
    key = await api.key()
    resp = await api.client.post(SUGGEST, params={"key": key}, json=coral_suggest(JUDOL, True, **context))
    assert resp.status == 200, await resp.text()
    assert (await resp.json()) == {"clientToken": "comment:c1"}
    assert labels(settings)[-1][1:3] == (JUDOL, label)


async def test_suggestscore_approval_stays_ham_whatever_the_context(api: Api, settings: Settings) -> None:
    key = await api.key()
    resp = await api.client.post(SUGGEST, params={"key": key},
                                 json=coral_suggest(HAM_ID, False, rejectionReason={"code": "SPAM"}))
    assert resp.status == 200
    assert labels(settings)[-1][2] == "ham"
