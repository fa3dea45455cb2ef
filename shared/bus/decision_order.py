"""Replay protection for governance's decisions, per consumer, topic and model.

Governance publishes one model's decisions on a topic in the order of their ``govseq``
(one key, one partition, the outbox in order), so each new decision a consumer sees there
has a higher ``govseq`` than the last one it acted on. A validly signed decision whose
``govseq`` is not higher was produced again by someone: a replay. A record at or before the
offset of the last decision acted on is a redelivery of what was read before (a crash
before the offsets were committed, a rewound partition); it goes on to the inbox, which
skips it. Runs in the transaction that applies the batch, so the mark moves with the effect.
"""

from __future__ import annotations

from typing import Literal

from shared.store.db import Connection

Admission = Literal["new", "redelivered", "replayed"]


async def admit(
    conn: Connection, consumer: str, topic: str, model: str, govseq: int, offset: int
) -> tuple[Admission, int]:
    """Whether a decision is new, redelivered or replayed, and the govseq it was judged
    against (its own when new); a new one moves the consumer's mark."""
    moved = await conn.fetchval(
        "INSERT INTO decision_order AS d (consumer, topic, model_name, govseq, record_offset)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (consumer, topic, model_name) DO UPDATE"
        " SET govseq = EXCLUDED.govseq, record_offset = EXCLUDED.record_offset"
        " WHERE d.govseq < EXCLUDED.govseq RETURNING true",
        consumer,
        topic,
        model,
        govseq,
        offset,
    )
    if moved:
        return "new", govseq
    row = await conn.fetchrow(
        "SELECT govseq, record_offset FROM decision_order"
        " WHERE consumer = $1 AND topic = $2 AND model_name = $3",
        consumer,
        topic,
        model,
    )
    assert row is not None
    if offset <= row["record_offset"]:
        return "redelivered", row["govseq"]
    return "replayed", row["govseq"]
