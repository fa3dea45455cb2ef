"""Poison never blocks: what cannot be applied or published is dead-lettered and the rest goes on.

* a handler failing on a local file (an ``OSError`` that is not a connection failure) is
  dead-lettered at once, never retried as if the database were down;
* a handler failing transiently for longer than the deadline: its partition says so in
  ``modelbus_consumer_retrying_seconds``, then the event alone is dead-lettered;
* an outbox row the broker refuses is quarantined after ``max_refusals`` and dead-lettered,
  and the rows behind it are published.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import orjson
import pytest
from aiokafka.admin import NewTopic

from shared.bus import outbox
from shared.bus.consumer import BatchProcessor
from shared.bus.kafka import TOPIC_MAX_MESSAGE_BYTES, admin_client
from shared.bus.unit_of_work import UnitOfWork
from shared.errors import Unavailable
from shared.events.envelope import Event, encode
from shared.settings import Settings
from tests.integration.bus.harness import (
    TOPIC,
    assert_applied_exactly_once,
    drained,
    metric,
    metrics_event,
    record_of,
    recording_handler,
    seq_of,
)
from tests.integration.bus.kafka_io import end_offsets, read_topic, relaying
from tests.support.polling import eventually

pytestmark = pytest.mark.integration


async def dead_letters(pool: asyncpg.Pool) -> list[dict[str, str]]:
    rows = await pool.fetch(
        "SELECT headers FROM outbox WHERE topic = $1 ORDER BY id", TOPIC.dead_letter
    )
    return [orjson.loads(r["headers"]) for r in rows]


def failing_on_seq_1(error: BaseException) -> Any:
    record_effect = recording_handler()
    calls = {"seq 1": 0}

    async def handler(event: Event[Any], uow: UnitOfWork) -> None:
        if seq_of(event) == 1:
            calls["seq 1"] += 1
            raise error
        await record_effect(event, uow)

    handler.calls = calls  # type: ignore[attr-defined]
    return handler


async def test_a_file_that_cannot_be_read_is_dead_lettered_not_retried(
    pool: asyncpg.Pool, schema: str
) -> None:
    events = [metrics_event(schema, seq) for seq in range(3)]
    handler = failing_on_seq_1(PermissionError(13, "Permission denied", "/data/model.onnx"))
    consumer = BatchProcessor(pool, service=schema, consumer=schema, handlers={TOPIC.name: handler})
    records = [record_of(encode(e), partition=2, offset=i) for i, e in enumerate(events)]

    await asyncio.wait_for(consumer.process(records), 10)  # never retried as an outage

    await assert_applied_exactly_once(pool, [events[0], events[2]])
    [letter] = await dead_letters(pool)
    assert (letter["modelbus.dlq.offset"], letter["modelbus.dlq.error_class"]) == (
        "1",
        "PermissionError",
    )
    assert handler.calls["seq 1"] == 2  # once in the batch, once alone: no backoff loop
    assert metric("modelbus_consumer_retries_total", service=schema) == 0


async def test_a_transient_failure_past_the_deadline_dead_letters_that_event_alone(
    pool: asyncpg.Pool, schema: str
) -> None:
    events = [metrics_event(schema, seq) for seq in range(3)]
    handler = failing_on_seq_1(Unavailable("the feature store is down"))
    consumer = BatchProcessor(
        pool,
        service=schema,
        consumer=schema,
        handlers={TOPIC.name: handler},
        retry_deadline_s=1.5,
    )
    records = [record_of(encode(e), partition=0, offset=i) for i, e in enumerate(events)]
    stuck = {"service": schema, "topic": TOPIC.name, "partition": "0"}

    running = asyncio.create_task(consumer.process(records))
    await eventually(
        lambda: _positive(metric("modelbus_consumer_retrying_seconds", **stuck)),
        timeout=10,
        what="the partition reported as retrying",
    )
    await asyncio.wait_for(running, 30)

    await assert_applied_exactly_once(pool, [events[0], events[2]])
    [letter] = await dead_letters(pool)
    assert letter["modelbus.dlq.offset"] == "1"
    assert letter["modelbus.dlq.error_class"] == "RetriesExhausted"
    assert "Unavailable: the feature store is down" in letter["modelbus.dlq.error_message"]
    assert metric("modelbus_consumer_retrying_seconds", **stuck) == 0
    gave_up = metric("modelbus_consumer_retries_exhausted_total", service=schema, topic=TOPIC.name)
    assert gave_up == 1


async def _positive(value: float) -> bool:
    return value > 0


async def test_a_row_the_broker_refuses_is_quarantined_and_the_outbox_moves_on(
    bus_settings: Settings, pool: asyncpg.Pool, schema: str
) -> None:
    """A row larger than any request the producer may send (an older writer, a lowered
    limit) is refused by the producer every time; it must not hold the rows behind it."""
    bootstrap = bus_settings.kafka_bootstrap
    dlq_since = await end_offsets(bootstrap, TOPIC.dead_letter)
    since = await end_offsets(bootstrap, TOPIC.name)
    huge = b"x" * (TOPIC_MAX_MESSAGE_BYTES + 1024)
    good = [metrics_event(f"{schema}-other", seq) for seq in range(3)]
    await pool.execute(
        "INSERT INTO outbox (topic, key, slot, value, headers) VALUES ($1, $2, 0, $3, $4)",
        TOPIC.name,
        schema,
        huge,
        orjson.dumps({"modelbus.event_id": "refused-1"}).decode(),
    )
    async with pool.acquire() as conn:
        await outbox.add(conn, *good)

    async with relaying(bus_settings, pool, schema, max_refusals=3):
        await eventually(lambda: drained(pool), timeout=60, what="every row sent or quarantined")

    [quarantined] = await pool.fetch(
        "SELECT topic, key, value, refusals, error FROM outbox_quarantine"
    )
    assert (quarantined["topic"], quarantined["key"], bytes(quarantined["value"])) == (
        TOPIC.name,
        schema,
        huge,
    )
    assert quarantined["refusals"] == 3
    assert "MessageSizeTooLarge" in quarantined["error"]
    assert (
        metric(
            "modelbus_outbox_quarantined_total",
            service=schema,
            topic=TOPIC.name,
            error_class="MessageSizeTooLargeError",
        )
        == 1
    )

    published = await read_topic(bootstrap, TOPIC.name, since, key=f"{schema}-other")
    assert {orjson.loads(r.value)["id"] for r in published} == {e.id for e in good}
    # The dead letter was queued with the quarantine, and published by the same relay.
    [letter] = await read_topic(bootstrap, TOPIC.dead_letter, dlq_since, key=schema)
    headers = {k: v.decode() for k, v in letter.headers}
    assert headers["modelbus.dlq.quarantined"].startswith(f"{schema}.outbox_quarantine:")
    assert headers["modelbus.dlq.error_class"] == "MessageSizeTooLargeError"
    assert headers["modelbus.dlq.value_truncated_from"] == str(len(huge))
    assert headers["modelbus.event_id"] == "refused-1"


async def test_a_record_batch_the_broker_refuses_counts_against_each_of_its_rows(
    bus_settings: Settings, pool: asyncpg.Pool, schema: str
) -> None:
    """Rows leave as one record batch per partition, and the broker answers per batch: when
    it refuses one (here: larger than its topic allows), every row in it is refused, and the
    rows of other batches are published."""
    small = f"test.{schema}.small"
    admin = admin_client(bus_settings)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(small, 1, 1, topic_configs={"max.message.bytes": "2048"})]
        )
    finally:
        await admin.close()
    since = await end_offsets(bus_settings.kafka_bootstrap, TOPIC.name)
    good = metrics_event(f"{schema}-other", 0)
    async with pool.acquire() as conn, conn.transaction():
        for n in range(2):
            await outbox.add_raw(
                conn, topic=small, key=schema, value=b"x" * 3000, headers={"n": str(n)}
            )
        await outbox.add(conn, good)

    async with relaying(bus_settings, pool, schema, max_refusals=1):
        await eventually(lambda: drained(pool), timeout=60, what="every row sent or quarantined")

    quarantined = await pool.fetch("SELECT topic, headers, error FROM outbox_quarantine")
    assert sorted(orjson.loads(r["headers"])["n"] for r in quarantined) == ["0", "1"]
    assert all(r["topic"] == small and "TooLarge" in r["error"] for r in quarantined)
    published = await read_topic(bus_settings.kafka_bootstrap, TOPIC.name, since)
    assert [orjson.loads(r.value)["id"] for r in published if r.key == good.key.encode()] == [
        good.id
    ]
