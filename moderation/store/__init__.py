"""Storage: one async interface (``Store``), one module per backend, chosen by URL scheme.

``sqlite:///path`` (default, one replica) → ``moderation.store.sqlite``;
``postgresql://...`` (several replicas) → ``moderation.store.postgres``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ..domain import ApiKey, Comment, Role, Submission, Verdict


@dataclass(frozen=True)
class IdempotentResponse:
    request_hash: str
    comment_id: int
    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class NewComment:
    site_id: str
    submission: Submission
    verdict: Verdict
    content_hash: str
    signals: dict[str, Any]


# Renders the site's answer from the stored comment, inside the insert transaction, so the
# idempotency record holds exactly what the first request got back.
RenderResponse = Callable[[Comment], dict[str, Any]]


class Store(Protocol):
    async def migrate(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> None:
        """Raise if the store cannot be reached."""

    # Sites and keys
    async def ensure_site(self, site_id: str, now: datetime) -> None: ...
    async def create_api_key(self, *, site_id: str, role: Role, key_hash: str, prefix: str, now: datetime) -> ApiKey: ...
    async def find_api_key(self, key_hash: str) -> ApiKey | None: ...

    # Comments
    async def get_comment(self, site_id: str, comment_id: int) -> Comment | None: ...
    async def parent_exists(self, site_id: str, article_id: str, parent_id: int) -> bool: ...
    async def find_idempotent(self, site_id: str, key: str) -> IdempotentResponse | None: ...
    async def insert_comment(
        self,
        new: NewComment,
        *,
        now: datetime,
        flood_interval: float,
        idempotency: tuple[str, str] | None,
        render: RenderResponse,
    ) -> tuple[Comment, dict[str, Any], bool]:
        """Store a comment atomically: idempotency, duplicate check (409), flood check (429), insert.

        Returns the stored comment, the rendered response, and whether this was a replay (the
        idempotency key was already used with the same request: nothing new is stored).
        """
        ...

    # Labels for retraining
    async def add_training_label(self, label: TrainingLabel, now: datetime) -> int: ...
    async def list_training_labels(self, *, since_id: int = 0, limit: int = 10_000) -> list[dict[str, Any]]: ...

    # Model quality in production
    async def model_stats(self, site_id: str | None = None) -> list[dict[str, Any]]:
        """Per model version: automatic decisions and how often moderators overturned them."""
        ...


@dataclass(frozen=True)
class TrainingLabel:
    """A person's judgement of a text, kept for retraining (no e-mail, IP or name)."""

    site_id: str
    text: str
    label: str  # ham, spam, toxic, other
    source: str  # moderator, akismet.submit-spam, perspective.suggestscore...
    comment_id: int | None = None
    actor: str | None = None
    model_version: str | None = None
    scores: dict[str, float] | None = None


def open_store(database_url: str) -> Store:
    """Pick the backend for a database URL (the connection is opened by ``migrate``)."""
    if database_url.startswith("sqlite:///"):
        from .sqlite import SQLiteStore

        return SQLiteStore(database_url.removeprefix("sqlite:///"))
    if database_url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore

        return PostgresStore(database_url)
    raise ValueError("MODERATION_DATABASE_URL must start with sqlite:/// or postgresql://")
