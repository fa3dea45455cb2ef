"""The faststream side of consuming: one batch subscriber per service, offsets committed last.

``AckPolicy.NACK_ON_ERROR`` with auto-commit off means faststream commits the consumer's
position only after :meth:`BatchProcessor.process` returned, that is after the batch's
transaction committed; if processing raises, the partitions are rewound to the batch's
first offsets and the records are delivered again (the inbox makes that harmless).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import ConsumerRebalanceListener, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage

from shared.bus.consumer import BatchProcessor
from shared.bus.kafka import faststream_security
from shared.settings import Settings


class _Joined(ConsumerRebalanceListener):  # type: ignore[misc]
    """Sets ``joined`` once the consumer has been through its first group assignment."""

    def __init__(self, joined: asyncio.Event) -> None:
        self.joined = joined

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.joined.set()


async def _skip_body(message: StreamMessage[Any]) -> None:
    """The processor decodes and validates records itself; faststream's own decoding
    (JSON-parsing every value) would only double the work."""
    return None


def storable_headers(record: Any) -> Any:
    """``record`` with header values faststream can decode: a value that is no UTF-8 (or
    null) is made valid the way its dead letter records it anyway (invalid bytes as U+FFFD,
    null as empty). faststream decodes every header value of a batch strictly before the
    processor sees it, so one such header would fail the whole batch, which would be
    fetched again forever: every partition in it would stall."""
    headers = record.headers or ()
    if all(isinstance(v, bytes) and (v.isascii() or _is_utf8(v)) for _, v in headers):
        return record
    safe = tuple((k, (v or b"").decode("utf-8", "replace").encode()) for k, v in headers)
    return dataclasses.replace(record, headers=safe)


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode()
    except UnicodeDecodeError:
        return False
    return True


async def _tolerant_parser(
    records: Any, parse: Callable[[Any], Awaitable[StreamMessage[Any]]]
) -> StreamMessage[Any]:
    if isinstance(records, tuple | list):
        return await parse(tuple(storable_headers(r) for r in records))
    return await parse(storable_headers(records))


def subscribe(
    settings: Settings, processor: BatchProcessor, *, group_id: str
) -> tuple[KafkaBroker, asyncio.Event]:
    broker = KafkaBroker(
        settings.kafka_bootstrap, logger=None, security=faststream_security(settings)
    )
    joined = asyncio.Event()

    @broker.subscriber(
        *processor.topics,
        group_id=group_id,
        batch=True,
        max_records=settings.consumer_batch_size,
        # An idle subscriber wakes every 2 x batch_timeout_ms (faststream sleeps as long again
        # after an empty fetch) and the broker holds an empty fetch for fetch_max_wait_ms:
        # records still arrive at once (both return as soon as data is there), but an idle
        # service costs a fraction of what 100 ms and 500 ms cost.
        batch_timeout_ms=250,
        fetch_max_wait_ms=1000,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        listener=_Joined(joined),
        max_partition_fetch_bytes=8 * 1024 * 1024,
        # A killed consumer never leaves its group: its partitions wait for this timeout
        # before a restarted (or another) replica gets them. Kafka's minimum, 6 s, keeps a
        # supervised restart ready within seconds.
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=settings.kafka_session_timeout_ms // 3,
        decoder=_skip_body,
        parser=_tolerant_parser,
    )
    async def on_batch(message: KafkaMessage) -> None:
        records = message.raw_message
        # A tuple from aiokafka's getmany, a list from faststream's TestKafkaBroker.
        await processor.process(records if isinstance(records, tuple | list) else (records,))

    return broker, joined
