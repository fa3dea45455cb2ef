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

import json
from dataclasses import dataclass
from typing import Any

from services.governance.audit.describe import describe
from services.governance.audit.hashing import (
    GENESIS,
    canonical,
    chain_hash,
    format_time,
    record_hash,
    sha256_hex,
    sign_checkpoint,
)
from shared.bus.unit_of_work import UnitOfWork
from shared.events.envelope import Event
from shared.events.governance import AuditRecord
from shared.store.db import Connection

SOURCE = "governance"


@dataclass(frozen=True)
class Head:
    seq: int
    chain_hash: str


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    chain_hash: str
    signature: str


@dataclass(frozen=True)
class AuditLog:
    """The log of one schema, with the key that signs its checkpoints."""

    key: bytes
    checkpoint_every: int = 100

    async def lock(self, conn: Connection) -> Head:
        """Take the chain head for this transaction (see the module docstring)."""
        row = await conn.fetchrow("SELECT seq, chain_hash FROM audit_head FOR UPDATE")
        assert row is not None, "audit_head is created by the governance migration"
        return Head(row["seq"], row["chain_hash"])

    async def append(
        self, conn: Connection, event: Event[Any], *, publish: bool = True
    ) -> AuditRecord | None:
        """Record ``event`` once; publish the record on ``governance.audit`` via the outbox."""
        head = await self.lock(conn)
        if await conn.fetchval("SELECT 1 FROM audit_log WHERE event_id = $1", event.id):
            return None
        model = event.key
        last = await conn.fetchrow(
            "SELECT model_seq, hash FROM audit_log WHERE model_name = $1"
            " ORDER BY model_seq DESC LIMIT 1",
            model,
        )
        record = seal(
            event,
            seq=head.seq + 1,
            model_seq=(last["model_seq"] if last else 0) + 1,
            prev_hash=last["hash"] if last else GENESIS,
        )
        linked = chain_hash(record.seq, head.chain_hash, record.hash)
        await conn.execute(
            "INSERT INTO audit_log (seq, model_name, model_seq, time, actor, action, version,"
            " event_id, event_type, correlation_id, payload_sha256, summary, prev_hash, hash,"
            " chain_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,"
            " $15)",
            record.seq,
            model,
            record.model_seq,
            event.time,
            record.actor,
            record.action,
            record.version,
            record.event_id,
            record.event_type,
            record.correlation_id,
            record.payload_sha256,
            canonical(record.summary).decode(),
            record.prev_hash,
            record.hash,
            linked,
        )
        await conn.execute("UPDATE audit_head SET seq = $1, chain_hash = $2", record.seq, linked)
        if record.seq % self.checkpoint_every == 0:
            await self._write_checkpoint(conn, Head(record.seq, linked))
        if publish:
            await UnitOfWork(conn, SOURCE, cause=event).emit(record)
        return record

    async def checkpoint(self, conn: Connection) -> Checkpoint | None:
        """Sign the current head now (on demand); ``None`` while the log is empty."""
        head = await self.lock(conn)
        if head.seq == 0:
            return None
        return await self._write_checkpoint(conn, head)

    async def _write_checkpoint(self, conn: Connection, head: Head) -> Checkpoint:
        signature = sign_checkpoint(self.key, head.seq, head.chain_hash)
        await conn.execute(
            "INSERT INTO audit_checkpoints (seq, chain_hash, signature) VALUES ($1, $2, $3)"
            " ON CONFLICT (seq) DO NOTHING",
            head.seq,
            head.chain_hash,
            signature,
        )
        return Checkpoint(head.seq, head.chain_hash, signature)


def seal(event: Event[Any], *, seq: int, model_seq: int, prev_hash: str) -> AuditRecord:
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


def payload_digest(event: Event[Any]) -> str:
    """SHA-256 of the canonical form of the event's ``data`` exactly as it goes on the wire."""
    data = event.data.model_dump(mode="json", by_alias=True)
    return sha256_hex(canonical(data))


def row_to_record(row: Any) -> AuditRecord:
    """An ``audit_log`` row as the record that was hashed and published."""
    return AuditRecord(
        seq=row["seq"],
        model_seq=row["model_seq"],
        time=format_time(row["time"]),
        actor=row["actor"],
        action=row["action"],
        model_name=row["model_name"],
        version=row["version"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        correlation_id=row["correlation_id"],
        payload_sha256=row["payload_sha256"],
        summary=json.loads(row["summary"]),
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )
