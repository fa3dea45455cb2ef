"""The labelled evidence of rollouts: performance windows per arm, and candidates held for it
(``rollout_quality``, ``rollout_holds``; see :mod:`services.deployer.serving.quality_gate`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from services.deployer.serving.quality_gate import ArmQuality, Measured
from shared.store.db import Connection


async def record_window(
    conn: Connection,
    event_id: str,
    model_name: str,
    version: int,
    window: Measured,
    window_start: datetime,
) -> bool:
    """Remember one performance window; False if this event was already recorded."""
    status = await conn.execute(
        "INSERT INTO rollout_quality (event_id, model_name, version, metric, value, labelled,"
        " window_start) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        event_id,
        model_name,
        version,
        window.metric,
        window.value,
        window.labelled,
        window_start,
    )
    return bool(status == "INSERT 0 1")


async def metric_of(conn: Connection, model_name: str, version: int, since: datetime) -> str:
    """The metric the candidate's windows since its rollout began were scored on ('' if none)."""
    found = await conn.fetchval(
        "SELECT metric FROM rollout_quality WHERE model_name = $1 AND version = $2"
        " AND window_start >= $3 ORDER BY window_start LIMIT 1",
        model_name,
        version,
        since,
    )
    return str(found) if found is not None else ""


async def arm_quality(
    conn: Connection, model_name: str, version: int, metric: str, since: datetime
) -> ArmQuality:
    """The labelled-weighted mean of a version's windows on ``metric`` since ``since``."""
    row = await conn.fetchrow(
        "SELECT COALESCE(sum(labelled), 0) AS labelled,"
        " sum(value * labelled) / NULLIF(sum(labelled), 0) AS value"
        " FROM rollout_quality WHERE model_name = $1 AND version = $2 AND metric = $3"
        " AND window_start >= $4",
        model_name,
        version,
        metric,
        since,
    )
    assert row is not None
    return ArmQuality(int(row["labelled"]), row["value"])


async def hold(
    conn: Connection, model_name: str, version: int, reason: str, evidence: dict[str, float]
) -> None:
    await conn.execute(
        "INSERT INTO rollout_holds (model_name, version, reason, evidence)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        model_name,
        version,
        reason,
        orjson.dumps(evidence).decode(),
    )


async def held(
    conn: Connection, model_name: str, version: int
) -> tuple[str, dict[str, Any]] | None:
    """What the request evidence said about a held candidate, or None if it is not held."""
    row = await conn.fetchrow(
        "SELECT reason, evidence FROM rollout_holds WHERE model_name = $1 AND version = $2",
        model_name,
        version,
    )
    if row is None:
        return None
    evidence = row["evidence"]
    return str(row["reason"]), orjson.loads(evidence) if isinstance(evidence, str) else evidence
