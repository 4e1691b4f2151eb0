"""The test PostgreSQL (127.0.0.1:5432/test): reachability, and a fresh schema per test, dropped afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator

import pytest

PG_URL = os.environ.get("MODERATION_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def postgres_available() -> bool:
    import asyncpg

    try:
        conn = await asyncio.wait_for(asyncpg.connect(PG_URL), timeout=3)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


def skip_without_postgres() -> None:
    """Skip the test (fail it in CI, where MODERATION_REQUIRE_POSTGRES=1) when PostgreSQL is unreachable."""
    if os.environ.get("MODERATION_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required but not reachable at {PG_URL}")
    pytest.skip(f"PostgreSQL not reachable at {PG_URL}")


def new_schema_name() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


async def drop_schema(schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def pg_schema() -> AsyncIterator[str]:
    """A database URL with a fresh schema of its own (dropped afterwards); skips without PostgreSQL."""
    if not await postgres_available():
        skip_without_postgres()
    schema = new_schema_name()
    try:
        yield f"{PG_URL}?schema={schema}"
    finally:
        await drop_schema(schema)
