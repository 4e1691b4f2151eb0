"""The site's moderation policy: thresholds, link limit, keyword lists, form timing.

Read from a TOML file once at start-up. ``[default]`` applies to every site; ``[sites."<site>"]``
overrides single values for one site (lists replace, they do not merge). Unknown keys are errors,
because a typo in a policy file must not silently publish what a site meant to hold.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .textnorm import normalize


class PolicyError(ValueError):
    """The policy file is invalid; the message names the file and key."""


@dataclass(frozen=True)
class Policy:
    # Hold when a classifier score reaches its threshold. Missing heads fall back to the model's
    # recommended threshold from its manifest (chosen for a low false-hold rate).
    thresholds: Mapping[str, float] = field(default_factory=dict)
    # Hold when the comment has more links than this (WordPress comment_max_links, default 2).
    max_links: int = 2
    # Hold for a moderator when any of these terms appears (WordPress "Comment Moderation" list;
    # ``moderation_keys`` in the policy file, WordPress's name).
    moderation_terms: tuple[str, ...] = ()
    # Hold as spam when any of these terms appears (WordPress "Disallowed Comment Keys";
    # ``disallowed_keys`` in the policy file).
    disallowed_terms: tuple[str, ...] = ()
    # Hold when the form was submitted sooner than this many seconds after it was rendered.
    min_submit_seconds: float = 3.0
    # Refuse (429) a second comment from the same e-mail or IP within this many seconds.
    flood_interval_seconds: float = 15.0
    # Hold (classifier_unavailable) rather than wait longer than this for the classifiers.
    classifier_timeout_seconds: float = 2.0
    # Hold every comment regardless of scores (WordPress "Comment must be manually approved").
    hold_all: bool = False
    # Abuse limits (token buckets, 429 + Retry-After; 0 turns one off). Every request of one API key:
    key_requests_per_second: float = 50.0
    key_burst: float = 500.0
    # Comments of one author (the same e-mail, or the same IP), across articles:
    author_comments_per_hour: float = 60.0
    author_burst: float = 20.0
    # Retention (moderation purge and the periodic task; 0 keeps forever). IP and user agent are
    # removed this many days after the comment arrived...
    retain_addresses_days: float = 30.0
    # ...and rejected, taken-down or outright-spam comments are removed entirely this many days after that decision.
    retain_rejected_days: float = 30.0
    # Reject outright (status ``spam``: never shown, not in the held queue) instead of holding when a
    # reject rule fires. Only spam signals may reject; a toxic comment always waits for a person.
    reject: bool = True
    # The spam head's score at or above which a spam hold becomes a rejection ("far above" the hold threshold).
    reject_spam_score: float = 0.98
    # Reason codes that reject whenever they fire (default: a campaign moderators already rejected).
    reject_reasons: tuple[str, ...] = ("campaign",)
    # Shadow mode: decide as usual but publish everything, recording what would have been held or rejected
    # (a site tries the service before enforcing it).
    shadow: bool = False
    # Move a published comment to held once this many readers' reports are open on it (0: never; reported
    # comments stay up until a moderator acts, as in Coral).
    report_hold_threshold: int = 0
    # Trusted authors: an author (by the keyed hash of the e-mail) with at least this many published comments
    # on this site and none rejected, removed or spam is published unless a hard signal fires (0: off).
    trust_after_approved: int = 0
    # What happens to a comment of an author a moderator blocked: "hold" (the queue) or "reject" (spam).
    blocked_authors: str = "hold"
    # The signing secrets of the site's Coral Talk External Moderation Phase (Coral's admin shows one; two
    # while rotating): a request to /v1/compat/coral/moderate must carry a valid X-Coral-Signature of one.
    coral_signing_secrets: tuple[str, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        # Terms are matched against normalised text, so normalise them the same way once.
        object.__setattr__(self, "moderation_terms", _normalise_terms(self.moderation_terms))
        object.__setattr__(self, "disallowed_terms", _normalise_terms(self.disallowed_terms))
        object.__setattr__(self, "thresholds", dict(self.thresholds))


def _normalise_terms(terms: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    out = []
    for term in terms:
        norm = normalize(term).strip()
        if norm and norm not in out:
            out.append(norm)
    return tuple(out)


@dataclass(frozen=True)
class PolicyBook:
    """The default policy plus per-site overrides."""

    default: Policy = field(default_factory=Policy)
    sites: Mapping[str, Policy] = field(default_factory=dict)

    def for_site(self, site_id: str) -> Policy:
        return self.sites.get(site_id, self.default)


# The policy file keeps WordPress's names for the term lists; everything else is named as the field.
FILE_NAMES = {"moderation_keys": "moderation_terms", "disallowed_keys": "disallowed_terms"}
_FIELD_OF = {**{f.name: f.name for f in fields(Policy) if f.name not in FILE_NAMES.values()}, **FILE_NAMES}
# Spam signals only: toxicity, policy review terms and links are a person's call, never an outright rejection.
MIN_SECRET_CHARS = 16  # Coral's own are "ssc_" + 64 hex digits or more
REJECTABLE_REASONS = ("spam", "campaign", "honeypot", "too_fast", "policy.disallowed_key")
BLOCKED_AUTHOR_OUTCOMES = ("hold", "reject")


def _policy_from_mapping(raw: Mapping[str, Any], base: Policy, where: str) -> Policy:
    unknown = set(raw) - set(_FIELD_OF)
    if unknown:
        raise PolicyError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_FIELD_OF)}")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "thresholds":
            if not isinstance(value, Mapping) or not all(
                isinstance(v, (int, float)) and 0.0 <= v <= 1.0 for v in value.values()
            ):
                raise PolicyError(f"{where}.thresholds: a table of head = number between 0 and 1")
            values[key] = {**base.thresholds, **{k: float(v) for k, v in value.items()}}
        elif key in FILE_NAMES:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise PolicyError(f"{where}.{key}: a list of strings")
            values[FILE_NAMES[key]] = tuple(value)
        elif key == "reject_reasons":
            if not isinstance(value, list) or not all(v in REJECTABLE_REASONS for v in value):
                raise PolicyError(f"{where}.{key}: a list of spam reason codes among {list(REJECTABLE_REASONS)} "
                                  "(toxicity never rejects outright)")
            values[key] = tuple(value)
        elif key == "coral_signing_secrets":
            if not isinstance(value, list) or not all(isinstance(v, str) and len(v.strip()) >= MIN_SECRET_CHARS
                                                      for v in value):
                raise PolicyError(f"{where}.{key}: a list of Coral signing secrets (each at least "
                                  f"{MIN_SECRET_CHARS} characters)")
            values[key] = tuple(v.strip() for v in value)
        elif key == "reject_spam_score":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.5 <= value <= 1.0:
                raise PolicyError(f"{where}.{key}: a number between 0.5 and 1")
            values[key] = float(value)
        elif key == "blocked_authors":
            if value not in BLOCKED_AUTHOR_OUTCOMES:
                raise PolicyError(f"{where}.{key}: one of {list(BLOCKED_AUTHOR_OUTCOMES)}")
            values[key] = value
        elif key in ("hold_all", "reject", "shadow"):
            if not isinstance(value, bool):
                raise PolicyError(f"{where}.{key}: true or false")
            values[key] = value
        else:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise PolicyError(f"{where}.{key}: a non-negative number")
            values[key] = int(value) if key in ("max_links", "report_hold_threshold", "trust_after_approved") else float(value)
    return replace(base, **values)


def load_policy(path: Path | None) -> PolicyBook:
    """Read a policy file; ``None`` gives the built-in defaults."""
    if path is None:
        return PolicyBook()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: {exc}") from exc
    unknown = set(raw) - {"default", "sites"}
    if unknown:
        raise PolicyError(f"{path}: unknown table(s) {sorted(unknown)}; use [default] and [sites.\"<site>\"]")
    default = _policy_from_mapping(raw.get("default", {}), Policy(), f"{path} [default]")
    sites = {
        site: _policy_from_mapping(table, default, f"{path} [sites.{site}]")
        for site, table in raw.get("sites", {}).items()
    }
    return PolicyBook(default=default, sites=sites)
