"""What the monitor's API reads: windows, metric series, alerts, label counts, versions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from services.monitor.store import ingest as ingest_store
from services.monitor.store import labels
from shared.bus.stream import stream_group
from shared.errors import NotFound
from shared.store.db import Connection


def _window(row: Any) -> dict[str, Any]:
    return {
        "window_id": row["id"],
        "version": row["version"],
        "arm": row["arm"],
        "kind": row["kind"],
        "start": row["start_time"].isoformat() if row["start_time"] else None,
        "end": row["end_time"].isoformat() if row["end_time"] else None,
        "closed_at": row["closed_at"].isoformat(),
        "count": row["count"],
        "metrics": orjson.loads(row["metrics"]),
        "drifted": row["drifted"],
        "top_features": row["top_features"],
        "drift": orjson.loads(row["drift"]) if row["drift"] else None,
    }


async def latest_windows(
    conn: Connection, model_name: str, version: int | None, arm: str | None
) -> list[dict[str, Any]]:
    """The latest closed window of each version, arm and kind of a model."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (version, arm, kind) * FROM windows"
        " WHERE model_name = $1 AND closed_at IS NOT NULL"
        " AND ($2::int IS NULL OR version = $2) AND ($3::text IS NULL OR arm = $3)"
        " ORDER BY version, arm, kind, closed_at DESC, id DESC",
        model_name,
        version,
        arm,
    )
    return [_window(r) for r in rows]


async def window_history(
    conn: Connection, model_name: str, kind: str, version: int | None, arm: str | None, limit: int
) -> list[dict[str, Any]]:
    """The newest ``limit`` closed windows of one kind, oldest first, with every metric."""
    rows = await conn.fetch(
        "SELECT * FROM (SELECT * FROM windows"
        " WHERE model_name = $1 AND kind = $2 AND closed_at IS NOT NULL"
        " AND ($3::int IS NULL OR version = $3) AND ($4::text IS NULL OR arm = $4)"
        " ORDER BY closed_at DESC, id DESC LIMIT $5) recent ORDER BY closed_at, id",
        model_name,
        kind,
        version,
        arm,
        limit,
    )
    return [_window(r) for r in rows]


async def series(
    conn: Connection, model_name: str, metric: str, version: int | None, arm: str | None, limit: int
) -> list[dict[str, Any]]:
    """One metric over closed windows, oldest first (the newest ``limit`` points)."""
    rows = await conn.fetch(
        "SELECT * FROM (SELECT id, version, arm, kind, end_time, closed_at,"
        " (metrics ->> $2)::float8 AS value FROM windows"
        " WHERE model_name = $1 AND closed_at IS NOT NULL AND metrics ? $2"
        " AND ($3::int IS NULL OR version = $3) AND ($4::text IS NULL OR arm = $4)"
        " ORDER BY closed_at DESC, id DESC LIMIT $5) recent ORDER BY closed_at, id",
        model_name,
        metric,
        version,
        arm,
        limit,
    )
    return [
        {
            "window_id": r["id"],
            "version": r["version"],
            "arm": r["arm"],
            "kind": r["kind"],
            "end": r["end_time"].isoformat() if r["end_time"] else None,
            "closed_at": r["closed_at"].isoformat(),
            "value": r["value"],
        }
        for r in rows
    ]


async def alerts(
    conn: Connection, model_name: str | None, include_resolved: bool
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT * FROM alerts WHERE ($1::text IS NULL OR model_name = $1)"
        " AND ($2 OR resolved_at IS NULL) ORDER BY opened_at DESC LIMIT 500",
        model_name,
        include_resolved,
    )
    return [
        {
            "alert_id": r["alert_id"],
            "model_name": r["model_name"],
            "version": r["version"],
            "arm": r["arm"],
            "kind": r["kind"],
            "opened_at": r["opened_at"].isoformat(),
            "resolved_at": r["resolved_at"].isoformat() if r["resolved_at"] else None,
            "summary": orjson.loads(r["summary"]),
            "labelled_data": orjson.loads(r["labelled_data"]) if r["labelled_data"] else None,
        }
        for r in rows
    ]


async def label_counts(conn: Connection, model_name: str) -> dict[str, int]:
    return await labels.counts(conn, model_name)


async def model(conn: Connection, model_name: str) -> dict[str, Any]:
    rows = await conn.fetch(
        "SELECT version, task, feature_names, target_name, thresholds, problems,"
        " profile IS NOT NULL AS has_reference, sample IS NOT NULL AS has_sample,"
        " registered_at FROM versions WHERE model_name = $1 ORDER BY version",
        model_name,
    )
    if not rows:
        raise NotFound(f"the monitor knows no version of model {model_name!r}")
    deployed = await conn.fetch(
        "SELECT version, arm, strategy, weight, deployed_at FROM deployments"
        " WHERE model_name = $1 ORDER BY deployed_at",
        model_name,
    )
    return {
        "model_name": model_name,
        "versions": [
            {
                **dict(r),
                "thresholds": orjson.loads(r["thresholds"]),
                "registered_at": r["registered_at"].isoformat(),
            }
            for r in rows
        ],
        "deployments": [{**dict(d), "deployed_at": d["deployed_at"].isoformat()} for d in deployed],
    }


async def ingest(conn: Connection, model_name: str) -> dict[str, Any]:
    topic = "predictions.logged"
    row = await ingest_store.progress(conn, stream_group("monitor", topic), topic, model_name)
    newest = row["newest_event"] if row is not None else None
    return {
        "model_name": model_name,
        "partition": row["topic_partition"] if row is not None else None,
        "lag": int(row["lag"]) if row is not None and row["lag"] is not None else None,
        "newest_prediction": newest.isoformat() if newest is not None else None,
        "freshness_s": (
            max(0.0, (datetime.now(UTC) - newest).total_seconds()) if newest is not None else None
        ),
        "folded": int(row["folded"]) if row is not None else 0,
        "updated_at": row["updated_at"].isoformat() if row is not None else None,
    }
