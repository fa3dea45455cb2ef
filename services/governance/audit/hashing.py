"""How audit records are hashed, chained and signed. Pure functions, no I/O.

Two chains run through the log:

* per model, ``AuditRecord.hash`` covers the record's content and the hash of the model's
  previous record (``prev_hash``). It depends on event content only (the event's own time,
  never the time of appending), so replaying the topics into a fresh log rebuilds a model's
  chain hash for hash (:mod:`.replay` says when); audit consumers verify it from
  ``governance.audit`` alone;
* globally, ``chain_hash(seq) = sha256("seq:chain_hash(seq-1):hash")`` binds every record
  to its position in governance's log. Signed checkpoints (HMAC-SHA256 of
  ``"seq:chain_hash"`` with a key kept outside Postgres) pin that chain, so truncating the
  log or rewriting it consistently is detected by whoever holds the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.events.governance import AuditRecord

GENESIS = "0" * 64


@dataclass(frozen=True)
class Head:
    """Where the global chain ends: the last ``seq`` and its ``chain_hash``."""

    seq: int
    chain_hash: str


@dataclass(frozen=True)
class Checkpoint(Head):
    """A head signed with the checkpoint key (:func:`sign_checkpoint`)."""

    signature: str


def canonical(value: Any) -> bytes:
    """The one JSON form that is hashed: sorted keys, no spaces, UTF-8, no NaN."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def format_time(moment: datetime) -> str:
    """Event times as hashed: UTC, microseconds, ``Z`` (what Postgres keeps exactly)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def record_hash(record: AuditRecord) -> str:
    body = record.model_dump(mode="json", exclude={"seq", "hash"})
    return sha256_hex(canonical(body))


def chain_hash(seq: int, previous: str, record_hash_hex: str) -> str:
    return sha256_hex(f"{seq}:{previous}:{record_hash_hex}".encode())


def sign_checkpoint(key: bytes, seq: int, chain_hash_hex: str) -> str:
    return hmac.new(key, f"{seq}:{chain_hash_hex}".encode(), hashlib.sha256).hexdigest()


def checkpoint_valid(key: bytes, seq: int, chain_hash_hex: str, signature: str) -> bool:
    return hmac.compare_digest(sign_checkpoint(key, seq, chain_hash_hex), signature)
