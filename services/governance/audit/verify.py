"""Verifying the audit log: both chains, then every signed checkpoint against them.

The verifier walks records in ``seq`` order and stops at the first thing wrong, naming its
sequence number: a missing or out-of-place ``seq`` (a row deleted or moved), a record whose
content no longer gives its hash (a row edited), a record that does not link to its
model's previous record or to the global chain (rows swapped or replaced), a checkpoint
whose signature is not the key's (forged), a checkpoint the recomputed chain no longer
matches (the log rewritten consistently, without the key), and a checkpoint beyond the end
of the log (the tail truncated), and a missing checkpoint at a multiple of ``every`` (the
checkpoint table pruned to hide one of the others). Without checkpoints the walk still
catches edits and deletions, but not a truncated tail or a consistent rewrite.

``published`` checkpoints (read from ``governance.checkpoints``, outside the database) are
checked the same way: a log truncated and rewritten together with its checkpoint table still
fails against them, naming the first published checkpoint it no longer matches.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import aclosing
from dataclasses import dataclass, field

from services.governance.audit.hashing import (
    GENESIS,
    Checkpoint,
    chain_hash,
    checkpoint_valid,
    record_hash,
)
from services.governance.store import audit_log as stored
from shared.events.governance import AuditRecord
from shared.store.db import Connection


@dataclass(frozen=True)
class Problem:
    seq: int
    reason: str


@dataclass
class Report:
    records: int = 0
    checkpoints: int = 0
    head_seq: int = 0
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass
class ChainVerifier:
    """Feed it ``(record, chain_hash)`` in ``seq`` order, then call :meth:`finish`."""

    key: bytes
    checkpoints: list[Checkpoint]
    every: int | None = None
    published: list[Checkpoint] = field(default_factory=list)
    report: Report = field(default_factory=Report)
    _chain: str = GENESIS
    _heads: dict[str, tuple[int, str]] = field(default_factory=dict)
    _last_published: int = 0

    def __post_init__(self) -> None:
        self._pending = {c.seq: c for c in self.checkpoints}
        self._published: dict[int, list[Checkpoint]] = {}
        for c in self.published:
            self._published.setdefault(c.seq, []).append(c)

    def _fail(self, seq: int, reason: str) -> None:
        if self.report.problem is None:
            self.report.problem = Problem(seq, reason)

    def feed(self, record: AuditRecord, stored_chain_hash: str) -> bool:
        """Check one record; ``False`` once something is broken (stop feeding then)."""
        if self.report.problem is not None:
            return False
        expected = self.report.head_seq + 1
        seq = record.seq
        if seq != expected:
            what = "is missing" if seq > expected else "appears twice or out of order"
            self._fail(expected, f"record {expected} {what} (found seq {seq} next)")
            return False
        model_seq, prev = self._heads.get(record.model_name, (0, GENESIS))
        if record_hash(record) != record.hash:
            self._fail(seq, "record content does not match its hash (edited)")
        elif record.model_seq != model_seq + 1 or record.prev_hash != prev:
            self._fail(
                seq,
                f"record does not follow {record.model_name}'s previous record "
                f"(model_seq {record.model_seq}, expected {model_seq + 1})",
            )
        else:
            self._chain = chain_hash(seq, self._chain, record.hash)
            if self._chain != stored_chain_hash:
                self._fail(seq, "record is not where the global chain put it (moved or swapped)")
        if self.report.problem is None:
            self._heads[record.model_name] = (record.model_seq, record.hash)
            self.report.head_seq = seq
            self.report.records += 1
            self._check_checkpoint(seq)
        return self.report.problem is None

    def _check_checkpoint(self, seq: int) -> None:
        self._check_published(seq)
        checkpoint = self._pending.pop(seq, None)
        if checkpoint is None:
            if self.every and seq % self.every == 0 and self.report.problem is None:
                self._fail(
                    seq,
                    f"no signed checkpoint at seq {seq} (one is written every {self.every} "
                    "records): checkpoints were deleted",
                )
            return
        if not checkpoint_valid(
            self.key, checkpoint.seq, checkpoint.chain_hash, checkpoint.signature
        ):
            self._fail(seq, "checkpoint signature is invalid (forged, or not this key)")
        elif checkpoint.chain_hash != self._chain:
            self._fail(
                seq,
                "signed checkpoint does not match the chain: the log was rewritten "
                f"at or before seq {seq}",
            )
        else:
            self.report.checkpoints += 1

    def _check_published(self, seq: int) -> None:
        for published in self._published.pop(seq, []):
            if not checkpoint_valid(
                self.key, published.seq, published.chain_hash, published.signature
            ):
                continue  # not the key's: anyone may write to a topic; it proves nothing
            if published.chain_hash != self._chain:
                self._fail(
                    seq,
                    f"the log is not the one governance published a checkpoint of at seq {seq}: "
                    f"history diverges after seq {self._last_published} (the last published "
                    "checkpoint it matches)",
                )
                return
            self._last_published = seq

    def finish(self) -> Report:
        beyond_published = [
            s
            for s, found in self._published.items()
            if any(checkpoint_valid(self.key, c.seq, c.chain_hash, c.signature) for c in found)
        ]
        if self.report.problem is None and beyond_published:
            self._fail(
                self.report.head_seq + 1,
                f"the log ends at seq {self.report.head_seq} but governance published a "
                f"checkpoint at seq {min(beyond_published)}: history after seq "
                f"{self.report.head_seq} was removed",
            )
        if self.report.problem is None and self._pending:
            beyond = min(self._pending)
            self._fail(
                self.report.head_seq + 1,
                f"the log ends at seq {self.report.head_seq} but a checkpoint was signed "
                f"at seq {beyond}: records were removed from the end",
            )
        return self.report


def verify_records(
    key: bytes,
    checkpoints: list[Checkpoint],
    records: Iterable[tuple[AuditRecord, str]],
    *,
    every: int | None = None,
    published: list[Checkpoint] | None = None,
) -> Report:
    verifier = ChainVerifier(key, checkpoints, every, published or [])
    for record, chained in records:
        if not verifier.feed(record, chained):
            break
    return verifier.finish()


async def verify_log(
    conn: Connection,
    key: bytes,
    *,
    every: int | None = None,
    published: list[Checkpoint] | None = None,
) -> Report:
    """Verify the log in ``conn``'s schema, reading it page by page in ``seq`` order."""
    verifier = ChainVerifier(key, await stored.checkpoints(conn), every, published or [])
    async with aclosing(stored.records_in_order(conn)) as records:
        async for record, stored_chain_hash in records:
            if not verifier.feed(record, stored_chain_hash):
                break
    return verifier.finish()
