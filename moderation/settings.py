"""Service settings: a frozen dataclass, read from the environment once (``Settings.from_env``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from .policy import PolicyBook, load_policy
from .webhook_targets import TargetPolicy, parse_networks

# The repository's models/ directory, next to the package (also baked into the Docker image).
T = TypeVar("T")

DEFAULT_MODELS_DIR = Path(__file__).resolve().parent.parent / "models"


class SettingsError(ValueError):
    """A setting is invalid; the message names the environment variable or option."""


class Secret(str):
    """A string whose repr hides its value, so settings can be logged safely."""

    def __repr__(self) -> str:
        return "Secret('**********')"


@dataclass(frozen=True)
class CampaignSettings:
    """The campaign memory (moderation.campaigns): when learned signatures hold, how long they last."""

    # A signature holds once this many moderator rejections back it (net of approvals, below)...
    min_rejections: int = 3
    # ...made with at least this many distinct moderator keys (1: a site with one moderator still learns).
    min_moderators: int = 1
    # Each approval of a matching comment cancels this many rejections.
    approval_weight: int = 3
    # A signature expires this long after the last rejection that backed it.
    signature_days: float = 14.0
    # The in-memory near-duplicate index per site keeps at most this many comments, this many days old.
    index_max_comments: int = 20_000
    index_max_days: float = 7.0
    # How often a worker checks the database for other workers' comments and signature changes.
    refresh_seconds: float = 2.0


@dataclass(frozen=True)
class DatabaseSettings:
    """How the service talks to its database when it may be slow or gone (moderation.store.faults)."""

    # PostgreSQL connection pool per replica (SQLite has one writer connection and ignores these).
    pool_min: int = 1
    pool_max: int = 10
    # A new connection that is not up within this long fails (the server is down or unreachable).
    connect_timeout_seconds: float = 3.0
    # A statement running longer is cancelled by the server (and by the client, if the network is gone).
    statement_timeout_seconds: float = 5.0
    # What a client is told to wait before trying again when the database is unavailable.
    retry_after_seconds: int = 2

    @property
    def call_timeout_seconds(self) -> float:
        """The longest one store call may take, waiting for a connection included: then 503."""
        return self.connect_timeout_seconds + self.statement_timeout_seconds


@dataclass(frozen=True)
class FleetSettings:
    """One model everywhere (moderation.fleet): how often a replica checks the promoted version."""

    poll_seconds: float = 2.0
    # A replica not heard from for this long is left out of GET /v1/admin/models.
    replica_stale_seconds: float = 60.0


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    database_url: Secret | None = None
    models_dir: Path = DEFAULT_MODELS_DIR
    policy: PolicyBook = field(default_factory=PolicyBook)
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 256 * 1024
    # A request body that has not fully arrived after this long is answered 408 (slow or stalled client).
    body_timeout_seconds: float = 5.0
    # Threads that run classifier inference off the event loop.
    inference_threads: int = 1
    log_json: bool | None = None  # None: JSON unless stderr is a terminal
    webhook_timeout_seconds: float = 10.0
    # Where webhooks may go: https only and no inside address unless allowed here (webhook_targets.py).
    webhook_targets: TargetPolicy = field(default_factory=TargetPolicy)
    session_max_age_seconds: int = 8 * 3600
    # Set when the service sits behind TLS, so session cookies get the Secure flag.
    secure_cookies: bool = False
    campaigns: CampaignSettings = field(default_factory=CampaignSettings)
    # The key of the author hashes used for matching (author_hashes.py); None: <data dir>/hash-secret.
    hash_secret: Secret | None = None
    # How often the service applies each site's retention (moderation/privacy.py); 0: never (cron the CLI).
    purge_interval_seconds: float = 3600.0
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    fleet: FleetSettings = field(default_factory=FleetSettings)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return str(self.database_url)
        return f"sqlite:///{(self.data_dir / 'moderation.sqlite3').resolve()}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from ``MODERATION_*`` variables; explicit ``overrides`` (CLI options) win."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}

        def get(name: str) -> str | None:
            value = env.get(name)
            return value if value not in (None, "") else None

        if (v := get("MODERATION_DATA_DIR")) is not None:
            values["data_dir"] = Path(v)
        if (v := get("MODERATION_DATABASE_URL")) is not None:
            values["database_url"] = Secret(v)
        if (v := get("MODERATION_MODELS_DIR")) is not None:
            values["models_dir"] = Path(v)
        if (v := get("MODERATION_HOST")) is not None:
            values["host"] = v
        for name, key in (
            ("MODERATION_PORT", "port"),
            ("MODERATION_MAX_BODY_BYTES", "max_body_bytes"),
            ("MODERATION_INFERENCE_THREADS", "inference_threads"),
            ("MODERATION_SESSION_MAX_AGE", "session_max_age_seconds"),
        ):
            if (v := get(name)) is not None:
                try:
                    values[key] = int(v)
                except ValueError:
                    raise SettingsError(f"{name} must be an integer, got {v!r}") from None
                if values[key] <= 0:  # type: ignore[operator]
                    raise SettingsError(f"{name} must be positive")
        if (v := get("MODERATION_BODY_TIMEOUT_SECONDS")) is not None:
            try:
                timeout = float(v)
            except ValueError:
                raise SettingsError(f"MODERATION_BODY_TIMEOUT_SECONDS must be a number, got {v!r}") from None
            if not 0 < timeout < 3600:  # also refuses nan and inf
                raise SettingsError("MODERATION_BODY_TIMEOUT_SECONDS must be between 0 and 3600 seconds")
            values["body_timeout_seconds"] = timeout
        secret, secret_file = get("MODERATION_HASH_SECRET"), get("MODERATION_HASH_SECRET_FILE")
        if secret is not None and secret_file is not None:
            raise SettingsError("set MODERATION_HASH_SECRET or MODERATION_HASH_SECRET_FILE, not both")
        if secret_file is not None:
            try:
                secret = Path(secret_file).read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise SettingsError(f"MODERATION_HASH_SECRET_FILE: cannot read {secret_file}: {exc}") from None
        if secret is not None:
            if len(secret.encode("utf-8")) < 16:
                raise SettingsError("the hash secret (MODERATION_HASH_SECRET[_FILE]) must be at least 16 bytes")
            values["hash_secret"] = Secret(secret)
        if (v := get("MODERATION_PURGE_INTERVAL_SECONDS")) is not None:
            try:
                interval = float(v)
            except ValueError:
                raise SettingsError(f"MODERATION_PURGE_INTERVAL_SECONDS must be a number, got {v!r}") from None
            if not 0 <= interval < 10**7:
                raise SettingsError("MODERATION_PURGE_INTERVAL_SECONDS must be between 0 (off) and 10000000")
            values["purge_interval_seconds"] = interval
        for name, key in (("MODERATION_LOG_JSON", "log_json"), ("MODERATION_SECURE_COOKIES", "secure_cookies")):
            if (v := get(name)) is not None:
                if v.lower() not in ("1", "0", "true", "false", "yes", "no"):
                    raise SettingsError(f"{name} must be true or false, got {v!r}")
                values[key] = v.lower() in ("1", "true", "yes")
        allow_http = get("MODERATION_WEBHOOK_ALLOW_HTTP")
        allow_networks = get("MODERATION_WEBHOOK_ALLOW_NETWORKS")
        if allow_http is not None or allow_networks is not None:
            if allow_http is not None and allow_http.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise SettingsError(f"MODERATION_WEBHOOK_ALLOW_HTTP must be true or false, got {allow_http!r}")
            try:
                networks = parse_networks(allow_networks or "")
            except ValueError as exc:
                raise SettingsError(f"MODERATION_WEBHOOK_ALLOW_NETWORKS: {exc}") from None
            values["webhook_targets"] = TargetPolicy(
                allow_http=(allow_http or "").lower() in ("1", "true", "yes"), allowed_networks=networks)
        campaign: dict[str, object] = {}
        for name, key, cast in (
            ("MODERATION_CAMPAIGN_MIN_REJECTIONS", "min_rejections", int),
            ("MODERATION_CAMPAIGN_MIN_MODERATORS", "min_moderators", int),
            ("MODERATION_CAMPAIGN_SIGNATURE_DAYS", "signature_days", float),
            ("MODERATION_CAMPAIGN_REFRESH_SECONDS", "refresh_seconds", float),
        ):
            if (v := get(name)) is not None:
                try:
                    campaign[key] = cast(v)
                except ValueError:
                    raise SettingsError(f"{name} must be a number, got {v!r}") from None
                if campaign[key] <= 0:  # type: ignore[operator]
                    raise SettingsError(f"{name} must be positive")
        if campaign:
            values["campaigns"] = CampaignSettings(**campaign)  # type: ignore[arg-type]
        database = _numbers(get, DatabaseSettings, (
            ("MODERATION_DB_POOL_MIN", "pool_min", int),
            ("MODERATION_DB_POOL_MAX", "pool_max", int),
            ("MODERATION_DB_CONNECT_TIMEOUT_SECONDS", "connect_timeout_seconds", float),
            ("MODERATION_DB_STATEMENT_TIMEOUT_SECONDS", "statement_timeout_seconds", float),
            ("MODERATION_DB_RETRY_AFTER_SECONDS", "retry_after_seconds", int),
        ))
        if database.pool_min > database.pool_max:
            raise SettingsError("MODERATION_DB_POOL_MIN must not exceed MODERATION_DB_POOL_MAX")
        values["database"] = database
        values["fleet"] = _numbers(get, FleetSettings, (
            ("MODERATION_MODEL_POLL_SECONDS", "poll_seconds", float),
            ("MODERATION_REPLICA_STALE_SECONDS", "replica_stale_seconds", float),
        ))
        policy_file = overrides.pop("policy_file", None) or get("MODERATION_POLICY_FILE")
        if policy_file is not None:
            values["policy"] = load_policy(Path(str(policy_file)))
        for key, value in overrides.items():
            if value is not None:
                values[key] = Secret(str(value)) if key == "database_url" else value
        return cls(**values)  # type: ignore[arg-type]


def _numbers(get: Callable[[str], str | None], kind: type[T],
             names: tuple[tuple[str, str, type[int] | type[float]], ...]) -> T:
    """A settings group from positive numeric variables (finite, below a day), defaults for the rest."""
    found: dict[str, int | float] = {}
    for name, key, cast in names:
        if (v := get(name)) is None:
            continue
        try:
            number = cast(v)
        except ValueError:
            raise SettingsError(f"{name} must be {'an integer' if cast is int else 'a number'}, got {v!r}") from None
        if not 0 < number < 86_400:  # also refuses nan and inf
            raise SettingsError(f"{name} must be positive and below 86400")
        found[key] = number
    return kind(**found)
