"""Which streams have work, and the lock that lets one worker at a time advance one.

The lock is transaction-level and taken with ``try``: replicas split the streams between
them instead of waiting on each other, and a stream is never advanced twice at once.
"""

from __future__ import annotations

import asyncpg

from services.monitor.analysis.monitored import Stream
from shared.store.db import Connection

_WITH_WORK = """
SELECT model_name, version, arm FROM predictions WHERE window_id IS NULL
UNION SELECT model_name, version, arm FROM windows WHERE kind = 'data' AND closed_at IS NULL
UNION SELECT model_name, version, arm FROM predictions
      WHERE labelled_at IS NOT NULL AND performance_window_id IS NULL
"""


async def with_work(pool: asyncpg.Pool) -> list[Stream]:
    """Streams with uncounted predictions, an open data window, or unscored labels."""
    rows = await pool.fetch(_WITH_WORK)
    return [Stream(r["model_name"], r["version"], r["arm"]) for r in rows]


async def try_lock(conn: Connection, stream: Stream) -> bool:
    """Lock ``stream`` until the transaction ends; False if another holds it."""
    return bool(
        await conn.fetchval(
            "SELECT pg_try_advisory_xact_lock(hashtext('monitor-stream'),"
            " hashtext($1 || '/' || $2::int::text || '/' || $3))",
            stream.model_name,
            stream.version,
            stream.arm,
        )
    )


async def lock(conn: Connection, stream: Stream) -> None:
    """Lock ``stream`` until the transaction ends, waiting for a worker step that holds it
    (the owner of the stream's partition folds its predictions; it must not skip them)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext('monitor-stream'),"
        " hashtext($1 || '/' || $2::int::text || '/' || $3))",
        stream.model_name,
        stream.version,
        stream.arm,
    )
