"""Deciding by policy when a version is registered: approve, reject, or ask people.

Runs in the consumer's transaction, right after the ``model.registered`` event was recorded
(which holds the audit chain head, so decisions are serialised with everything else).
"""

from __future__ import annotations

from services.governance.policy.verdict import evaluate_registration, verdict
from services.governance.recording import Governance, emit_decision
from services.governance.store import inventory_queries, reviews
from shared.bus.unit_of_work import UnitOfWork
from shared.events.registry import ModelRegistered


async def decide_registration(
    uow: UnitOfWork, reg: ModelRegistered, governance: Governance
) -> None:
    """Approve, reject or ask people, once per registered version (the unit's cause)."""
    if await reviews.version_status(uow.conn, reg.model_name, reg.version) != "registered":
        return  # this version was decided when it was first registered
    champion = await inventory_queries.champion(uow.conn, reg.model_name, reg.version)
    evaluation = evaluate_registration(governance.policies, reg, champion)
    await emit_decision(uow, verdict(evaluation, reg), governance)
