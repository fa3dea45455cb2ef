"""Recording an event: one audit record and its effect on the inventory, exactly once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from services.governance.audit.log import AuditLog
from services.governance.inventory.projection import project
from services.governance.policy.rules import LoadedPolicy
from shared.bus.unit_of_work import UnitOfWork
from shared.events.common import Payload
from shared.events.envelope import Event
from shared.store.db import Connection

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Governance:
    """What governance's use cases depend on: the policies in force and the audit log."""

    policies: Mapping[str, LoadedPolicy]
    log: AuditLog


async def record(
    conn: Connection, event: Event[Any], log: AuditLog, *, publish: bool = True
) -> bool:
    """Audit ``event`` and apply it to the inventory; ``False`` if it was recorded before.

    Governance records its own decisions when it makes them (same transaction as the
    decision, so the trail never misses one); when they come back from the bus the log
    already holds their event id and nothing happens. Inbox and log both dedupe by event
    id, so a redelivered or replayed event changes nothing either.
    """
    if await log.append(conn, event, publish=publish) is None:
        return False
    await project(conn, event)
    return True


async def emit_decision(uow: UnitOfWork, payload: Payload, governance: Governance) -> Event[Any]:
    """Emit one of governance's own decisions and record it in the same transaction."""
    event = await uow.emit(payload)
    await record(uow.conn, event, governance.log)
    logger.info(
        "governance.decided",
        decision=event.type,
        model=event.subject,
        version=getattr(payload, "version", None),
    )
    return event
