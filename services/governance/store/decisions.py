"""Governance's decision sequence (signed into every decision it emits)."""

from __future__ import annotations

from shared.store.db import Connection


async def next_decision_seq(conn: Connection) -> int:
    """The next govseq; callers hold the audit chain head (see ``AuditLog.lock``)."""
    value = await conn.fetchval("SELECT nextval('decision_seq')")
    return int(value)
