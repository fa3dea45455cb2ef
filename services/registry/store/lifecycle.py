"""The lifecycle read model: each version's status and history, and which version served when.

Every lifecycle event is kept (its id is the key, so a redelivered copy changes nothing).
Statuses and the serving timeline are then recomputed for the event's model by folding
all its events in event-time order (:func:`lifecycle_rules.project`), so they never
depend on arrival order. A per-model advisory lock serialises that recomputation across
transactions and replicas: the last one to take it sees every event committed before.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from services.registry.domain.lifecycle_rules import Fact, project, status_after
from shared.events.common import Payload
from shared.events.envelope import Event
from shared.store.db import Connection


async def apply(conn: Connection, topic: str, event: Event[Payload]) -> bool:
    """Record one lifecycle event and refresh its model's projection; False if a duplicate."""
    data = event.data.model_dump(mode="json")
    name = data["model_name"]
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"lifecycle:{name}")
    status = status_after(topic, data)
    recorded = await conn.fetchval(
        "INSERT INTO lifecycle_events (event_id, model_name, version, topic, status, time,"
        " correlation_id, causation_id, source, data)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        " ON CONFLICT (event_id) DO NOTHING RETURNING true",
        event.id, name, data["version"], topic, status, event.time, event.correlationid,
        event.causationid, event.source, orjson.dumps(data).decode(),
    )  # fmt: skip
    if recorded and status is not None:  # events without a status change neither
        await _refresh(conn, name)
    return bool(recorded)


async def _refresh(conn: Connection, name: str) -> None:
    rows = await conn.fetch(
        "SELECT topic, time, event_id, data FROM lifecycle_events"
        " WHERE model_name = $1 AND status IS NOT NULL ORDER BY time, recorded_at, event_id",
        name,
    )
    projection = project(
        Fact(r["topic"], r["time"], r["event_id"], orjson.loads(r["data"])) for r in rows
    )
    await conn.executemany(
        "INSERT INTO lifecycle_status (model_name, version, status, since, event_id)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (model_name, version) DO UPDATE"
        " SET status = EXCLUDED.status, since = EXCLUDED.since, event_id = EXCLUDED.event_id",
        [(name, v, m.value, m.since, m.event_id) for v, m in projection.statuses.items()],
    )
    await conn.execute("DELETE FROM serving_history WHERE model_name = $1", name)
    await conn.executemany(
        "INSERT INTO serving_history (model_name, version, since, event_id)"
        " VALUES ($1, $2, $3, $4)",
        [(name, m.value, m.since, m.event_id) for m in projection.serving],
    )


async def serving_at(conn: Connection, name: str, at: datetime) -> dict[str, Any]:
    """The stable version at ``at`` (None if none served then) and since when."""
    row = await conn.fetchrow(
        "SELECT version, since, event_id FROM serving_history"
        " WHERE model_name = $1 AND since <= $2 ORDER BY since DESC, id DESC LIMIT 1",
        name,
        at,
    )
    return {
        "model_name": name,
        "at": at,
        "version": row["version"] if row else None,
        "since": row["since"] if row else None,
        "event_id": row["event_id"] if row else None,
    }


async def history(conn: Connection, name: str, version: int) -> dict[str, Any]:
    """A version's current status and every lifecycle event about it, oldest first."""
    current = await conn.fetchrow(
        "SELECT status, since FROM lifecycle_status WHERE model_name = $1 AND version = $2",
        name,
        version,
    )
    rows = await conn.fetch(
        "SELECT event_id, topic, status, time, correlation_id, causation_id, source, data"
        " FROM lifecycle_events WHERE model_name = $1 AND version = $2"
        " ORDER BY time, recorded_at, event_id",
        name,
        version,
    )
    return {
        "model_name": name,
        "version": version,
        "status": current["status"] if current else "registered",
        "since": current["since"] if current else None,
        "events": [{**dict(row), "data": orjson.loads(row["data"])} for row in rows],
    }
