"""A model's risk tier floor: its first version's tier, or the latest approved lowering."""

from __future__ import annotations

from typing import Any, cast

from shared.events.common import RiskTier
from shared.events.registry import RiskTierLowered
from shared.store.db import Connection


async def floor(conn: Connection, name: str) -> RiskTier | None:
    """The lowest tier a new version of ``name`` may have; ``None`` for a new model."""
    lowered = await conn.fetchval(
        "SELECT risk_tier FROM risk_tier_floors WHERE model_name = $1 ORDER BY id DESC LIMIT 1",
        name,
    )
    if lowered is not None:
        return cast(RiskTier, lowered)
    first = await conn.fetchval(
        "SELECT payload -> 'metadata' ->> 'risk_tier' FROM versions"
        " WHERE model_name = $1 AND version = 1",
        name,
    )
    return cast(RiskTier | None, first)


async def record_lowering(conn: Connection, lowered: RiskTierLowered) -> None:
    await conn.execute(
        "INSERT INTO risk_tier_floors (model_name, risk_tier, previous, actor, reason)"
        " VALUES ($1, $2, $3, $4, $5)",
        lowered.model_name,
        lowered.risk_tier,
        lowered.previous,
        lowered.actor,
        lowered.reason,
    )


async def lowerings(conn: Connection, name: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT risk_tier, previous, actor, reason, at FROM risk_tier_floors"
        " WHERE model_name = $1 ORDER BY id",
        name,
    )
    return [dict(row) for row in rows]
