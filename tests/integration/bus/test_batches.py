"""A batch spanning partitions: each partition is applied in order, in its own transaction,
so a transient failure in one is retried alone and nothing is applied twice."""

from __future__ import annotations

from collections import Counter
from typing import Any

import asyncpg
import pytest

from shared.bus.consumer import BatchProcessor, batch
from shared.bus.unit_of_work import UnitOfWork
from shared.errors import Unavailable
from shared.events.envelope import Event, encode
from tests.integration.bus.harness import (
    TOPIC,
    assert_applied_exactly_once,
    metric,
    metrics_event,
    record_of,
    recording_handler,
    seq_of,
)

pytestmark = pytest.mark.integration


async def test_transient_failure_in_one_partition_retries_that_partition(
    pool: asyncpg.Pool, schema: str
) -> None:
    events = {
        p: [metrics_event(f"{schema}-p{p}", seq) for seq in range(p * 10, p * 10 + 10)]
        for p in range(3)
    }
    # Interleaved, as a fetch across partitions returns them.
    records = [
        record_of(encode(events[p][i]), partition=p, offset=i, key=events[p][i].key.encode())
        for i in range(10)
        for p in range(3)
    ]
    record_effect, calls = recording_handler(), Counter[str]()

    async def flaky(event: Event[Any], uow: UnitOfWork) -> None:
        calls[event.key] += 1
        await record_effect(event, uow)
        if seq_of(event) == 15 and calls[event.key] == 6:  # partition 1, first attempt
            raise Unavailable("database hiccup")

    processor = BatchProcessor(
        pool, service=schema, consumer=schema, handlers={TOPIC.name: flaky}, concurrency=2
    )
    await processor.process(records)

    await assert_applied_exactly_once(pool, [e for part in events.values() for e in part])
    assert metric("modelbus_consumer_retries_total", service=schema) == 1
    # Partition 1 ran 6 records, failed, and ran all 10 again; the others ran once.
    assert [calls[events[p][0].key] for p in range(3)] == [10, 16, 10]
    rows = await pool.fetch("SELECT model, seq FROM effects ORDER BY n")
    for part in events.values():  # each partition applied in log order
        assert [r["seq"] for r in rows if r["model"] == part[0].key] == [seq_of(e) for e in part]


async def test_a_batch_handler_applies_a_run_at_once_and_a_poison_event_alone_is_dead_lettered(
    pool: asyncpg.Pool, schema: str
) -> None:
    events = [metrics_event(f"{schema}-m", seq) for seq in range(20)]
    records = [record_of(encode(e), partition=0, offset=i) for i, e in enumerate(events)]
    calls: list[int] = []

    async def insert_all(batch_of: list[Event[Any]], uow: UnitOfWork) -> None:
        calls.append(len(batch_of))
        if any(seq_of(e) == 7 for e in batch_of):
            raise ValueError("seq 7 cannot be applied")
        await uow.conn.executemany(
            "INSERT INTO effects (event_id, model, seq) VALUES ($1, $2, $3)",
            [(e.id, e.key, seq_of(e)) for e in batch_of],
        )

    processor = BatchProcessor(
        pool, service=schema, consumer=schema, handlers={TOPIC.name: batch(insert_all)}
    )
    await processor.process(records + records[:3])  # with three redeliveries

    # One call for the whole run; after it failed, one call per event in isolation.
    assert calls == [20] + [1] * 20
    rows = await pool.fetch("SELECT seq FROM effects ORDER BY n")
    assert [r["seq"] for r in rows] == [s for s in range(20) if s != 7]
    dead = await pool.fetch("SELECT headers FROM outbox WHERE topic = $1", TOPIC.dead_letter)
    assert len(dead) == 1
    assert "seq 7 cannot be applied" in dead[0]["headers"]
