"""Outbox and relay: a crash between publishing and marking loses nothing and applies nothing
twice; a rolled-back transaction publishes nothing; two relays keep each key's order."""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka_event

from shared.bus import outbox
from shared.bus.kafka import start_producer
from shared.bus.relay import OutboxRelay
from shared.bus.unit_of_work import Transactions
from shared.events.envelope import Event, decode
from shared.settings import Settings
from tests.integration.bus.harness import (
    TOPIC,
    assert_applied_exactly_once,
    count,
    drained,
    has_effects,
    metric,
    metrics_payload,
    processor,
    seq_of,
    unsent,
)
from tests.integration.bus.kafka_io import (
    consuming,
    end_offsets,
    produce,
    read_topic,
    relaying,
    start_group_at_end,
)
from tests.integration.bus.processes import exit_code, spawn, stop, wait_for_line
from tests.support.polling import eventually

pytestmark = pytest.mark.integration


async def write_events(
    pool: asyncpg.Pool,
    schema: str,
    keys: list[str],
    n: int,
    *,
    per_transaction: int,
    first: int = 0,
) -> list[Event[Any]]:
    """Emit events numbered ``first..first+n-1`` for every key, ``per_transaction`` at a time."""
    events: list[Event[Any]] = []
    for start in range(first, first + n, per_transaction):
        async with Transactions(pool, schema).begin() as uow:
            for seq in range(start, min(start + per_transaction, first + n)):
                for key in keys:
                    events.append(await uow.emit(metrics_payload(key, seq)))
    return events


def relay_args(settings: Settings, schema: str, batch_size: int, die_at: int = 0) -> list[str]:
    return [
        "--database-url",
        settings.database_url,
        "--bootstrap",
        settings.kafka_bootstrap,
        "--schema",
        schema,
        "--batch-size",
        str(batch_size),
        "--die-before-marking-batch",
        str(die_at),
    ]


async def test_relay_killed_after_publishing_before_marking_loses_and_repeats_nothing(
    bus_settings: Settings, pool: asyncpg.Pool, schema: str, tmp_path: Path
) -> None:
    n, batch = 300, 50
    since = await start_group_at_end(bus_settings.kafka_bootstrap, schema)
    events = await write_events(pool, schema, [schema], n, per_transaction=25)

    async with consuming(bus_settings, processor(pool, schema)):
        dying = spawn(
            "relay_process",
            tmp_path / "relay-1.log",
            *relay_args(bus_settings, schema, batch, die_at=3),
        )
        assert await exit_code(dying) == -signal.SIGKILL
        # Batches 1 and 2 were marked; batch 3 reached Kafka but its marking died with it.
        assert await unsent(pool) == n - 2 * batch

        restarted = spawn(
            "relay_process", tmp_path / "relay-2.log", *relay_args(bus_settings, schema, batch)
        )
        try:
            await eventually(lambda: has_effects(pool, n), timeout=60, what=f"{n} effects")
            await eventually(lambda: drained(pool), what="outbox drained")
        finally:
            stop(restarted)

    records = await read_topic(bus_settings.kafka_bootstrap, TOPIC.name, since, key=schema)
    assert len(records) == n + batch  # at least once: batch 3 went out twice
    assert sorted({decode(r.value).id for r in records}) == sorted(e.id for e in events)
    await assert_applied_exactly_once(pool, events)
    assert metric("modelbus_events_duplicate_total", service=schema, topic=TOPIC.name) == batch
    # What went over the wire is readable by the CloudEvents SDK as it arrived.
    sample = records[0]
    read = from_kafka_event(KafkaMessage(dict(sample.headers), sample.key, sample.value))
    assert read.get_id() == decode(sample.value).id


async def test_rolled_back_transaction_publishes_nothing(
    bus_settings: Settings, pool: asyncpg.Pool, schema: str
) -> None:
    since = await start_group_at_end(bus_settings.kafka_bootstrap, schema)
    with pytest.raises(RuntimeError, match="state change failed"):
        async with Transactions(pool, schema).begin() as uow:
            await uow.emit(metrics_payload(schema, 0))
            await uow.emit(metrics_payload(schema, 1))
            raise RuntimeError("state change failed")
    async with Transactions(pool, schema).begin() as uow:
        committed = await uow.emit(metrics_payload(schema, 2))
    assert await count(pool, "SELECT count(*) FROM outbox") == 1

    async with relaying(bus_settings, pool, schema):
        await eventually(lambda: drained(pool), what="outbox drained")

    records = await read_topic(bus_settings.kafka_bootstrap, TOPIC.name, since, key=schema)
    assert [decode(r.value) for r in records] == [committed]


def first_occurrences(records: list[Any]) -> dict[str, list[int]]:
    """Per key, the sequence numbers in the order they first appear in the log."""
    seen: set[str] = set()
    order: dict[str, list[int]] = {}
    for record in records:
        event = decode(record.value)
        if event.id not in seen:
            seen.add(event.id)
            order.setdefault(event.key, []).append(seq_of(event))
    return order


async def test_two_relays_on_one_outbox_keep_each_keys_order(
    bus_settings: Settings, pool: asyncpg.Pool, schema: str, tmp_path: Path
) -> None:
    keys, per_key = [f"{schema}-k{i}" for i in range(4)], 100
    since = await start_group_at_end(bus_settings.kafka_bootstrap, schema)
    logs = [tmp_path / "relay-a.log", tmp_path / "relay-b.log"]
    relays = [spawn("relay_process", log, *relay_args(bus_settings, schema, 50)) for log in logs]
    try:
        for relay, log in zip(relays, logs, strict=True):
            await wait_for_line(relay, log, "ready")
        # Rounds of small transactions, less than a batch per round: a relay that finds less
        # than a batch pauses, so the two take turns on every key while rows keep arriving.
        events = []
        for first in range(0, per_key, 5):
            events += await write_events(pool, schema, keys, 5, first=first, per_transaction=1)
            await eventually(lambda: drained(pool), timeout=60, what="outbox drained")
    finally:
        for relay in relays:
            stop(relay)
    published = [int(re.findall(r"^published (\d+)$", log.read_text(), re.M)[-1]) for log in logs]
    assert all(p > 0 for p in published), f"both relays must take part: {published}"

    mine = {key.encode() for key in keys}
    records = [
        r
        for r in await read_topic(bus_settings.kafka_bootstrap, TOPIC.name, since)
        if r.key in mine
    ]
    assert len(records) == sum(published)
    # Duplicates would be allowed (at least once); a reordering never is.
    assert first_occurrences(records) == {key: list(range(per_key)) for key in keys}
    assert len({decode(r.value).id for r in records}) == len(events)


async def test_relayed_rows_keep_the_producers_partition_and_each_keys_order_past_a_batch(
    bus_settings: Settings, pool: asyncpg.Pool, schema: str
) -> None:
    """The relay sends a partition's rows as record batches: each key lands where the
    producer's own ``send`` puts it, and rows past one batch's size leave in more batches,
    in order, each exactly once."""
    bootstrap = bus_settings.kafka_bootstrap
    keys = [f"{schema}-k{i}" for i in range(6)]
    # Where the producer puts each key: one probe record per key through producer.send.
    probes = await produce(bootstrap, *((k.encode(), b"probe") for k in keys))
    expected = {k.encode(): p.partition for k, p in zip(keys, probes, strict=True)}
    since = await end_offsets(bootstrap, TOPIC.name)
    value = b"v" * 300_000  # 4 per key: every partition's rows fill more than one 1 MiB batch
    async with pool.acquire() as conn, conn.transaction():
        for seq in range(4):
            for key in keys:
                await outbox.add_raw(
                    conn, topic=TOPIC.name, key=key, value=value, headers={"seq": str(seq)}
                )

    async with relaying(bus_settings, pool, schema):
        await eventually(lambda: drained(pool), timeout=60, what="outbox drained")

    records = [r for r in await read_topic(bootstrap, TOPIC.name, since) if r.key in expected]
    assert {r.key: r.partition for r in records} == expected
    order: dict[bytes, list[int]] = {}
    for r in records:
        order.setdefault(r.key, []).append(int(dict(r.headers)["seq"]))
    assert order == {k.encode(): [0, 1, 2, 3] for k in keys}
    assert all(r.value == value for r in records)


async def test_a_pass_over_a_backlog_publishes_its_oldest_rows_up_to_a_batch(
    bus_settings: Settings, pool: asyncpg.Pool, schema: str
) -> None:
    keys = [f"{schema}-k{i}" for i in range(5)]
    await write_events(pool, schema, keys, 6, per_transaction=3)  # 30 rows, ids in order
    producer = await start_producer(bus_settings)
    try:
        relay = OutboxRelay(pool, producer, schema=schema, batch_size=12)
        assert await relay.publish_once() == 12
    finally:
        await producer.stop()
    sent = await pool.fetch("SELECT id FROM outbox WHERE sent_at IS NOT NULL ORDER BY id")
    oldest = await pool.fetch("SELECT id FROM outbox ORDER BY id LIMIT 12")
    assert sent == oldest
    assert await unsent(pool) == 18
