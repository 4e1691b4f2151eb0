"""What both backends share: timestamps, migration discovery, and row → object mappers.

Each backend keeps its own SQL (placeholders, types and locking differ); the rows they read come
back in the same column order, so one mapper serves both. SQLite stores timestamps as fixed-width
UTC text and JSON as text; PostgreSQL returns datetimes and (read as ``::text``) JSON text, so every
timestamp goes through ``as_datetime``, which accepts either.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from ..domain import ApiKey, Comment, Decision, Evidence, Role, Status
from ..workflow import AuthorStanding
from . import (
    REASON_KINDS,
    AuditEvent,
    AuthorHistory,
    CampaignSignature,
    ClusterSummary,
    DeliveryRecord,
    ModeratorSession,
    NewComment,
    OutboxItem,
    QueueItem,
    SignatureVote,
    WebhookTarget,
)


def to_ts(moment: datetime) -> str:
    """A fixed-width UTC timestamp, so text comparison is time comparison."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_ts(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def as_datetime(value: datetime | str) -> datetime:
    """A timestamp column as a datetime, whichever backend read it."""
    return value if isinstance(value, datetime) else from_ts(value)


def migration_files(dialect: str) -> list[tuple[int, str, str]]:
    """(version, name, sql) for every migration of a dialect, in order."""
    folder = resources.files("moderation.store") / "migrations" / dialect
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


# -- comments -----------------------------------------------------------------------------------------

COMMENT_COLUMNS = (
    "id, site_id, article_id, parent_id, author_name, author_email, author_url, content, status, decision, "
    "reasons, scores, model_version, revision, created_at, updated_at, lang, shadow_decision"
)
COMMENT_COLUMNS_LIST = [c.strip() for c in COMMENT_COLUMNS.split(",")]


def comment_from_row(row: Any) -> Comment:
    return Comment(
        id=row[0],
        site_id=row[1],
        article_id=row[2],
        parent_id=row[3],
        author_name=row[4],
        author_email=row[5],
        author_url=row[6],
        content=row[7],
        status=Status(row[8]),
        decision=Decision(row[9]),
        reasons=tuple(Evidence.from_json(r) for r in json.loads(row[10])),
        scores=json.loads(row[11]),
        model_version=row[12],
        revision=row[13],
        created_at=as_datetime(row[14]),
        updated_at=as_datetime(row[15]),
        lang=row[16],
        shadow_decision=Decision(row[17]) if row[17] else None,
    )


def queue_item_from_row(row: Any, kinds: Mapping[int, Iterable[str]], reports: Mapping[int, dict[str, int]],
                        history: Mapping[str, AuthorHistory]) -> QueueItem:
    """A queue row: the comment columns, then risk, open_reports, signals (JSON text) and the author's keyed hash."""
    comment = comment_from_row(row)
    extra = len(COMMENT_COLUMNS_LIST)
    email_hash = row[extra + 3]
    return QueueItem(
        comment=comment,
        risk=float(row[extra]),
        open_reports=int(row[extra + 1]),
        signals=json.loads(row[extra + 2] or "{}"),
        reason_kinds=tuple(sorted(kinds.get(comment.id, ()))),
        report_reasons=reports.get(comment.id, {}),
        history=history.get(email_hash, AuthorHistory()) if email_hash else AuthorHistory(),
    )


def queue_counts_json(by_status_rows: Iterable[Any], held_kind_rows: Iterable[Any], reported: int) -> dict[str, Any]:
    """The counts answer from (status, n) rows, (kind, n) rows of held comments, and the reported count."""
    by_status = {s.value: 0 for s in Status}
    for status, n in by_status_rows:
        by_status[status] = int(n)
    held_by_reason = {kind: 0 for kind in REASON_KINDS}
    for kind, n in held_kind_rows:
        held_by_reason[kind] = int(n)
    return {
        "held": by_status["held"], "spam": by_status["spam"], "reported": int(reported), "by_status": by_status,
        "held_by_reason": held_by_reason,
    }


def author_history_from_rows(rows: Iterable[Any], blocked: Iterable[str]) -> dict[str, AuthorHistory]:
    """(e-mail hash, status, n) rows and the blocked hashes → what the site already decided about each author.

    Grouped by the keyed hash, not the stored address: the address is gone after an erasure and its spelling
    varies (``Budi@Example.COM``); the hash is normalised and outlives neither more nor less than matching needs."""
    counts: dict[str, dict[str, Any]] = {}
    for email_hash, status, n in rows:
        counts.setdefault(email_hash, {})[status] = int(n)
    for email_hash in blocked:
        counts.setdefault(email_hash, {})["blocked"] = True
    return {email_hash: AuthorHistory(**by_status) for email_hash, by_status in counts.items()}


REFUSED_STATUSES = ("rejected", "removed", "spam")


def author_standing_from_rows(rows: Iterable[Any], blocked: bool) -> AuthorStanding:
    """(status, n) rows of one author's comments on a site → their standing before a new comment."""
    by_status = {status: int(n) for status, n in rows}
    return AuthorStanding(published=by_status.get("published", 0),
                          refused=sum(by_status.get(s, 0) for s in REFUSED_STATUSES), blocked=blocked)


# -- newest-first listings (audit log, webhook deliveries) ----------------------------------------------

Mark = Callable[[int], str]  # the placeholder for the n-th parameter: "?" (SQLite) or "$n" (PostgreSQL)

EVENTS_SELECT = (
    "SELECT id, comment_id, at, actor, action, from_status, to_status, label, note, {reasons}, "
    "model_version, previous_content FROM comment_events WHERE site_id = {site}"
)
DELIVERIES_SELECT = (
    "SELECT d.id, d.outbox_id, o.comment_id, o.event, d.attempt, d.at, d.url, d.status_code, d.error, "
    "d.duration_ms, CASE WHEN o.delivered_at IS NOT NULL THEN 'delivered' "
    "WHEN o.failed_at IS NOT NULL THEN 'failed' ELSE 'pending' END "
    "FROM webhook_deliveries d JOIN webhook_outbox o ON o.id = d.outbox_id WHERE d.site_id = {site}"
)


def newest_first(select: str, site_id: str, *, filters: Sequence[tuple[str, Any]], order: str, limit: int,
                 mark: Mark) -> tuple[str, list[Any]]:
    """``select`` (with ``{site}`` for the site's placeholder) narrowed by every filter whose value is given
    (``("id <", before_id)``), newest first, at most ``limit`` rows."""
    params: list[Any] = [site_id]
    sql = select.replace("{site}", mark(1))
    for condition, value in filters:
        if value is not None:
            params.append(value)
            sql += f" AND {condition} {mark(len(params))}"
    params.append(limit)
    return f"{sql} ORDER BY {order} DESC LIMIT {mark(len(params))}", params


# -- keys and sessions ----------------------------------------------------------------------------------


def author_match(new: NewComment) -> tuple[str, str, str, str | None]:
    """(e-mail column, value, IP column, value) for the duplicate and flood checks: the keyed hashes
    when the comment carries them (the service always does), else the raw values."""
    sub = new.submission
    if new.email_hash is not None:
        return "author_email_hash", new.email_hash, "author_ip_hash", new.ip_hash
    return "author_email", sub.author_email, "author_ip", sub.author_ip


# The operator_keys half of a key lookup, in api_keys' column order (operator keys belong to no site).
OPERATOR_KEY_SELECT = "SELECT id, '', 'operator', prefix, created_at, revoked_at FROM operator_keys"


def api_key_from_row(row: Any) -> ApiKey:
    """(id, site_id, role, prefix, created_at, revoked_at)."""
    return ApiKey(id=row[0], site_id=row[1], role=Role(row[2]), prefix=row[3], created_at=as_datetime(row[4]),
                  revoked_at=as_datetime(row[5]) if row[5] else None)


def session_from_row(row: Any) -> ModeratorSession:
    """(key id, site_id, role, prefix, key created_at, csrf_hash, expires_at)."""
    key = ApiKey(id=row[0], site_id=row[1], role=Role(row[2]), prefix=row[3], created_at=as_datetime(row[4]))
    return ModeratorSession(api_key=key, csrf_hash=row[5], expires_at=as_datetime(row[6]))


# -- audit, labels, model quality -------------------------------------------------------------------------


def audit_event_from_row(r: Any) -> AuditEvent:
    """(id, comment_id, at, actor, action, from_status, to_status, label, note, reasons JSON, model_version)."""
    return AuditEvent(
        id=r[0], comment_id=r[1], at=as_datetime(r[2]), actor=r[3], action=r[4], from_status=r[5],
        to_status=r[6], label=r[7], note=r[8], reasons=json.loads(r[9]) if r[9] else None, model_version=r[10],
        previous_content=r[11],
    )


def training_label_json(r: Any) -> dict[str, Any]:
    """(id, site_id, comment_id, text, label, source, model_version, scores JSON, created_at)."""
    return {
        "id": r[0], "site_id": r[1], "comment_id": r[2], "text": r[3], "label": r[4], "source": r[5],
        "model_version": r[6], "scores": json.loads(r[7]) if r[7] else None,
        "decided_at": r[8] if isinstance(r[8], str) else to_ts(r[8]),
    }


def model_stats_row(row: Any) -> dict[str, Any]:
    version, total, published, held, held_approved, held_rejected, published_removed = (int(x or 0) if i else x
                                                                                          for i, x in enumerate(row))
    return {
        "model_version": version or None,
        "comments": total,
        "auto_published": published,
        "auto_held": held,
        "held_then_approved": held_approved,
        "held_then_rejected": held_rejected,
        "published_then_removed": published_removed,
        # Of the held comments a moderator has decided, the share they approved (false holds).
        "hold_overturn_rate": round(held_approved / (held_approved + held_rejected), 4)
        if held_approved + held_rejected else None,
        "publish_overturn_rate": round(published_removed / published, 4) if published else None,
    }


# -- webhooks -----------------------------------------------------------------------------------------------


def outbox_item_from_row(r: Any) -> OutboxItem:
    """(id, site_id, comment_id, payload, attempts, created_at, webhook_url, webhook_secret)."""
    return OutboxItem(r[0], r[1], r[2], r[3], r[4], as_datetime(r[5]), WebhookTarget(r[1], r[6], r[7] or ""))


def delivery_from_row(r: Any) -> DeliveryRecord:
    """(id, outbox_id, comment_id, event, attempt, at, url, status_code, error, duration_ms, state)."""
    return DeliveryRecord(r[0], r[1], r[2], r[3], r[4], as_datetime(r[5]), r[6], r[7], r[8], float(r[9]), r[10])


# -- campaign memory ----------------------------------------------------------------------------------

SIGNATURE_COLUMNS = (
    "id, site_id, kind, value, minhash, rejections, approvals, moderators, created_at, updated_at, expires_at, "
    "removed_at"
)


def signature_from_row(r: Any) -> CampaignSignature:
    return CampaignSignature(
        id=r[0], site_id=r[1], kind=r[2], value=r[3], minhash=bytes(r[4]) if r[4] is not None else None,
        rejections=r[5], approvals=r[6], moderators=r[7], created_at=as_datetime(r[8]),
        updated_at=as_datetime(r[9]), expires_at=as_datetime(r[10]),
        removed_at=as_datetime(r[11]) if r[11] is not None else None,
    )


def vote_from_row(r: Any) -> SignatureVote:
    return SignatureVote(comment_id=r[0], actor=r[1], action=r[2], label=r[3], at=as_datetime(r[4]))


def cluster_from_row(r: Any, sample: Comment) -> ClusterSummary:
    """(cluster, count, first id, last id, first at, last at) plus the newest comment."""
    return ClusterSummary(cluster_id=r[0], count=r[1], first_id=r[2], last_id=r[3], first_at=as_datetime(r[4]),
                          last_at=as_datetime(r[5]), sample=sample)
