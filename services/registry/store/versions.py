"""Model versions in Postgres: numbered under the model's row lock, read back as announced."""

from __future__ import annotations

from typing import Any

from shared.errors import NotFound
from shared.events.registry import ModelRegistered
from shared.store.db import Connection


async def lock_model(conn: Connection, name: str) -> int:
    """Lock the model's row (creating it if new) and return its latest version number.

    The row lock is held to the end of the caller's transaction, so concurrent
    registrations of one name take their numbers one after another, and a number is
    used by the very transaction that took it (a rollback returns it): versions are
    1, 2, 3, ... with no gaps and no duplicates.
    """
    await conn.execute("INSERT INTO models (name) VALUES ($1) ON CONFLICT DO NOTHING", name)
    latest = await conn.fetchval(
        "SELECT latest_version FROM models WHERE name = $1 FOR UPDATE", name
    )
    return int(latest)


async def latest_version(conn: Connection, name: str) -> int:
    """The model's highest version number, 0 if it has none; no lock taken.

    Versions only ever grow, so a version that exists now still exists under a later lock.
    """
    latest = await conn.fetchval("SELECT latest_version FROM models WHERE name = $1", name)
    return int(latest or 0)


async def lock_existing_model(conn: Connection, name: str) -> int:
    """Like :func:`lock_model` for a model that must already have versions."""
    latest = await conn.fetchval(
        "SELECT latest_version FROM models WHERE name = $1 AND latest_version > 0 FOR UPDATE",
        name,
    )
    if latest is None:
        raise NotFound(f"model {name!r} is not registered")
    return int(latest)


async def find_by_origin(
    conn: Connection, name: str, source: str, origin: str
) -> ModelRegistered | None:
    payload = await conn.fetchval(
        "SELECT payload FROM versions WHERE model_name = $1 AND source = $2 AND origin = $3",
        name,
        source,
        origin,
    )
    return None if payload is None else ModelRegistered.model_validate_json(payload)


async def insert_version(
    conn: Connection, registered: ModelRegistered, *, origin: str, event_id: str
) -> None:
    """Record a version numbered under :func:`lock_model` in the same transaction."""
    await conn.execute(
        "UPDATE models SET latest_version = $2, updated_at = now() WHERE name = $1",
        registered.model_name,
        registered.version,
    )
    await conn.execute(
        "INSERT INTO versions (model_name, version, source, origin, parent_version,"
        " artifact_sha256, artifact_size, owner, payload, event_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        registered.model_name,
        registered.version,
        registered.source,
        origin,
        registered.parent_version,
        registered.artifact.sha256,
        registered.artifact.size,
        registered.metadata.owner,
        registered.model_dump_json(),
        event_id,
    )


_VERSION_VIEW = """
SELECT v.payload, v.registered_at, COALESCE(s.status, 'registered') AS status,
       ARRAY(SELECT a.alias FROM aliases a
             WHERE a.model_name = v.model_name AND a.version = v.version
             ORDER BY a.alias) AS aliases
FROM versions v
LEFT JOIN lifecycle_status s ON s.model_name = v.model_name AND s.version = v.version
"""


def _view(row: Any) -> dict[str, Any]:
    registered = ModelRegistered.model_validate_json(row["payload"])
    return {
        **registered.model_dump(mode="json"),
        "status": row["status"],
        "registered_at": row["registered_at"],
        "aliases": list(row["aliases"]),
    }


async def get_version(conn: Connection, name: str, version: int) -> dict[str, Any]:
    """One version as announced, with its current lifecycle status and aliases."""
    row = await conn.fetchrow(
        _VERSION_VIEW + " WHERE v.model_name = $1 AND v.version = $2", name, version
    )
    if row is None:
        raise NotFound(f"model {name!r} has no version {version}")
    return _view(row)


async def get_registered(conn: Connection, name: str, version: int) -> ModelRegistered:
    payload = await conn.fetchval(
        "SELECT payload FROM versions WHERE model_name = $1 AND version = $2", name, version
    )
    if payload is None:
        raise NotFound(f"model {name!r} has no version {version}")
    return ModelRegistered.model_validate_json(payload)


async def list_versions(conn: Connection, name: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(_VERSION_VIEW + " WHERE v.model_name = $1 ORDER BY v.version", name)
    if not rows:
        raise NotFound(f"model {name!r} is not registered")
    return [_view(row) for row in rows]
