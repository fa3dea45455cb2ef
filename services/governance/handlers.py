"""What governance does with each consumed event: record it, and decide on registrations."""

from __future__ import annotations

from typing import Any

from services.governance.decisions_by_policy import decide_registration
from services.governance.recording import Governance, record
from shared.bus.unit_of_work import UnitOfWork
from shared.events.envelope import Event
from shared.events.registry import ModelRegistered
from shared.events.topics import TOPICS

SERVICE = "governance"
# Every topic whose events governance audits: those the topic table lists it as consuming.
AUDITED_TOPICS: tuple[str, ...] = tuple(n for n, t in TOPICS.items() if SERVICE in t.consumers)


async def on_event(event: Event[Any], uow: UnitOfWork, *, governance: Governance) -> None:
    """Audit every lifecycle event once; a newly registered version also gets its decision."""
    recorded = await record(uow.conn, event, governance.log)
    if recorded and isinstance(event.data, ModelRegistered):
        await decide_registration(uow, event, governance)
