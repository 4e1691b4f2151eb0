"""Keyed hashes of authors for matching: duplicate, flood and retention-proof lookups without the raw value.

HMAC-SHA256 under the operator's secret (``MODERATION_HASH_SECRET``, or a file named by
``MODERATION_HASH_SECRET_FILE``; else ``<data dir>/hash-secret``, created 0600 on first start). A
keyed hash, not a plain one: e-mail addresses and IPv4 addresses are few enough to be found by
hashing every candidate, which the secret prevents for anyone holding only the database. Values are
normalised first — the e-mail as stored (lower-case, domain included) and the IP in canonical form
(``::ffff:203.0.113.9`` is ``203.0.113.9``) — so spelling cannot dodge a match. Replicas on one
PostgreSQL database must share the secret; changing it makes earlier comments unmatched (not wrong).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from .settings import Settings, SettingsError
from .store.sqlite import create_private_file
from .validation import normalise_ip

MIN_SECRET_BYTES = 16


class AuthorHasher:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise SettingsError(f"the hash secret must be at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret

    def __repr__(self) -> str:
        return "AuthorHasher(**********)"

    def _digest(self, kind: str, value: str) -> str:
        return hmac.new(self._secret, f"{kind}\0{value}".encode(), hashlib.sha256).hexdigest()

    def email(self, email: str) -> str:
        return self._digest("email", email.strip().lower())

    def ip(self, ip: str | None) -> str | None:
        if not ip:
            return None
        try:
            ip = normalise_ip(ip)
        except ValueError:
            pass  # stored values were validated; anything else is hashed as written
        return self._digest("ip", ip)

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthorHasher:
        """The secret from the settings, or the data directory's own file (made on first start)."""
        if settings.hash_secret:
            return cls(str(settings.hash_secret).encode("utf-8"))
        path = settings.data_dir / "hash-secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            create_private_file(path)
            path.write_text(secrets.token_urlsafe(48), encoding="ascii")
        return cls(read_secret_file(path))


def read_secret_file(path: Path) -> bytes:
    try:
        return path.read_bytes().strip()
    except OSError as exc:
        raise SettingsError(f"cannot read the hash secret file {path}: {exc}") from None
