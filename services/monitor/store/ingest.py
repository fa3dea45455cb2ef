"""Predictions from the stream: copied in bulk, then inserted once per request, window by window.

A partition's batch is copied (``COPY``) into a temporary staging table in the batch's
transaction, ordered so that each stream's rows are one ``seq`` range. Each window's share
of a range is then inserted with one statement that skips request ids already stored for
the same version and arm (a prediction logged twice counts once), matches pending labels
for the new rows and labels them, and returns which request ids were new: only those are
folded into the window. The staging rows vanish at commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from shared.store.db import Connection

_COLUMNS = (
    "seq",
    "model_name",
    "version",
    "arm",
    "request_id",
    "event_time",
    "n_rows",
    "n_cols",
    "features",
    "outputs",
    "latency_ms",
    "ok",
    "schema_error",
)
_STAGING = """
CREATE TEMPORARY TABLE IF NOT EXISTS prediction_staging (
    seq integer NOT NULL, model_name text NOT NULL, version integer NOT NULL,
    arm text NOT NULL, request_id text NOT NULL, event_time timestamptz NOT NULL,
    n_rows integer NOT NULL, n_cols integer NOT NULL, features bytea, outputs text,
    latency_ms float8 NOT NULL, ok boolean NOT NULL, schema_error text
) ON COMMIT DELETE ROWS
"""
_INSERT = """
WITH chunk AS (SELECT * FROM prediction_staging WHERE seq >= $1 AND seq < $2),
label AS (
    UPDATE labels l SET status = 'matched', resolved_at = now()
    FROM chunk c
    WHERE l.model_name = c.model_name AND l.request_id = c.request_id
      AND l.status = 'pending' AND l.received_at >= now() - make_interval(secs => $4)
    RETURNING l.request_id)
INSERT INTO predictions (model_name, version, arm, request_id, event_time, n_rows, n_cols,
                         features, outputs, latency_ms, ok, schema_error, window_id,
                         labelled_at)
SELECT c.model_name, c.version, c.arm, c.request_id, c.event_time, c.n_rows, c.n_cols,
       c.features, c.outputs::jsonb, c.latency_ms, c.ok, c.schema_error, $3,
       CASE WHEN c.ok AND (c.request_id IN (SELECT request_id FROM label) OR EXISTS (
           SELECT 1 FROM labels l WHERE l.model_name = c.model_name
              AND l.request_id = c.request_id AND l.status = 'matched')) THEN now() END
FROM chunk c ORDER BY c.seq
ON CONFLICT (model_name, version, arm, request_id) DO NOTHING
RETURNING request_id
"""


async def stage(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Copy rows (the columns of :data:`_COLUMNS`, ``seq`` first) into this transaction's
    staging table."""
    await conn.execute(_STAGING)
    await conn.execute("DELETE FROM prediction_staging")  # an earlier savepoint's rows
    await conn.copy_records_to_table("prediction_staging", records=rows, columns=_COLUMNS)


async def insert(
    conn: Connection, first: int, end: int, window_id: int | None, horizon_s: float
) -> set[str]:
    """Insert staged rows ``first <= seq < end`` counted by ``window_id`` (None: no window
    yet); returns the request ids that were new."""
    rows = await conn.fetch(_INSERT, first, end, window_id, horizon_s)
    return {r["request_id"] for r in rows}


async def record_progress(
    conn: Connection, partition: int, progress: dict[str, tuple[datetime | None, int]]
) -> None:
    """Per model: the newest prediction time folded and how many were folded."""
    names = list(progress)
    await conn.execute(
        "INSERT INTO ingest_progress (model_name, topic_partition, newest_event, folded)"
        " SELECT m, $1, t, n FROM unnest($2::text[], $3::timestamptz[], $4::bigint[])"
        " AS u(m, t, n)"
        " ON CONFLICT (model_name) DO UPDATE SET topic_partition = EXCLUDED.topic_partition,"
        " newest_event = greatest(ingest_progress.newest_event, EXCLUDED.newest_event),"
        " folded = ingest_progress.folded + EXCLUDED.folded, updated_at = now()",
        partition,
        names,
        [progress[n][0] for n in names],
        [progress[n][1] for n in names],
    )


async def progress(conn: Connection, consumer: str, topic: str, model_name: str) -> Any:
    """A model's ingest progress with the lag of its partition (None: nothing folded yet)."""
    return await conn.fetchrow(
        "SELECT p.topic_partition, p.newest_event, p.folded, p.updated_at,"
        " greatest(o.high_watermark - o.next_offset, 0) AS lag"
        " FROM ingest_progress p LEFT JOIN stream_offsets o ON o.consumer = $1"
        " AND o.topic = $2 AND o.partition = p.topic_partition WHERE p.model_name = $3",
        consumer,
        topic,
        model_name,
    )
