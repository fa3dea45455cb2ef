"""The audit trail over HTTP: reading records (viewers), signing the head now (admins).

Verifying the log is deliberately not here: an auditor checks the stored log itself with
the checkpoint key (``services.governance.audit_tools``), not what the service says of it.
"""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Query

from services.governance.recording import Governance
from services.governance.store import audit_log, audit_queries
from shared.http.auth import Admin, Viewer


def router(pool: asyncpg.Pool, governance: Governance) -> APIRouter:
    routes = APIRouter()

    @routes.get("/models/{name}/audit")
    async def model_audit(name: str, _: Viewer) -> list[dict[str, Any]]:
        async with pool.acquire() as conn:
            return await audit_queries.audit_records(conn, model=name)

    @routes.get("/audit")
    async def audit_tail(
        _: Viewer,
        model: str | None = None,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
        action: Annotated[
            str | None, Query(max_length=100, description="e.g. model.promoted")
        ] = None,
        correlation_id: Annotated[str | None, Query(max_length=100)] = None,
    ) -> list[dict[str, Any]]:
        """The latest records, of one model, type or correlation chain if asked."""
        async with pool.acquire() as conn:
            return await audit_queries.audit_records(
                conn, model=model, limit=limit, action=action, correlation_id=correlation_id
            )

    @routes.get("/audit/checkpoints/latest")
    async def latest_checkpoint(_: Viewer) -> dict[str, Any]:
        """The head of the log and its last signed checkpoint; checking the signature needs
        the key, so that is left to ``modelbus audit verify``."""
        async with pool.acquire() as conn:
            return await audit_log.latest_checkpoint(conn)

    @routes.post("/audit/checkpoints")
    async def checkpoint(_: Admin) -> dict[str, Any]:
        async with pool.acquire() as conn, conn.transaction():
            made = await governance.log.checkpoint(conn)
        if made is None:
            return {"seq": 0, "chain_hash": None}
        return {"seq": made.seq, "chain_hash": made.chain_hash}

    return routes
