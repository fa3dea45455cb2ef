"""A batch spanning partitions: each partition is applied in order, in its own transaction,
so a transient failure in one is retried alone and nothing is applied twice."""

from __future__ import annotations

from collections import Counter
from typing import Any

import asyncpg
import pytest

from shared.bus.consumer import BatchProcessor
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
