"""Inbox: which events a consumer has already applied.

:func:`claim` inserts the ids in the caller's transaction and returns the ones that were
new. Because the row and the effect commit together, an event is applied exactly once
however often it is delivered; a concurrent duplicate blocks on the primary key until the
first transaction ends, then finds the row and is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.store.db import Connection


async def claim(conn: Connection, consumer: str, ids: Iterable[str]) -> set[str]:
    rows = await conn.fetch(
        "INSERT INTO inbox (consumer, event_id) SELECT $1, unnest($2::text[])"
        " ON CONFLICT DO NOTHING RETURNING event_id",
        consumer,
        list(ids),
    )
    return {r["event_id"] for r in rows}
