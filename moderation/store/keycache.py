"""A short-lived cache of API keys for backends whose lookup is a network round trip (PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..domain import ApiKey

# How stale a cached key may be: a key revoked in the database (by any replica) is refused within this.
KEY_CACHE_SECONDS = 1.0
KEY_CACHE_MAX = 10_000


class KeyCache:
    """Known API keys by hash, each trusted for ``ttl`` seconds, so most requests skip the database.

    Revocation lands in the database; every replica re-reads a key at most ``ttl`` after its last
    read, so revocation is effective everywhere within ``ttl`` without any message between them.
    Unknown keys are not cached (a key created a moment ago works at once). ``invalidate`` drops
    entries at once, for changes made in this process.
    """

    def __init__(self, ttl: float = KEY_CACHE_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._keys: dict[str, tuple[float, ApiKey]] = {}

    def get(self, digest: str) -> ApiKey | None:
        entry = self._keys.get(digest)
        if entry is None:
            return None
        if self.clock() - entry[0] >= self.ttl:
            del self._keys[digest]
            return None
        return entry[1]

    def put(self, digest: str, key: ApiKey) -> None:
        if len(self._keys) >= KEY_CACHE_MAX:
            self._keys.clear()
        self._keys[digest] = (self.clock(), key)

    def invalidate(self, digest: str | None = None) -> None:
        if digest is None:
            self._keys.clear()
        else:
            self._keys.pop(digest, None)
