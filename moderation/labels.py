"""The label vocabulary, in one place: what people say about a comment, and what it teaches the models.

A *training label* is a person's judgement of a text (a moderator's decision, or feedback through the
Akismet and Perspective endpoints). A *reason kind* groups the reason codes of held comments for the
queue filters (migration 0002 maps codes to kinds). A *report reason* is what a reader says when the
site forwards a report.
"""

from __future__ import annotations

HAM = "ham"
SPAM = "spam"
TOXIC = "toxic"
OTHER = "other"

TRAINING_LABELS = (HAM, SPAM, TOXIC, OTHER)
APPROVE_LABEL = HAM  # an approved comment is always ham
REJECT_LABELS = (SPAM, TOXIC, OTHER)  # why a moderator refused or took down a comment

# A label → what it says about each online site head (None: says nothing, the head skips the row).
# ``other`` teaches nothing.
LABEL_TARGETS: dict[str, dict[str, int | None]] = {
    HAM: {"spam": 0, "toxic": 0},
    SPAM: {"spam": 1, "toxic": None},
    TOXIC: {"spam": 0, "toxic": 1},
}

# Where a training label came from. Only a moderator's decisions train a site head.
MODERATOR_SOURCE = "moderator"

REASON_KINDS = (SPAM, TOXIC, "policy", OTHER)  # see migration 0002 for which codes fall where
REPORT_REASONS = (SPAM, TOXIC, "off_topic", "misinformation", "illegal", OTHER)

def reason_kind(code: str, source: str) -> str:
    """The queue's kind of one reason: the rule of migration 0003's trigger, for rows the trigger does not see
    (an edit changes a stored comment's reasons)."""
    if code.startswith("policy."):
        return "policy"
    if code in ("spam", "honeypot", "too_fast", "campaign"):
        return SPAM
    if source.startswith("model:"):
        return TOXIC
    return OTHER


# Reason codes that mean "held as spam" (Akismet's comment-check answers ``true`` for these only).
SPAM_REASON_CODES = frozenset({"spam", "gambling", "honeypot", "too_fast", "policy.disallowed_key"})
