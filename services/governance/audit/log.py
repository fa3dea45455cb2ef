"""Appending to the audit log, and the signed checkpoints that pin it.

Locking: every governance transaction that may append takes the chain head row
(``audit_head``) ``FOR UPDATE`` first, before touching anything else. Appends are thereby
serialised: ``seq`` is gapless and commits in order, each model's ``model_seq`` follows its
previous record, and the outbox rows of ``governance.audit`` are written in ``seq`` order, so
audit consumers receive each model's records in chain order. Taking the lock first also
keeps the lock order the same everywhere, so HTTP decisions and consumed batches never
deadlock each other.

Idempotency: ``event_id`` is unique in the log; appending an event already recorded
changes nothing and returns ``None``. Replaying topics therefore adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.governance.audit.describe import describe
from services.governance.audit.hashing import (
    GENESIS,
    Checkpoint,
    Head,
    canonical,
    chain_hash,
    format_time,
    record_hash,
    sha256_hex,
    sign_checkpoint,
)
from services.governance.store import audit_log as stored
from shared.bus import outbox
from shared.events.common import Payload
from shared.events.envelope import Event, new_event
from shared.events.governance import AuditCheckpoint, AuditRecord
from shared.store.db import Connection


@dataclass(frozen=True)
class AuditLog:
    """The log of one schema, with the key that signs its checkpoints.

    Every checkpoint is also queued on ``governance.checkpoints`` in the transaction that
    writes it (``publish``), so its head lives outside the database too; ``name`` says
    which log it belongs to (governance's schema). A rebuild into a scratch schema
    publishes nothing.
    """

    key: bytes
    checkpoint_every: int = 100
    name: str = "governance"
    publish: bool = True

    async def lock(self, conn: Connection) -> Head:
        """Take the chain head for this transaction (see the module docstring)."""
        return await stored.lock_head(conn)

    async def append(self, conn: Connection, event: Event[Payload]) -> AuditRecord | None:
        """Record ``event`` once; publishing the record is the caller's to decide."""
        head = await self.lock(conn)
        if await stored.is_recorded(conn, event.id):
            return None
        model_seq, prev_hash = await stored.last_link(conn, event.key) or (0, GENESIS)
        record = seal(event, seq=head.seq + 1, model_seq=model_seq + 1, prev_hash=prev_hash)
        linked = Head(record.seq, chain_hash(record.seq, head.chain_hash, record.hash))
        await stored.insert_record(conn, record, time=event.time, chain_hash=linked.chain_hash)
        await stored.move_head(conn, linked)
        if record.seq % self.checkpoint_every == 0:
            await self._write_checkpoint(conn, linked)
        return record

    async def checkpoint(self, conn: Connection) -> Checkpoint | None:
        """Sign the current head now (on demand); ``None`` while the log is empty."""
        head = await self.lock(conn)
        if head.seq == 0:
            return None
        return await self._write_checkpoint(conn, head)

    async def _write_checkpoint(self, conn: Connection, head: Head) -> Checkpoint:
        signed = Checkpoint(
            head.seq, head.chain_hash, sign_checkpoint(self.key, head.seq, head.chain_hash)
        )
        await stored.insert_checkpoint(conn, signed)
        if self.publish:
            announced = AuditCheckpoint(
                log=self.name,
                seq=signed.seq,
                chain_hash=signed.chain_hash,
                signature=signed.signature,
            )
            await outbox.add(conn, new_event(announced, source="governance"))
        return signed


def seal(event: Event[Payload], *, seq: int, model_seq: int, prev_hash: str) -> AuditRecord:
    """The audit record of ``event`` at the given place in the log, with its hash."""
    about = describe(event)
    unsealed = AuditRecord(
        seq=seq,
        model_seq=model_seq,
        time=format_time(event.time),
        actor=about.actor,
        action=about.action,
        model_name=event.key,
        version=about.version,
        event_id=event.id,
        event_type=event.type,
        correlation_id=event.correlationid,
        payload_sha256=payload_digest(event),
        summary=about.summary,
        prev_hash=prev_hash,
        hash="",
    )
    return unsealed.model_copy(update={"hash": record_hash(unsealed)})


def payload_digest(event: Event[Payload]) -> str:
    """SHA-256 of the canonical form of the event's ``data`` exactly as it goes on the wire."""
    data = event.data.model_dump(mode="json", by_alias=True)
    return sha256_hex(canonical(data))
