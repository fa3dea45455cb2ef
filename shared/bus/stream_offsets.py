"""Consumer offsets kept in Postgres beside the state the consumed records produced.

A stream consumer (:mod:`shared.bus.stream`) applies a partition's records and saves the
next offset in the same transaction, so the state and the position can never disagree: a
crash before the commit leaves both as they were, a crash after leaves both advanced.
:func:`lock` takes the partition's row ``FOR UPDATE`` first: two consumers that both
believe they own a partition (the old owner still finishing a batch during a rebalance)
apply it one after the other, and the second sees where the first stopped.
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.store.db import Connection


async def lock(conn: Connection, consumer: str, topic: str, partition: int) -> int | None:
    """The next offset to apply in ``partition``, locked until the transaction ends; None
    if nothing was ever applied there."""
    await conn.execute(
        "INSERT INTO stream_offsets (consumer, topic, partition, next_offset)"
        " VALUES ($1, $2, $3, -1) ON CONFLICT DO NOTHING",
        consumer,
        topic,
        partition,
    )
    value = await conn.fetchval(
        "SELECT next_offset FROM stream_offsets WHERE consumer = $1 AND topic = $2"
        " AND partition = $3 FOR UPDATE",
        consumer,
        topic,
        partition,
    )
    return None if value is None or value < 0 else int(value)


async def save(
    conn: Connection, consumer: str, topic: str, partition: int, next_offset: int, high: int
) -> None:
    await conn.execute(
        "UPDATE stream_offsets SET next_offset = $4::bigint,"
        " high_watermark = greatest($5::bigint, $4::bigint),"
        " updated_at = now() WHERE consumer = $1 AND topic = $2 AND partition = $3",
        consumer,
        topic,
        partition,
        next_offset,
        high,
    )


async def stored(
    conn: Connection, consumer: str, topic: str, partitions: Iterable[int]
) -> dict[int, int]:
    """Next offsets of the partitions that have one (where a new owner resumes)."""
    rows = await conn.fetch(
        "SELECT partition, next_offset FROM stream_offsets WHERE consumer = $1 AND topic = $2"
        " AND partition = ANY($3::int[]) AND next_offset >= 0",
        consumer,
        topic,
        list(partitions),
    )
    return {int(r["partition"]): int(r["next_offset"]) for r in rows}


async def lag(conn: Connection, consumer: str, topic: str) -> dict[int, int]:
    """Records behind the end of each partition, as of the last batch applied there."""
    rows = await conn.fetch(
        "SELECT partition, high_watermark - next_offset AS lag FROM stream_offsets"
        " WHERE consumer = $1 AND topic = $2 AND next_offset >= 0",
        consumer,
        topic,
    )
    return {int(r["partition"]): max(0, int(r["lag"])) for r in rows}
