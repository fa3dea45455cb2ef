"""The temporary table a replay stages the topics in, so memory does not grow with them.

A row per distinct event id: its time, its encoded value, whether governance itself
produced it (``own``), what caused it, and whether that cause is another staged event from
outside governance (``caused``: a decision that follows its cause rather than its time).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from shared.store.db import Connection

# (time, event_id, value, own, causation)
StagedRow = tuple[datetime, str, bytes, bool, str | None]

_CREATE = """
CREATE TEMP TABLE replay_events (
    time timestamptz NOT NULL, event_id text PRIMARY KEY, value bytea NOT NULL,
    own boolean NOT NULL, causation text, caused boolean NOT NULL DEFAULT false
) ON COMMIT PRESERVE ROWS
"""
_ROOTS = """
SELECT time, event_id, value FROM replay_events
WHERE NOT caused AND ($1::timestamptz IS NULL OR (time, event_id) > ($1, $2))
ORDER BY time, event_id LIMIT $3
"""


async def create(conn: Connection) -> None:
    await conn.execute(_CREATE)


async def drop(conn: Connection) -> None:
    await conn.execute("DROP TABLE IF EXISTS replay_events")


async def add(conn: Connection, rows: Iterable[StagedRow]) -> None:
    """Stage events; an event id staged before (republished by a relay) counts once."""
    await conn.executemany(
        "INSERT INTO replay_events (time, event_id, value, own, causation)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        list(rows),
    )


async def mark_caused(conn: Connection) -> None:
    """Flag governance's own events whose cause is a staged event from another service."""
    await conn.execute(
        "UPDATE replay_events r SET caused = true WHERE r.own AND EXISTS"
        " (SELECT 1 FROM replay_events c WHERE c.event_id = r.causation AND NOT c.own)"
    )


async def roots(conn: Connection, after: tuple[Any, Any], limit: int) -> list[Any]:
    """The next events caused by no staged event, in (time, id) order after ``after``."""
    return list(await conn.fetch(_ROOTS, *after, limit))


async def caused_by(conn: Connection, causes: list[str]) -> dict[str, list[bytes]]:
    """The values of the events each of ``causes`` caused, in time order."""
    children: dict[str, list[bytes]] = defaultdict(list)
    for child in await conn.fetch(
        "SELECT causation, value FROM replay_events WHERE caused"
        " AND causation = ANY($1::text[]) ORDER BY time, event_id",
        causes,
    ):
        children[child["causation"]].append(child["value"])
    return children
