"""Inbox: one event delivered five times, at once or one after another, has one effect."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from shared.events.envelope import encode
from shared.settings import Settings
from tests.integration.bus.harness import (
    TOPIC,
    assert_applied_exactly_once,
    count,
    metric,
    metrics_event,
    processor,
    record_of,
)
from tests.integration.bus.kafka_io import caught_up, consuming, produce, start_group_at_end

pytestmark = pytest.mark.integration


async def test_five_concurrent_deliveries_apply_once(pool: asyncpg.Pool, schema: str) -> None:
    event = metrics_event(schema, 1)
    record = record_of(encode(event), offset=42, key=event.key.encode())
    # The slow handler keeps the first transaction open while the other four claim the id.
    slow = processor(pool, schema, delay_s=0.2)

    await asyncio.gather(*(slow.process([record]) for _ in range(5)))

    await assert_applied_exactly_once(pool, [event])
    assert await count(pool, "SELECT count(*) FROM inbox WHERE consumer = $1", schema) == 1
    assert metric("modelbus_events_duplicate_total", service=schema, topic=TOPIC.name) == 4


async def test_five_redeliveries_through_kafka_apply_once(
    bus_settings: Settings, pool: asyncpg.Pool, schema: str
) -> None:
    await start_group_at_end(bus_settings.kafka_bootstrap, schema)
    event = metrics_event(schema, 1)

    async with consuming(bus_settings, processor(pool, schema)):
        for _ in range(5):
            await caught_up(
                bus_settings.kafka_bootstrap,
                schema,
                await produce(bus_settings.kafka_bootstrap, event),
            )

    await assert_applied_exactly_once(pool, [event])
    assert metric("modelbus_events_duplicate_total", service=schema, topic=TOPIC.name) == 4
