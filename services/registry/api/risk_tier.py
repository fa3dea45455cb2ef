"""The approver's door to a model's pinned risk tier: lowering it, recorded and audited."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from services.registry.api.params import ModelName
from services.registry.domain.risk_tier import lowers
from services.registry.store import risk_tiers, versions
from shared.bus.unit_of_work import Transactions
from shared.errors import Conflict
from shared.events.common import RiskTier
from shared.events.registry import RiskTierLowered
from shared.http.auth import Approver


class TierLowering(BaseModel):
    model_config = ConfigDict(extra="forbid")

    risk_tier: RiskTier
    reason: str = Field(min_length=1, max_length=2000)


class TierFloor(BaseModel):
    model_name: str
    risk_tier: RiskTier | None  # None: no version yet, nothing pinned
    lowerings: list[dict[str, Any]]


def router(transactions: Transactions) -> APIRouter:
    api = APIRouter(prefix="/{name}", tags=["risk tier"])

    @api.post("/risk-tier", response_model=TierFloor, responses={409: {"description": "not lower"}})
    async def lower_risk_tier(name: ModelName, body: TierLowering, principal: Approver) -> Any:
        """Let the model's next versions register at ``risk_tier``, below the tier its first
        version pinned. Emits ``model.risk_tier_lowered`` (governance audits it)."""
        async with transactions.begin() as uow:
            await versions.lock_existing_model(uow.conn, name)  # 404 for an unknown model
            floor = await risk_tiers.floor(uow.conn, name)
            if not lowers(body.risk_tier, floor):
                raise Conflict(f"{name!r} is pinned at {floor!r}; {body.risk_tier!r} is not lower")
            assert floor is not None
            lowered = RiskTierLowered(model_name=name, risk_tier=body.risk_tier, previous=floor,
                                      actor=principal.name, reason=body.reason)  # fmt: skip
            await risk_tiers.record_lowering(uow.conn, lowered)
            await uow.emit(lowered)
            return TierFloor(model_name=name, risk_tier=body.risk_tier,
                             lowerings=await risk_tiers.lowerings(uow.conn, name))  # fmt: skip

    return api
