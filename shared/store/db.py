"""The asyncpg pool of one service, confined to that service's schema."""

from __future__ import annotations

import errno
import socket

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from shared.settings import Settings

# What a pool hands out and what a plain connect returns; code takes either.
Connection = asyncpg.Connection | PoolConnectionProxy

# Errors that say "the database is not reachable right now" (or "try this transaction
# again"), not "your query or your input is wrong". Only connection-level OSErrors count:
# a file that cannot be read is an OSError too, and retrying it would block a partition
# for good (see is_connection_error).
TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
)
# asyncpg's client-side errors are InterfaceErrors; a closed connection or pool is an
# outage, but these say the query's arguments or the client's configuration are wrong.
_CLIENT_MISTAKES: tuple[type[BaseException], ...] = (
    asyncpg.exceptions._base.DataError,
    asyncpg.exceptions.ClientConfigurationError,
    asyncpg.exceptions.UnsupportedClientFeatureError,
)
_NETWORK_ERRNOS = frozenset(
    {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN, errno.ENETRESET}
)


def is_connection_error(exc: BaseException) -> bool:
    """True for a failure to reach a server (database, broker): refused, reset, timed out,
    unreachable, unresolvable; never for a local file or a bad argument."""
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror):
        return True
    if isinstance(exc, asyncpg.exceptions.InterfaceError):
        return not isinstance(exc, _CLIENT_MISTAKES)
    if isinstance(exc, OSError):
        # asyncio's connect to several addresses folds their failures into one OSError.
        return exc.errno in _NETWORK_ERRNOS or str(exc).startswith("Multiple exceptions:")
    return isinstance(exc, TRANSIENT_DB_ERRORS)


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
