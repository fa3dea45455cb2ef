"""Window rows: the one open data window of a stream, and closed windows of both kinds.

The open data window's row holds how many predictions it has counted; the counts
themselves live in memory (:mod:`services.monitor.windows.data_windows`), and this number
is how a step knows whether its cached counts are the database's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from services.monitor.analysis.monitored import Stream
from shared.store.db import Connection


async def lock_open(conn: Connection, stream: Stream) -> Any:
    """The open data window of ``stream`` (id, opened_at, count), locked; None if none."""
    return await conn.fetchrow(
        "SELECT id, opened_at, count FROM windows WHERE model_name = $1 AND version = $2"
        " AND arm = $3 AND kind = 'data' AND closed_at IS NULL FOR UPDATE",
        stream.model_name,
        stream.version,
        stream.arm,
    )


async def open_data(conn: Connection, stream: Stream, opened_at: datetime) -> int:
    row = await conn.fetchrow(
        "INSERT INTO windows (model_name, version, arm, kind, opened_at)"
        " VALUES ($1, $2, $3, 'data', $4) RETURNING id",
        stream.model_name,
        stream.version,
        stream.arm,
        opened_at,
    )
    assert row is not None
    return int(row["id"])


async def save_progress(
    conn: Connection, window_id: int, count: int, start: datetime | None, end: datetime | None
) -> None:
    await conn.execute(
        "UPDATE windows SET count = $2, start_time = $3, end_time = $4 WHERE id = $1",
        window_id,
        count,
        start,
        end,
    )


async def close_data(
    conn: Connection,
    window_id: int,
    count: int,
    start: datetime | None,
    end: datetime | None,
    metrics: dict[str, float],
    drift: list[dict[str, Any]] | None,
    drifted: bool | None,
    top_features: list[str] | None,
) -> None:
    """Close a data window with its metrics and, when it was tested, its drift entries."""
    await conn.execute(
        "UPDATE windows SET closed_at = now(), count = $2, start_time = $3, end_time = $4,"
        " metrics = $5::jsonb, drift = $6::jsonb, drifted = $7, top_features = $8"
        " WHERE id = $1",
        window_id,
        count,
        start,
        end,
        orjson.dumps(metrics).decode(),
        orjson.dumps(drift).decode() if drift is not None else None,
        drifted,
        top_features,
    )


async def record_performance(
    conn: Connection,
    stream: Stream,
    prediction_ids: list[int],
    start: datetime,
    end: datetime,
    metrics: dict[str, float],
) -> int:
    """A closed performance window; it marks the predictions it scored, which are scored
    by no other."""
    row = await conn.fetchrow(
        "INSERT INTO windows (model_name, version, arm, kind, closed_at, start_time, end_time,"
        " count, metrics) VALUES ($1, $2, $3, 'performance', now(), $4, $5, $6, $7::jsonb)"
        " RETURNING id",
        stream.model_name,
        stream.version,
        stream.arm,
        start,
        end,
        len(prediction_ids),
        orjson.dumps(metrics).decode(),
    )
    assert row is not None
    await conn.execute(
        "UPDATE predictions SET performance_window_id = $1 WHERE id = ANY($2::bigint[])",
        row["id"],
        prediction_ids,
    )
    return int(row["id"])
