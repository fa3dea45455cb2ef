"""What is deployed where, as the deployer announced it (``model.deployed``)."""

from __future__ import annotations

from shared.store.db import Connection


async def record(
    conn: Connection, model_name: str, version: int, arm: str, strategy: str, weight: float
) -> None:
    """The latest deployment of a version on an arm replaces the one before."""
    await conn.execute(
        "INSERT INTO deployments (model_name, version, arm, strategy, weight)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (model_name, version, arm) DO UPDATE"
        " SET strategy = EXCLUDED.strategy, weight = EXCLUDED.weight, deployed_at = now()",
        model_name,
        version,
        arm,
        strategy,
        weight,
    )
