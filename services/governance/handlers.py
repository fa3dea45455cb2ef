"""What governance does with each consumed event: record it, and decide on registrations."""

from __future__ import annotations

from services.governance.decisions_by_policy import decide_registration
from services.governance.recording import Governance, record_and_publish
from shared.bus.unit_of_work import UnitOfWork
from shared.events.common import Payload
from shared.events.envelope import Event
from shared.events.registry import ModelRegistered


async def on_event(event: Event[Payload], uow: UnitOfWork, *, governance: Governance) -> None:
    """Audit every lifecycle event once; a newly registered version also gets its decision.

    One handler for every topic governance consumes (the topic table says which): each is
    a lifecycle event of some model, and each is audited the same way.
    """
    recorded = await record_and_publish(uow, event, governance.log)
    if recorded and isinstance(event.data, ModelRegistered):
        await decide_registration(uow, event.data, governance)
