"""Reading and writing one model's route row under a row lock.

Every transition of a route (activation, promotion, rollback, kill switch) locks the row
with ``FOR UPDATE`` first, then checks that the transition still applies. Replicas race to
apply the same decision; the lock makes the first one win and the others find the work done,
so each transition (and its event) happens once.
"""

from __future__ import annotations

import dataclasses

from services.deployer.store.desired_state import (
    RouteRecord,
    VersionRecord,
    route_record,
    version_record,
)
from shared.store.db import Connection


async def lock_route(
    conn: Connection, model_name: str, *, create: bool = False
) -> RouteRecord | None:
    if create:
        await conn.execute(
            "INSERT INTO routes (model_name) VALUES ($1) ON CONFLICT DO NOTHING", model_name
        )
    row = await conn.fetchrow("SELECT * FROM routes WHERE model_name = $1 FOR UPDATE", model_name)
    return route_record(row) if row is not None else None


async def save_route(conn: Connection, route: RouteRecord) -> RouteRecord:
    saved = dataclasses.replace(route, revision=route.revision + 1)
    await conn.execute(
        "UPDATE routes SET stable_version = $2, previous_version = $3, candidate_version = $4,"
        " candidate_mode = $5, canary_weight = $6, sticky_header = $7, last_seq = $8,"
        " revision = $9, updated_at = now() WHERE model_name = $1",
        saved.model_name,
        saved.stable_version,
        saved.previous_version,
        saved.candidate_version,
        saved.candidate_mode,
        saved.canary_weight,
        saved.sticky_header,
        saved.last_seq,
        saved.revision,
    )
    return saved


def without_candidate(route: RouteRecord) -> RouteRecord:
    return dataclasses.replace(
        route, candidate_version=None, candidate_mode=None, canary_weight=0.0, sticky_header=None
    )


async def get_version(conn: Connection, model_name: str, version: int) -> VersionRecord | None:
    row = await conn.fetchrow(
        "SELECT * FROM versions WHERE model_name = $1 AND version = $2", model_name, version
    )
    return version_record(row) if row is not None else None


async def is_active(conn: Connection, model_name: str, version: int | None) -> bool:
    if version is None:
        return False
    record = await get_version(conn, model_name, version)
    return record is not None and record.status == "active"


async def set_status(
    conn: Connection,
    model_name: str,
    version: int | None,
    status: str,
    reason: str | None = None,
) -> None:
    if version is None:
        return
    await conn.execute(
        "UPDATE versions SET status = $3, reason = coalesce($4, reason), updated_at = now()"
        " WHERE model_name = $1 AND version = $2",
        model_name,
        version,
        status,
        reason,
    )


async def latest_superseded(
    conn: Connection, model_name: str, *, excluding: int | None
) -> int | None:
    """The most recently approved version that was replaced and may still be restored."""
    version: int | None = await conn.fetchval(
        "SELECT version FROM versions WHERE model_name = $1 AND status = 'superseded'"
        " AND version IS DISTINCT FROM $2 ORDER BY approval_seq DESC LIMIT 1",
        model_name,
        excluding,
    )
    return version
