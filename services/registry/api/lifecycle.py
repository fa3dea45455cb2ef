"""Routes for the lifecycle read model: a version's history, and what served when."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
from fastapi import APIRouter

from services.registry.api.params import At, ModelName, Version, as_utc
from services.registry.api.schemas import LifecycleHistory, Serving
from services.registry.store import lifecycle, versions
from shared.http.auth import Viewer


def router(pool: asyncpg.Pool) -> APIRouter:
    api = APIRouter(prefix="/{name}", tags=["lifecycle"])

    @api.get("/versions/{version}/lifecycle", response_model=LifecycleHistory)
    async def version_lifecycle(_: Viewer, name: ModelName, version: Version) -> Any:
        """The version's current status and every lifecycle event about it, oldest first."""
        async with pool.acquire() as conn:
            await versions.get_registered(conn, name, version)  # 404 for an unknown version
            return await lifecycle.history(conn, name, version)

    @api.get("/serving", response_model=Serving)
    async def serving(_: Viewer, name: ModelName, at: At = None) -> Any:
        """Which version was the stable (serving) one at ``at``."""
        async with pool.acquire() as conn:
            return await lifecycle.serving_at(conn, name, as_utc(at) or datetime.now(UTC))

    return api
