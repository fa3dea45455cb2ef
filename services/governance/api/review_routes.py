"""People deciding on a version: approve, reject and retire (approvers), suspend (admins)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from services.governance.decisions_by_people import PeopleDecisions
from services.governance.recording import Governance
from shared.bus.unit_of_work import Transactions
from shared.http.auth import Admin, Approver
from shared.http.params import Version

VERSION = "/models/{name}/versions/{version}"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApprovalBody(_Body):
    comment: str = Field(default="", max_length=4000)


class RejectionBody(_Body):
    comment: str = Field(min_length=1, max_length=4000)


class SuspensionBody(_Body):
    reason: str = Field(min_length=1, max_length=4000)


class RetirementBody(_Body):
    reason: str = Field(min_length=1, max_length=4000)


def router(transactions: Transactions, governance: Governance) -> APIRouter:
    decisions = PeopleDecisions(transactions, governance)
    routes = APIRouter()

    @routes.post(f"{VERSION}/approve")
    async def approve(
        name: str, version: Version, principal: Approver, body: ApprovalBody | None = None
    ) -> dict[str, Any]:
        comment = body.comment if body else ""
        return await decisions.approve(name, version, principal.id, comment)

    @routes.post(f"{VERSION}/reject")
    async def reject(
        name: str, version: Version, body: RejectionBody, principal: Approver
    ) -> dict[str, Any]:
        return await decisions.reject(name, version, principal.id, body.comment)

    @routes.post(f"{VERSION}/suspend")
    async def suspend(
        name: str, version: Version, body: SuspensionBody, principal: Admin
    ) -> dict[str, Any]:
        return await decisions.suspend(name, version, principal.id, body.reason)

    @routes.post(f"{VERSION}/retire")
    async def retire(
        name: str, version: Version, body: RetirementBody, principal: Approver
    ) -> dict[str, Any]:
        return await decisions.retire(name, version, principal.id, body.reason)

    return routes
