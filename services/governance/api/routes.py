"""HTTP routes: decode, call the use case or query, encode. Every route declares its role."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from services.governance.decisions_by_people import PeopleDecisions
from services.governance.inventory.card import render_card
from services.governance.recording import Governance
from services.governance.store import audit_queries, inventory_queries
from shared.bus.unit_of_work import Transactions
from shared.errors import InvalidInput
from shared.http.auth import Admin, Approver, Viewer

VERSION = "/models/{name}/versions/{version}"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Approval(_Body):
    comment: str = Field(default="", max_length=4000)


class Rejection(_Body):
    comment: str = Field(min_length=1, max_length=4000)


class Suspension(_Body):
    reason: str = Field(min_length=1, max_length=4000)


def build_router(transactions: Transactions, governance: Governance) -> APIRouter:
    router = APIRouter()
    decisions = PeopleDecisions(transactions, governance)
    pool = transactions.pool

    @router.post(f"{VERSION}/approve")
    async def approve(
        name: str, version: int, who: Approver, body: Approval | None = None
    ) -> dict[str, Any]:
        comment = body.comment if body else ""
        return await decisions.approve(name, version, who.name, comment)

    @router.post(f"{VERSION}/reject")
    async def reject(name: str, version: int, body: Rejection, who: Approver) -> dict[str, Any]:
        return await decisions.reject(name, version, who.name, body.comment)

    @router.post(f"{VERSION}/suspend")
    async def suspend(name: str, version: int, body: Suspension, who: Admin) -> dict[str, Any]:
        return await decisions.suspend(name, version, who.name, body.reason)

    @router.get("/models")
    async def inventory(_: Viewer) -> list[dict[str, Any]]:
        async with pool.acquire() as conn:
            return await inventory_queries.inventory(conn)

    @router.get("/models/{name}")
    async def model(name: str, _: Viewer) -> dict[str, Any]:
        async with pool.acquire() as conn:
            return await inventory_queries.model_detail(conn, name)

    @router.get("/models/{name}/audit")
    async def model_audit(name: str, _: Viewer) -> list[dict[str, Any]]:
        async with pool.acquire() as conn:
            return await audit_queries.audit_records(conn, model=name)

    @router.get(f"{VERSION}/card", response_class=PlainTextResponse)
    async def card(name: str, version: int, _: Viewer) -> PlainTextResponse:
        async with pool.acquire() as conn:
            facts = await inventory_queries.card_facts(conn, name, version)
        return PlainTextResponse(render_card(facts), media_type="text/markdown")

    @router.get("/reviews")
    async def reviews(_: Viewer) -> list[dict[str, Any]]:
        async with pool.acquire() as conn:
            return await inventory_queries.open_reviews(conn)

    @router.get("/as-of")
    async def as_of(_: Viewer, time: datetime, model: str | None = None) -> dict[str, Any]:
        if time.tzinfo is None:
            raise InvalidInput("time needs a timezone, e.g. 2025-01-31T12:00:00Z")
        async with pool.acquire() as conn:
            return await audit_queries.as_of(conn, time.astimezone(UTC), model)

    @router.get("/audit")
    async def audit_tail(
        _: Viewer, model: str | None = None, limit: Annotated[int, Query(ge=1, le=10_000)] = 50
    ) -> list[dict[str, Any]]:
        async with pool.acquire() as conn:
            return await audit_queries.audit_records(conn, model=model, limit=limit)

    @router.post("/audit/checkpoints")
    async def checkpoint(_: Admin) -> dict[str, Any]:
        async with pool.acquire() as conn, conn.transaction():
            made = await governance.log.checkpoint(conn)
        if made is None:
            return {"seq": 0, "chain_hash": None}
        return {"seq": made.seq, "chain_hash": made.chain_hash}

    @router.get("/policies")
    async def policies(_: Viewer) -> list[dict[str, Any]]:
        return [
            {
                "name": p.policy.name,
                "version": p.policy.version,
                "digest": p.digest,
                "description": p.policy.description,
                "source": p.path.name,
            }
            for p in governance.policies.values()
        ]

    return router
