"""Abuse limits kept in memory per process: token buckets for API keys and authors, backoff for sign-ins.

Not a library: ``limits`` (the maintained one, behind Flask-Limiter and slowapi) offers fixed and
moving windows rather than a token bucket, reads the wall clock itself (our tests and the flood check
run on the app's injected clock) and has nothing for a growing delay after failures; each of the
two below is a few lines on a dict.

Buckets are keyed by opaque strings: the API key's id, and for authors a keyed BLAKE2 digest of
the normalised e-mail or IP under a random per-process key, so the table never holds a raw address.
With ``serve --workers N`` each worker counts alone (a client spread over N workers gets up to N
times the rate); a full bucket is the same as no bucket, so idle entries are dropped.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from .domain import Submission
from .errors import TooManyRequests
from .policy import Policy

MAX_ENTRIES = 100_000  # beyond this, forget the fullest buckets / the oldest sign-in failures first


@dataclass
class _Bucket:
    tokens: float
    at: float  # seconds (the clock's timestamp) when ``tokens`` was last brought up to date


class TokenBuckets:
    """``take(name, per_second, burst)``: None if a token was taken, else seconds until one is there."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, name: str, per_second: float, burst: float) -> float | None:
        if per_second <= 0 or burst <= 0:  # 0 turns the limit off
            return None
        now = self.clock().timestamp()
        bucket = self._buckets.get(name)
        if bucket is None:
            if len(self._buckets) >= MAX_ENTRIES:
                self._prune(now, per_second, burst)
            bucket = self._buckets[name] = _Bucket(tokens=burst, at=now)
        else:
            bucket.tokens = min(burst, bucket.tokens + max(0.0, now - bucket.at) * per_second)
            bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return (1 - bucket.tokens) / per_second

    def _prune(self, now: float, per_second: float, burst: float) -> None:
        full = [n for n, b in self._buckets.items() if b.tokens + (now - b.at) * per_second >= burst]
        for name in full or list(self._buckets)[: MAX_ENTRIES // 10]:
            del self._buckets[name]


@dataclass(frozen=True)
class SignInLimits:
    """Failures allowed freely, then a lockout doubling from ``first_delay`` up to ``max_delay``."""

    free_failures: int = 5
    first_delay: float = 1.0
    max_delay: float = 900.0
    forget_after: float = 3600.0  # failures older than this no longer count


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0
    locked_until: float = 0.0


@dataclass
class SignInThrottle:
    """Sign-in attempts per client address and per key prefix, with a growing delay after failures."""

    clock: Callable[[], datetime]
    limits: SignInLimits = field(default_factory=SignInLimits)
    _seen: dict[str, _Failures] = field(default_factory=dict)

    def wait(self, *names: str) -> float | None:
        """Seconds until any of ``names`` may try again, or None if all may try now."""
        now = self.clock().timestamp()
        waits = [f.locked_until - now for n in names if (f := self._seen.get(n)) and f.locked_until > now]
        return max(waits) if waits else None

    def failed(self, *names: str) -> None:
        now = self.clock().timestamp()
        if len(self._seen) >= MAX_ENTRIES:
            for name in sorted(self._seen, key=lambda n: self._seen[n].last)[: MAX_ENTRIES // 10]:
                del self._seen[name]
        for name in names:
            failures = self._seen.get(name)
            if failures is None or now - failures.last > self.limits.forget_after:
                failures = self._seen[name] = _Failures()
            failures.count += 1
            failures.last = now
            over = failures.count - self.limits.free_failures
            if over > 0:
                delay = min(self.limits.max_delay, self.limits.first_delay * 2 ** min(over - 1, 30))
                failures.locked_until = now + delay

    def succeeded(self, *names: str) -> None:
        for name in names:
            self._seen.pop(name, None)


class AuthorDigests:
    """Opaque in-memory names for authors: keyed BLAKE2 under a key that never leaves the process."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def __call__(self, kind: str, value: str) -> str:
        return kind + ":" + hashlib.blake2b(value.encode("utf-8"), key=self._key, digest_size=16).hexdigest()


def retry_after_seconds(wait: float) -> int:
    """A ``Retry-After`` value: whole seconds, never 0 (a client told 0 would retry at once)."""
    return max(1, math.ceil(wait))


@dataclass
class AbuseLimits:
    """Everything the app keeps for abuse limits, one object under one app key."""

    buckets: TokenBuckets
    sign_in: SignInThrottle
    authors: AuthorDigests = field(default_factory=AuthorDigests)

    @classmethod
    def create(cls, clock: Callable[[], datetime], sign_in: SignInLimits | None = None) -> AbuseLimits:
        return cls(buckets=TokenBuckets(clock), sign_in=SignInThrottle(clock, sign_in or SignInLimits()))


def limit_author(limits: AbuseLimits, site_id: str, submission: Submission, policy: Policy) -> None:
    """One token from the author's e-mail bucket and IP bucket on this site, or 429 ``rate_limited``."""
    per_second = policy.author_comments_per_hour / 3600
    names = [limits.authors("email", f"{site_id}\0{submission.author_email}")]
    if submission.author_ip:
        names.append(limits.authors("ip", f"{site_id}\0{submission.author_ip}"))
    waits = [w for name in names if (w := limits.buckets.take(name, per_second, policy.author_burst)) is not None]
    if waits:
        raise TooManyRequests("Too many comments from this author. Try again later.", code="rate_limited",
                              retry_after=retry_after_seconds(max(waits)), limit="author")
