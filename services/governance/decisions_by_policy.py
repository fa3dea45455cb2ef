"""Deciding by policy when a version is registered: approve, reject, or ask people.

Runs in the consumer's transaction, right after the ``model.registered`` event was recorded
(which holds the audit chain head, so decisions are serialised with everything else).
"""

from __future__ import annotations

from services.governance.inventory.queries import champion
from services.governance.policy.evaluate import Champion, Evaluation, evaluate
from services.governance.policy.rules import policy_name_for
from services.governance.recording import Governance, emit_decision
from shared.bus.unit_of_work import UnitOfWork
from shared.events.common import CheckResult, Payload
from shared.events.envelope import Event
from shared.events.governance import Decision, ModelApproved, ModelRejected, ReviewRequested
from shared.events.registry import ModelRegistered


def _evaluate(
    governance: Governance, registered: ModelRegistered, best: Champion | None
) -> Evaluation:
    name = policy_name_for(registered.metadata)
    loaded = governance.policies.get(name)
    if loaded is not None:
        return evaluate(loaded, registered, best)
    missing = CheckResult(
        name="policy",
        passed=False,
        value=name,
        threshold=sorted(governance.policies),
        message=f"no policy named {name!r} is in force",
    )
    return Evaluation(
        Decision(
            policy=name,
            policy_version="",
            policy_digest="",
            checks=[missing],
            risk_tier=registered.metadata.risk_tier,
        )
    )


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
    result = _evaluate(governance, reg, await champion(uow.conn, reg.model_name, reg.version))
    decision = result.decision
    payload: Payload
    if result.failed:
        payload = ModelRejected(
            model_name=reg.model_name,
            version=reg.version,
            decision=decision,
            failed_checks=result.failed,
        )
    elif result.required_approvals == 0:
        payload = ModelApproved(
            model_name=reg.model_name,
            version=reg.version,
            artifact=reg.artifact,
            decision=decision,
            metadata=reg.metadata,
        )
    else:
        payload = ReviewRequested(
            model_name=reg.model_name,
            version=reg.version,
            required_approvals=result.required_approvals,
            decision=decision,
        )
    await emit_decision(uow, payload, governance)
