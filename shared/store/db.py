"""The asyncpg pool of one service, confined to that service's schema."""

from __future__ import annotations

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from shared.settings import Settings

# What a pool hands out and what a plain connect returns; code takes either.
Connection = asyncpg.Connection | PoolConnectionProxy

# Errors that say "the database is not reachable right now", not "your query is wrong".
TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.InterfaceError,
)


async def create_pool(settings: Settings, schema: str) -> asyncpg.Pool:
    """A pool whose connections see ``schema`` first, so service SQL stays unqualified.

    The schema itself is created by :func:`shared.store.migrations.migrate`.
    """
    pool = await asyncpg.create_pool(
        settings.database_url,
        min_size=settings.database_pool_min,
        max_size=settings.database_pool_max,
        server_settings={"search_path": f"{schema},public", "application_name": schema},
        command_timeout=60,
    )
    assert pool is not None
    return pool
