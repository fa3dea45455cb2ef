"""Recording an event: one audit record and its effect on the inventory, exactly once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import structlog

from services.governance.audit.log import AuditLog
from services.governance.policy.rules import LoadedPolicy
from services.governance.store import decisions
from services.governance.store.projection import project
from shared.bus.unit_of_work import UnitOfWork
from shared.events.common import Payload
from shared.events.envelope import Event
from shared.events.governance import AuditRecord
from shared.events.identity import TokenIssued, TokenRevoked
from shared.events.signing import DecisionSigner
from shared.store.db import Connection

logger = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Governance:
    """What governance's use cases depend on: the policies in force, the audit log and the
    key that signs every decision."""

    policies: Mapping[str, LoadedPolicy]
    log: AuditLog
    signer: DecisionSigner


async def record(conn: Connection, event: Event[Payload], log: AuditLog) -> AuditRecord | None:
    """Audit ``event`` and apply it to the inventory; ``None`` if it was recorded before.

    Governance records its own decisions when it makes them (same transaction as the
    decision, so the trail never misses one); when they come back from the bus the log
    already holds their event id and nothing happens. Inbox and log both dedupe by event
    id, so a redelivered or replayed event changes nothing either. Nothing is published
    here: a replay rebuilds records that were announced long ago.
    """
    sealed = await log.append(conn, event)
    if sealed is not None and not isinstance(event.data, TokenIssued | TokenRevoked):
        await project(conn, event)  # token events are audited, not inventory
    return sealed


async def record_and_publish(uow: UnitOfWork, event: Event[Payload], log: AuditLog) -> bool:
    """:func:`record`, and publish the new audit record on ``governance.audit``, caused by
    ``event``, in the same transaction; ``False`` if it was recorded before."""
    sealed = await record(uow.conn, event, log)
    if sealed is None:
        return False
    await uow.emit(sealed, caused_by=event)
    return True


async def emit_decision(
    uow: UnitOfWork, payload: Payload, governance: Governance, *, correlation_id: str | None = None
) -> Event[Payload]:
    """Emit one of governance's own decisions, signed, and record it in the same transaction.

    The decision is numbered from governance's decision sequence under the audit chain
    head lock (taken here if the caller has not), so ``govseq`` grows in commit order, and
    signed over that number (shared/events/signing.py). ``correlation_id`` continues a
    stored chain (a person deciding on a registration).
    """
    await governance.log.lock(uow.conn)

    async def sign(event: Event[Payload]) -> Event[Payload]:
        return governance.signer.sign(event, await decisions.next_decision_seq(uow.conn))

    event = await uow.emit(payload, correlation_id=correlation_id, seal=sign)
    await record_and_publish(uow, event, governance.log)
    logger.info(
        "governance.decided",
        decision=event.type,
        model=event.subject,
        version=getattr(payload, "version", None),
    )
    return event
