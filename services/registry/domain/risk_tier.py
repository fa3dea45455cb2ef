"""Risk tiers are pinned: a model's first version sets the lowest tier its later versions
may be registered at, so that re-uploading at ``low`` cannot walk around the approvals a
``high`` model needs. Only an approver's recorded decision lowers the floor."""

from __future__ import annotations

from shared.events.common import RiskTier

RANK: dict[RiskTier, int] = {"low": 0, "medium": 1, "high": 2}


def below_floor(tier: RiskTier, floor: RiskTier | None) -> bool:
    return floor is not None and RANK[tier] < RANK[floor]


def lowers(tier: RiskTier, floor: RiskTier | None) -> bool:
    """Whether setting the floor to ``tier`` is a lowering (the only change people make)."""
    return floor is not None and RANK[tier] < RANK[floor]
