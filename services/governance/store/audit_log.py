"""The audit log's tables: the chain head, the records and the signed checkpoints.

How they are locked and chained is :mod:`services.governance.audit.log`'s to say; this
module only reads and writes them. Records come back exactly as they were hashed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from datetime import datetime

import asyncpg

from services.governance.audit.hashing import Checkpoint, Head, canonical, format_time
from shared.events.governance import AuditRecord
from shared.store.db import Connection


def record_of(row: asyncpg.Record) -> AuditRecord:
    """An ``audit_log`` row as the record that was hashed and published."""
    return AuditRecord.model_validate(
        {
            **{name: row[name] for name in AuditRecord.model_fields},
            "time": format_time(row["time"]),
            "summary": json.loads(row["summary"]),
        }
    )


async def lock_head(conn: Connection) -> Head:
    row = await conn.fetchrow("SELECT seq, chain_hash FROM audit_head FOR UPDATE")
    assert row is not None, "audit_head is created by the governance migration"
    return Head(row["seq"], row["chain_hash"])


async def move_head(conn: Connection, head: Head) -> None:
    await conn.execute("UPDATE audit_head SET seq = $1, chain_hash = $2", head.seq, head.chain_hash)


async def is_recorded(conn: Connection, event_id: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM audit_log WHERE event_id = $1", event_id))


async def is_empty(conn: Connection) -> bool:
    return not await conn.fetchval("SELECT count(*) FROM audit_log")


async def holds_a_log(conn: Connection) -> bool:
    """Whether the connection's schema has an audit log at all (a mistyped schema has not)."""
    return bool(await conn.fetchval("SELECT to_regclass('audit_log') IS NOT NULL"))


async def last_link(conn: Connection, model: str) -> tuple[int, str] | None:
    """``(model_seq, hash)`` of the model's latest record; ``None`` before its first."""
    row = await conn.fetchrow(
        "SELECT model_seq, hash FROM audit_log WHERE model_name = $1"
        " ORDER BY model_seq DESC LIMIT 1",
        model,
    )
    return (row["model_seq"], row["hash"]) if row else None


async def insert_record(
    conn: Connection, record: AuditRecord, *, time: datetime, chain_hash: str
) -> None:
    await conn.execute(
        "INSERT INTO audit_log (seq, model_name, model_seq, time, actor, action, version,"
        " event_id, event_type, correlation_id, payload_sha256, summary, prev_hash, hash,"
        " chain_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,"
        " $15)",
        record.seq,
        record.model_name,
        record.model_seq,
        time,
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
        chain_hash,
    )


async def insert_checkpoint(conn: Connection, checkpoint: Checkpoint) -> None:
    await conn.execute(
        "INSERT INTO audit_checkpoints (seq, chain_hash, signature) VALUES ($1, $2, $3)"
        " ON CONFLICT (seq) DO NOTHING",
        checkpoint.seq,
        checkpoint.chain_hash,
        checkpoint.signature,
    )


async def checkpoints(conn: Connection) -> list[Checkpoint]:
    rows = await conn.fetch("SELECT seq, chain_hash, signature FROM audit_checkpoints")
    return [Checkpoint(r["seq"], r["chain_hash"], r["signature"]) for r in rows]


async def latest_checkpoint(conn: Connection) -> dict[str, object]:
    """The log's head and its last signed checkpoint (``None`` fields while there is none)."""
    row = await conn.fetchrow(
        "SELECT (SELECT coalesce(max(seq), 0) FROM audit_log) AS head_seq, c.seq,"
        " c.chain_hash, c.created_at FROM (SELECT 1) AS one LEFT JOIN LATERAL"
        " (SELECT * FROM audit_checkpoints ORDER BY seq DESC LIMIT 1) AS c ON true"
    )
    assert row is not None
    return {
        "head_seq": row["head_seq"],
        "seq": row["seq"],
        "chain_hash": row["chain_hash"],
        "created_at": row["created_at"].isoformat() if row["created_at"] else None,
    }


async def records_in_order(
    conn: Connection, page: int = 2000
) -> AsyncGenerator[tuple[AuditRecord, str], None]:
    """Every record with its stored chain hash, in ``seq`` order, read page by page."""
    after = None
    while rows := await conn.fetch(
        "SELECT * FROM audit_log WHERE ($1::bigint IS NULL OR seq > $1) ORDER BY seq LIMIT $2",
        after,
        page,
    ):
        for row in rows:
            yield record_of(row), row["chain_hash"]
        after = rows[-1]["seq"]
