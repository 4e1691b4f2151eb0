"""Database faults: every store call bounded in time, an unreachable database raised as one error.

``GuardedStore`` wraps whichever backend ``open_store`` chose. A call that cannot reach the database
(refused, reset, terminated by the server, timed out connecting, a statement cancelled by
``statement_timeout``) or that takes longer than ``call_timeout_seconds`` raises ``StoreUnavailable``,
which the error middleware answers ``503`` with ``Retry-After``. Each store method is one
transaction, so a call that fails this way has stored nothing (or, if the database committed just as
the client gave up, the whole of it: never half). Pools reconnect on their own, so when the database
returns the next call simply works: no restart.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from ..errors import StoreUnavailable
from ..settings import DatabaseSettings

# Alias under the store's vocabulary: the fleet and the PostgreSQL backend take these settings too.
DatabaseTimeouts = DatabaseSettings

# What "the database is unreachable or too slow" looks like from the client side. Constraint
# violations and bugs (other PostgresError kinds) are not in it: those stay errors.
CONNECTIVITY_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable network
    TimeoutError,  # connect timeout, client-side command timeout
    asyncpg.PostgresConnectionError,  # the connection broke mid-call
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, pg_terminate_backend, statement_timeout
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
)

# Not bounded: migrations may legitimately run long, and closing must finish what was accepted.
UNBOUNDED = frozenset({"migrate", "close"})


def is_connectivity_error(exc: BaseException) -> bool:
    if isinstance(exc, CONNECTIVITY_ERRORS):
        return True
    # A transaction left while its connection dies raises InterfaceError ("the underlying connection
    # is closed") with the real cause as its context.
    if isinstance(exc, asyncpg.InterfaceError):
        context = exc.__context__
        return "connection is closed" in str(exc) or (context is not None and is_connectivity_error(context))
    return False


class GuardedStore:
    """A ``Store`` whose calls answer within the timeout or raise ``StoreUnavailable``."""

    def __init__(self, inner: Any, timeouts: DatabaseSettings,
                 on_unavailable: Callable[[str], None] | None = None) -> None:
        self.inner = inner
        self.timeouts = timeouts
        self._on_unavailable = on_unavailable  # told the method name (a metric)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name in UNBOUNDED or not inspect.iscoroutinefunction(attr):
            return attr
        # Built once per method name (store calls are on every request's path); the backend's method
        # itself is looked up at each call, so a replaced method is the one that runs.
        guarded = self._guard(name)
        self.__dict__[name] = guarded
        return guarded

    def _guard(self, name: str) -> Callable[..., Awaitable[Any]]:
        async def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that
                # arrives as the call completes, and a background task cancelled at shutdown would run on.
                async with asyncio.timeout(self.timeouts.call_timeout_seconds):
                    return await getattr(self.inner, name)(*args, **kwargs)
            except Exception as exc:
                if not is_connectivity_error(exc):
                    raise
                if self._on_unavailable is not None:
                    self._on_unavailable(name)
                raise StoreUnavailable(retry_after=self.timeouts.retry_after_seconds,
                                       cause=type(exc).__name__) from exc

        guarded.__name__ = name
        return guarded
