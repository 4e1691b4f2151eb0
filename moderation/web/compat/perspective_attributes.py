"""Perspective's attribute names, computed from our model heads (see docs/compat.md).

Each attribute is a function of a text's head scores; it returns None when the heads it needs are not
in the model serving now (then the attribute is "not supported"). Suggested scores sent back by a client
become one training label (``suggested_label``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from ...labels import HAM, SPAM, TOXIC

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


def resolve(name: str, heads: tuple[str, ...]) -> Callable[[Scores], float | None] | None:
    """The function computing attribute ``name`` from the current heads, or None if it cannot be scored."""
    base = name.split("@", 1)[0]  # ATTRIBUTE@VERSION pins a model version in Perspective; we have one
    probe = dict.fromkeys(heads, 0.0)
    fn = ATTRIBUTES.get(base)
    if fn is not None and fn(probe) is not None:
        return fn
    if base.lower() in heads:  # an extension: any head of ours by its upper-case name (GAMBLING, ABUSIVE...)
        return _first(base.lower())
    return None


# Why a client rejected a comment, as it may say in the request's context (a JSON entry with a reason or
# rejection reason): Coral's rejection reason codes, its detected-flag reasons, and plain words.
SPAM_REJECTIONS = frozenset({"SPAM", "AD", "ADVERTISING", "COMMENT_DETECTED_SPAM", "JUDOL", "GAMBLING"})
TOXIC_REJECTIONS = frozenset({"TOXIC", "TOXICITY", "ABUSIVE", "OFFENSIVE", "HARASSMENT_BULLYING", "HATE_SPEECH",
                              "COMMENT_DETECTED_TOXIC"})
REASON_KEYS = ("reason", "rejectionReason", "rejection_reason", "moderationReason", "flagReason")


def context_reason(context: Any) -> str | None:
    """``spam`` or ``toxic`` when a context entry says why the comment was rejected, else None."""
    entries = context.get("entries") if isinstance(context, Mapping) else None
    for entry in entries if isinstance(entries, list) else []:
        raw = entry.get("text") if isinstance(entry, Mapping) else None
        if not isinstance(raw, str) or "{" not in raw:
            continue
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        for key in REASON_KEYS if isinstance(parsed, Mapping) else ():
            value = parsed.get(key)
            code = value.get("code") if isinstance(value, Mapping) else value
            if isinstance(code, str) and code.strip().upper() in SPAM_REJECTIONS:
                return SPAM
            if isinstance(code, str) and code.strip().upper() in TOXIC_REJECTIONS:
                return TOXIC
    return None


def suggested_label(values: Mapping[str, float], reason: str | None = None) -> str:
    """One training label from suggested scores: spam if a spam attribute is ≥ 0.5, else toxic if any
    other is, else ham (Coral sends TOXICITY 0 for an approved comment and 1 for a rejected one).

    ``reason`` (from the request's context) says which a rejection was: a rejection for spam scored as
    TOXICITY 1 is a spam label, not a toxic one."""
    if any(v >= 0.5 for name, v in values.items() if name in SPAM_ATTRIBUTES):
        return SPAM
    if any(v >= 0.5 for name, v in values.items() if name not in SPAM_ATTRIBUTES):
        return SPAM if reason == SPAM else TOXIC
    return HAM
