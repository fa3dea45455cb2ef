"""The monitor's HTTP API (viewer role): per model its versions, latest windows, metric
series, measured performance beside its estimates, and label counts; and the alerts."""

from __future__ import annotations

from typing import Any, Literal

import asyncpg
from fastapi import APIRouter, Query

from services.monitor.analysis.beside import estimated_beside_measured
from services.monitor.store import reads
from shared.errors import NotFound
from shared.http.auth import Viewer
from shared.http.params import VersionFilter


def router(pool: asyncpg.Pool) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["monitoring"])

    @api.get("/models/{model_name}")
    async def model(_: Viewer, model_name: str) -> dict[str, Any]:
        async with pool.acquire() as conn:
            return await reads.model(conn, model_name)

    @api.get("/models/{model_name}/windows")
    async def latest_windows(
        _: Viewer, model_name: str, version: VersionFilter = None, arm: str | None = None
    ) -> dict[str, Any]:
        """The latest closed window of each version, arm and kind."""
        async with pool.acquire() as conn:
            windows = await reads.latest_windows(conn, model_name, version, arm)
        if not windows:
            raise NotFound(f"no closed window for model {model_name!r} yet")
        return {"model_name": model_name, "windows": windows}

    @api.get("/models/{model_name}/windows/history")
    async def window_history(
        _: Viewer,
        model_name: str,
        kind: Literal["data", "performance"] = "data",
        version: VersionFilter = None,
        arm: str | None = None,
        limit: int = Query(50, ge=1, le=500),
    ) -> dict[str, Any]:
        """Closed windows of one kind over time, oldest first: each with all its metrics."""
        async with pool.acquire() as conn:
            windows = await reads.window_history(conn, model_name, kind, version, arm, limit)
        return {"model_name": model_name, "kind": kind, "windows": windows}

    @api.get("/models/{model_name}/estimates")
    async def estimates(
        _: Viewer,
        model_name: str,
        version: VersionFilter = None,
        arm: str | None = None,
        limit: int = Query(50, ge=1, le=500),
    ) -> dict[str, Any]:
        """Measured performance windows, oldest first, each beside the performance the data
        windows of the same traffic estimated before its labels arrived."""
        async with pool.acquire() as conn:
            measured = await reads.window_history(
                conn, model_name, "performance", version, arm, limit
            )
            data = await reads.window_history(conn, model_name, "data", version, arm, 4 * limit)
        return {"model_name": model_name, "windows": estimated_beside_measured(measured, data)}

    @api.get("/models/{model_name}/series")
    async def series(
        _: Viewer,
        model_name: str,
        metric: str,
        version: VersionFilter = None,
        arm: str | None = None,
        limit: int = Query(500, ge=1, le=10_000),
    ) -> dict[str, Any]:
        async with pool.acquire() as conn:
            points = await reads.series(conn, model_name, metric, version, arm, limit)
        return {"model_name": model_name, "metric": metric, "points": points}

    @api.get("/models/{model_name}/ingest")
    async def ingest_progress(_: Viewer, model_name: str) -> dict[str, Any]:
        """How far the model's predictions are folded in: the lag of its partition (records
        not applied yet, as of the last fetch there) and the age of the newest prediction
        in its windows. Nulls before any prediction of a registered version was folded."""
        async with pool.acquire() as conn:
            return await reads.ingest(conn, model_name)

    @api.get("/models/{model_name}/labels")
    async def label_counts(_: Viewer, model_name: str) -> dict[str, Any]:
        async with pool.acquire() as conn:
            return {"model_name": model_name, **await reads.label_counts(conn, model_name)}

    @api.get("/alerts")
    async def alerts(
        _: Viewer, model_name: str | None = None, include_resolved: bool = False
    ) -> dict[str, Any]:
        async with pool.acquire() as conn:
            return {"alerts": await reads.alerts(conn, model_name, include_resolved)}

    return api
