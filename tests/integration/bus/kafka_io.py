"""Kafka as the bus tests see it: produce, read back, and follow a consumer group's offsets.

Each test's consumer group starts at the topic's current end (:func:`start_group_at_end`),
so it sees only what the test itself produced, however much earlier tests left there.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.structs import RecordMetadata

from shared.bus.consumer import BatchProcessor
from shared.bus.kafka import TOPIC_MAX_MESSAGE_BYTES, start_producer
from shared.bus.relay import OutboxRelay
from shared.bus.subscriber import subscribe
from shared.events.envelope import Event, encode
from shared.events.topics import TOPICS
from shared.settings import Settings
from tests.integration.bus.harness import TOPIC
from tests.support.bus import kafka_options
from tests.support.polling import eventually

Offsets = dict[int, int]
PARTITIONS = {n: t.partitions for t in TOPICS.values() for n in (t.name, t.dead_letter)}


async def produce(
    bootstrap: str,
    *items: Event[Any] | tuple[bytes, bytes],
    headers: list[tuple[str, bytes | None]] | None = None,
) -> list[RecordMetadata]:
    """Send events (or raw ``(key, value)`` pairs) to :data:`TOPIC` in order; acks=all;
    each with ``headers``, if given."""
    producer = AIOKafkaProducer(
        **kafka_options(bootstrap), acks="all", max_request_size=TOPIC_MAX_MESSAGE_BYTES
    )
    await producer.start()
    try:
        sent = []
        for item in items:
            key, value = item if isinstance(item, tuple) else (item.key.encode(), encode(item))
            sent.append(await producer.send(TOPIC.name, value, key=key, headers=headers))
        return list(await asyncio.gather(*sent))
    finally:
        await producer.stop()


async def end_offsets(bootstrap: str, topic: str) -> Offsets:
    consumer = AIOKafkaConsumer(**kafka_options(bootstrap))
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS[topic])]
        ends = await consumer.end_offsets(partitions)
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def start_group_at_end(bootstrap: str, group: str, topic: str = TOPIC.name) -> Offsets:
    """Commit the topic's end offsets for ``group``: it then skips earlier tests' records."""
    ends = await end_offsets(bootstrap, topic)
    consumer = AIOKafkaConsumer(
        **kafka_options(bootstrap), group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in ends])
        await consumer.commit({TopicPartition(topic, p): o for p, o in ends.items()})
    finally:
        await consumer.stop()
    return ends


async def committed(bootstrap: str, group: str, topic: str = TOPIC.name) -> Offsets:
    consumer = AIOKafkaConsumer(
        **kafka_options(bootstrap), group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        result = {}
        for p in range(PARTITIONS[topic]):
            result[p] = await consumer.committed(TopicPartition(topic, p)) or 0
        return result
    finally:
        await consumer.stop()


async def read_topic(
    bootstrap: str, topic: str, since: Offsets, *, key: str | None = None
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record from ``since`` up to the end as of now, in log order per partition."""
    until = await end_offsets(bootstrap, topic)
    consumer = AIOKafkaConsumer(
        **kafka_options(bootstrap),
        enable_auto_commit=False,
        max_partition_fetch_bytes=TOPIC_MAX_MESSAGE_BYTES,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        partitions = [TopicPartition(topic, p) for p in until]
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, since.get(tp.partition, 0))
        pending = {tp for tp in partitions if since.get(tp.partition, 0) < until[tp.partition]}
        async with asyncio.timeout(30):
            while pending:
                for tp, batch in (await consumer.getmany(*pending, timeout_ms=500)).items():
                    records.extend(r for r in batch if r.offset < until[tp.partition])
                    if await consumer.position(tp) >= until[tp.partition]:
                        pending.discard(tp)
    finally:
        await consumer.stop()
    return [r for r in records if key is None or r.key == key.encode()]


@asynccontextmanager
async def relaying(
    settings: Settings, pool: asyncpg.Pool, schema: str, **options: Any
) -> AsyncIterator[None]:
    """The real :class:`OutboxRelay` publishing ``schema``'s outbox while the block runs
    (``options`` as the relay takes them, e.g. ``max_refusals``)."""
    producer = await start_producer(settings)
    task = asyncio.create_task(OutboxRelay(pool, producer, schema=schema, **options).run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await producer.stop()


@asynccontextmanager
async def consuming(settings: Settings, batch_processor: BatchProcessor) -> AsyncIterator[None]:
    """The real faststream subscriber of :mod:`shared.bus.subscriber`, joined and consuming."""
    broker, joined = subscribe(settings, batch_processor, group_id=batch_processor.consumer)
    await broker.start()
    try:
        await asyncio.wait_for(joined.wait(), 60)
        yield
    finally:
        await broker.stop()


async def caught_up(bootstrap: str, group: str, records: Iterable[RecordMetadata]) -> None:
    """Wait until ``group`` has committed past every one of ``records``."""
    wanted: Offsets = {}
    for r in records:
        wanted[r.partition] = max(wanted.get(r.partition, 0), r.offset + 1)

    async def done() -> bool:
        now = await committed(bootstrap, group)
        return all(now[p] >= o for p, o in wanted.items())

    await eventually(done, timeout=60, interval=0.2, what=f"{group} committed {wanted}")
