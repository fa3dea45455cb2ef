"""Deciding by policy when a version is registered: approve, reject, or ask people.

Runs in the consumer's transaction, right after the ``model.registered`` event was recorded
(which holds the audit chain head, so decisions are serialised with everything else).
"""

from __future__ import annotations

from services.governance.inventory.queries import champion
from services.governance.policy.verdict import evaluate_registration, verdict
from services.governance.recording import Governance, emit_decision
from shared.bus.unit_of_work import UnitOfWork
from shared.events.envelope import Event
from shared.events.registry import ModelRegistered


async def decide_registration(
    uow: UnitOfWork, event: Event[ModelRegistered], governance: Governance
) -> None:
    """Approve, reject or ask people, once per registered version."""
    reg = event.data
    status = await uow.conn.fetchval(
        "SELECT status FROM versions WHERE model_name = $1 AND version = $2",
        reg.model_name,
        reg.version,
    )
    if status != "registered":  # this version was decided when it was first registered
        return
    best = await champion(uow.conn, reg.model_name, reg.version)
    evaluation = evaluate_registration(governance.policies, reg, best)
    await emit_decision(uow, verdict(evaluation, reg), governance)
