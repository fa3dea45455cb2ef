"""Reading the job table: one job, the newest jobs, and what retraining needs to know."""

from __future__ import annotations

from typing import Any

import orjson

from shared.events.training import TrainingRequested
from shared.store.db import Connection

_COLUMNS = (
    "id, request_id, model_name, principal, reason, status, attempts, progress, progress_fraction,"
    " failure_reason, created_at, started_at, heartbeat_at, finished_at"
)


async def get(conn: Connection, job_id: str) -> dict[str, Any] | None:
    """One job as the API shows it: its state, its request and its outcome."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS}, request, outcome FROM jobs WHERE id = $1", job_id
    )
    return _view(row) if row is not None else None


async def of_request(conn: Connection, request_id: str) -> dict[str, Any] | None:
    """The job that answers ``request_id``, if there is one (there is at most one)."""
    job_id = await conn.fetchval("SELECT id FROM jobs WHERE request_id = $1", request_id)
    return await get(conn, job_id) if job_id is not None else None


async def find(
    conn: Connection, *, model: str | None, status: str | None, limit: int
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM jobs WHERE ($1::text IS NULL OR model_name = $1)"
        " AND ($2::text IS NULL OR status = $2) ORDER BY created_at DESC LIMIT $3",
        model,
        status,
        limit,
    )
    return [_view(r) for r in rows]


async def latest_request(conn: Connection, model: str) -> TrainingRequested | None:
    raw = await conn.fetchval(
        "SELECT request FROM jobs WHERE model_name = $1 ORDER BY created_at DESC LIMIT 1", model
    )
    return TrainingRequested.model_validate_json(raw) if raw is not None else None


async def pending_retraining(conn: Connection, model: str, version: int) -> str | None:
    """A retraining job that makes a new one for an alert on ``version`` pointless: one of
    ``model`` still unfinished, or one that already succeeded from ``version`` (its child
    is on its way through governance and a canary; alerts on the parent keep coming until
    it is promoted). A failed one does not count: the next alert may try again."""
    return await conn.fetchval(  # type: ignore[no-any-return]
        "SELECT id FROM jobs WHERE model_name = $1 AND reason IN ('drift', 'performance')"
        " AND (status IN ('queued', 'running')"
        "      OR (status = 'succeeded' AND (request->>'parent_version')::int = $2))"
        " LIMIT 1",
        model,
        version,
    )


def _view(row: Any) -> dict[str, Any]:
    """A row ready for JSON: ``id`` named ``job_id``, JSON columns decoded, times ISO 8601."""
    view = {("job_id" if k == "id" else k): v for k, v in dict(row).items()}
    for key in ("request", "outcome"):
        if isinstance(view.get(key), str):
            view[key] = orjson.loads(view[key])
    for key in ("created_at", "started_at", "heartbeat_at", "finished_at"):
        if view.get(key) is not None:
            view[key] = view[key].isoformat()
    return view
