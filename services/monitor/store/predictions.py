"""Stored predictions: recorded once per request, counted by a data window, scored by a
performance window once labelled, exported as retraining data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.monitor.analysis.monitored import Stream
from shared.store.db import Connection

# A pending label for this request is matched now; the prediction is labelled at insert
# if its label is (or just became) matched. A label that waited past the horizon is not.
_INSERT = """
WITH label AS (
    UPDATE labels SET status = 'matched', resolved_at = now()
    WHERE model_name = $1 AND request_id = $4 AND status = 'pending'
      AND received_at >= now() - make_interval(secs => $13)
    RETURNING 1)
INSERT INTO predictions (model_name, version, arm, request_id, event_time, n_rows, n_cols,
                         features, outputs, latency_ms, ok, schema_error, labelled_at)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12,
       CASE WHEN $11 AND (EXISTS (SELECT 1 FROM label) OR EXISTS (
           SELECT 1 FROM labels WHERE model_name = $1 AND request_id = $4
                                  AND status = 'matched')) THEN now() END
ON CONFLICT (model_name, version, arm, request_id) DO NOTHING
"""
# What a data window counts of a prediction (analysis.open_window.absorb).
_COUNTED = "id, event_time, n_rows, n_cols, features, outputs, latency_ms, ok, schema_error"


async def record(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Store predictions, one ``executemany``; a request id already stored for the same
    version and arm is skipped. Each row: model, version, arm, request id, event time,
    rows, columns, features (float64 bytes or None), outputs (JSON text), latency, ok,
    schema error, and the label horizon in seconds."""
    await conn.executemany(_INSERT, rows)


async def uncounted(conn: Connection, stream: Stream, limit: int) -> list[Any]:
    """The oldest predictions of ``stream`` no data window has counted yet."""
    return list(
        await conn.fetch(
            f"SELECT {_COUNTED} FROM predictions WHERE model_name = $1 AND version = $2"
            " AND arm = $3 AND window_id IS NULL ORDER BY id LIMIT $4",
            stream.model_name,
            stream.version,
            stream.arm,
            limit,
        )
    )


async def counted_by(conn: Connection, window_id: int) -> list[Any]:
    return list(
        await conn.fetch(f"SELECT {_COUNTED} FROM predictions WHERE window_id = $1", window_id)
    )


async def mark_counted(conn: Connection, window_id: int, ids: list[int]) -> None:
    await conn.execute(
        "UPDATE predictions SET window_id = $1 WHERE id = ANY($2::bigint[])", window_id, ids
    )


async def labelled_unscored(conn: Connection, stream: Stream, limit: int) -> list[Any]:
    """Labelled predictions of ``stream`` no performance window has scored, in the order
    their labels joined."""
    return list(
        await conn.fetch(
            "SELECT p.id, p.event_time, p.n_rows, p.outputs, p.labelled_at, l.value"
            " FROM predictions p JOIN labels l ON l.model_name = p.model_name"
            " AND l.request_id = p.request_id"
            " WHERE p.model_name = $1 AND p.version = $2 AND p.arm = $3 AND p.ok"
            " AND p.labelled_at IS NOT NULL AND p.performance_window_id IS NULL"
            " ORDER BY p.labelled_at, p.id LIMIT $4",
            stream.model_name,
            stream.version,
            stream.arm,
            limit,
        )
    )


async def recent_labelled(conn: Connection, model_name: str, version: int, limit: int) -> list[Any]:
    """The newest ``limit`` labelled predictions of a version, one per request id."""
    return list(
        await conn.fetch(
            "SELECT features, n_rows, n_cols, value FROM ("
            " SELECT DISTINCT ON (p.request_id) p.features, p.n_rows, p.n_cols, l.value,"
            " p.labelled_at FROM predictions p JOIN labels l ON l.model_name = p.model_name"
            " AND l.request_id = p.request_id"
            " WHERE p.model_name = $1 AND p.version = $2 AND p.ok AND p.labelled_at IS NOT NULL"
            " AND p.features IS NOT NULL ORDER BY p.request_id, p.labelled_at DESC) recent"
            " ORDER BY labelled_at DESC LIMIT $3",
            model_name,
            version,
            limit,
        )
    )
