"""Deployment status, and promotion and rollback by hand (approvers and admins)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from services.deployer.serving.table import ServingTable
from services.deployer.status import deployment_status
from services.deployer.store.transitions import Outcome, Transition, promote, rollback
from shared.bus.unit_of_work import Transactions
from shared.errors import NotFound
from shared.http.auth import Approver, Principal, Viewer


class TransitionRequest(BaseModel):
    """``version`` makes a retried call safe: it names the version meant, and a transition
    already made for it answers ``changed: false`` instead of acting on another version."""

    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(default=None, ge=1)
    reason: str = Field(default="", max_length=2000)


def _answer(outcome: Outcome) -> dict[str, Any]:
    route = outcome.route
    return {
        "changed": outcome.changed,
        "message": outcome.message,
        "model_name": route.model_name,
        "stable_version": route.stable_version,
        "candidate_version": route.candidate_version,
    }


def deployments_router(
    transactions: Transactions,
    table: ServingTable,
    *,
    replica: str,
    applied: Callable[[], Awaitable[None]],
) -> APIRouter:
    router = APIRouter(prefix="/v1/deployments", tags=["deployments"])

    @router.get("")
    async def list_deployments(_: Viewer) -> dict[str, Any]:
        return await deployment_status(transactions.pool, table, replica=replica)

    @router.get("/{model_name}")
    async def get_deployment(model_name: str, _: Viewer) -> dict[str, Any]:
        status = await deployment_status(
            transactions.pool, table, replica=replica, model=model_name
        )
        if not status["models"]:
            raise NotFound(f"model {model_name!r} has no deployment")
        return status

    async def by_hand(
        transition: Transition,
        model_name: str,
        principal: Principal,
        body: TransitionRequest | None,
        default_reason: str,
    ) -> dict[str, Any]:
        body = body or TransitionRequest()
        async with transactions.begin() as uow:
            outcome = await transition(
                uow,
                model_name,
                version=body.version,
                reason=body.reason or default_reason,
                actor=principal.name,
            )
        await applied()
        return _answer(outcome)

    @router.post("/{model_name}/promote")
    async def promote_candidate(
        model_name: str, principal: Approver, body: TransitionRequest | None = None
    ) -> dict[str, Any]:
        return await by_hand(promote, model_name, principal, body, "promoted by hand")

    @router.post("/{model_name}/rollback")
    async def rollback_version(
        model_name: str, principal: Approver, body: TransitionRequest | None = None
    ) -> dict[str, Any]:
        return await by_hand(rollback, model_name, principal, body, "rolled back by hand")

    return router
