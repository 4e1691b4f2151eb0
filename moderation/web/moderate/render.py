"""Turning queue items into what the page shows: escaped text, highlighted words, readable times.

Everything a commenter wrote is attacker-controlled. It is escaped by ``markupsafe.escape`` before
any markup is added, and the only markup added is ``<mark>`` around matched words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from markupsafe import Markup, escape

from ...store import QueueItem

WIB = timezone(timedelta(hours=7), "WIB")  # the newsroom's clock (Jakarta)
MAX_TERMS = 20

REASON_LABELS = {
    "en": {
        "honeypot": "Bot trap filled in", "too_fast": "Sent too fast", "policy.disallowed_key": "Disallowed word",
        "policy.moderation_key": "Word needing review", "policy.links": "Too many links",
        "policy.hold_all": "Site holds everything", "classifier_unavailable": "Not scored",
        "spam": "Spam", "toxic": "Toxic", "campaign": "Known campaign",
    },
    "id": {
        "honeypot": "Jebakan bot terisi", "too_fast": "Dikirim terlalu cepat", "policy.disallowed_key": "Kata terlarang",
        "policy.moderation_key": "Kata perlu ditinjau", "policy.links": "Terlalu banyak tautan",
        "policy.hold_all": "Situs menahan semua", "classifier_unavailable": "Tidak dinilai",
        "spam": "Spam", "toxic": "Kasar", "campaign": "Kampanye dikenal",
    },
}


def explanation_terms(explanations: Iterable[dict[str, Any]]) -> list[str]:
    """The words a model named, in order, without repeats (the model returns spans of the original text)."""
    seen: dict[str, None] = {}
    for entry in explanations:
        term = entry.get("text") or entry.get("term") if isinstance(entry, dict) else None
        if isinstance(term, str) and term.strip():
            seen.setdefault(term.strip(), None)
    return list(seen)[:MAX_TERMS]


def _term_pattern(term: str) -> str:
    # Whole words only when the term starts/ends with a word character, so "ok" does not light up "book".
    body = r"\s+".join(re.escape(part) for part in term.split())
    head = r"(?<!\w)" if re.match(r"\w", term) else ""
    tail = r"(?!\w)" if re.search(r"\w$", term) else ""
    return head + body + tail


def highlight(text: str, terms: Iterable[str]) -> Markup:
    """``text`` escaped, with each occurrence of ``terms`` wrapped in ``<mark>``."""
    patterns = [_term_pattern(t) for t in sorted(set(terms), key=len, reverse=True) if t.strip()]
    if not patterns:
        return escape(text)
    matcher = re.compile("|".join(patterns), re.IGNORECASE)
    pieces: list[Markup] = []
    position = 0
    for match in matcher.finditer(text):
        if match.end() == match.start():
            continue
        pieces.append(escape(text[position:match.start()]))
        pieces.append(Markup("<mark>") + escape(match.group()) + Markup("</mark>"))
        position = match.end()
    pieces.append(escape(text[position:]))
    return Markup("").join(pieces)


def local_time(moment: datetime) -> str:
    return moment.astimezone(WIB).strftime("%d-%m-%Y %H:%M WIB")


@dataclass(frozen=True)
class ReasonView:
    code: str
    label: str
    message: str
    score: float | None
    threshold: float | None
    reject: bool = False  # this reason sent the comment straight to spam


@dataclass(frozen=True)
class ItemView:
    """One comment as the template needs it; ``content_html`` is the only pre-built markup."""

    id: int
    revision: int
    status: str
    author_name: str
    author_email: str
    author_url: str | None
    article_id: str
    created: str
    content_html: Markup
    reasons: list[ReasonView]
    terms: list[str]
    scores: list[tuple[str, float]]
    risk: float
    history: dict[str, Any]  # counts by status, and blocked
    open_reports: int
    report_reasons: list[tuple[str, int]]
    links: int | None
    reported: bool


def item_view(item: QueueItem, lang: str) -> ItemView:
    comment = item.comment
    labels = REASON_LABELS.get(lang, REASON_LABELS["en"])
    terms = explanation_terms(e for r in comment.reasons for e in r.explanation)
    return ItemView(
        id=comment.id,
        revision=comment.revision,
        status=comment.status.value,
        author_name=comment.author_name,
        author_email=comment.author_email,
        author_url=comment.author_url,
        article_id=comment.article_id,
        created=local_time(comment.created_at),
        content_html=highlight(comment.content, terms),
        reasons=[
            ReasonView(r.code, labels.get(r.code, r.code), r.message, r.score, r.threshold, r.reject)
            for r in comment.reasons
        ],
        terms=terms,
        scores=sorted(comment.scores.items(), key=lambda kv: -kv[1]),
        risk=item.risk,
        history=item.history.to_json(),
        open_reports=item.open_reports,
        report_reasons=sorted(item.report_reasons.items(), key=lambda kv: -kv[1]),
        links=item.signals.get("links"),
        reported=item.open_reports > 0,
    )
