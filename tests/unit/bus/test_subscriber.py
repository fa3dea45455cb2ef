"""The faststream subscriber hands whole batches to the processor and commits only after it."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest
from faststream import AckPolicy
from faststream.kafka import TestKafkaBroker
from faststream.kafka.subscriber.usecase import BatchSubscriber

from shared.bus.consumer import Record
from shared.bus.kafka import TOPIC_MAX_MESSAGE_BYTES
from shared.bus.subscriber import storable_headers, subscribe
from shared.settings import Settings


class FakeProcessor:
    """What :func:`subscribe` needs of a BatchProcessor: its topics and ``process``."""

    def __init__(self, topics: list[str], fail: bool = False) -> None:
        self.topics = topics
        self.fail = fail
        self.batches: list[list[Record]] = []

    async def process(self, records: Sequence[Record]) -> None:
        self.batches.append(list(records))
        if self.fail:
            raise RuntimeError("handler bug")


SETTINGS = Settings(kafka_bootstrap="kafka.invalid:9092", consumer_batch_size=123)


async def test_records_reach_the_processor_as_one_batch() -> None:
    processor = FakeProcessor(["labels.received", "model.submitted"])
    broker, joined = subscribe(SETTINGS, processor, group_id="monitor")  # type: ignore[arg-type]

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(b"one", topic="labels.received", key=b"m1")
        await test_broker.publish_batch(b"two", b"three", topic="model.submitted")

    assert [[r.value for r in batch] for batch in processor.batches] == [
        [b"one"],
        [b"two", b"three"],
    ]
    first = processor.batches[0][0]
    assert (first.topic, first.key) == ("labels.received", b"m1")
    assert not joined.is_set()  # only a real group assignment marks the consumer joined


async def test_a_failing_batch_is_not_acknowledged() -> None:
    processor = FakeProcessor(["labels.received"], fail=True)
    broker, _ = subscribe(SETTINGS, processor, group_id="monitor")  # type: ignore[arg-type]

    async with TestKafkaBroker(broker) as test_broker:
        with pytest.raises(RuntimeError, match="handler bug"):
            await test_broker.publish(b"x", topic="labels.received")

    assert len(processor.batches) == 1


def test_offsets_are_committed_by_us_after_processing() -> None:
    processor = FakeProcessor(["labels.received", "model.submitted"])
    broker, _ = subscribe(SETTINGS, processor, group_id="monitor")  # type: ignore[arg-type]

    [subscriber] = broker.subscribers
    assert isinstance(subscriber, BatchSubscriber)
    options = subscriber._connection_args  # what aiokafka's consumer is built with
    assert options["enable_auto_commit"] is False
    assert options["auto_offset_reset"] == "earliest"
    # An oversized value must be fetched to be dead-lettered with a reason.
    assert options["max_partition_fetch_bytes"] >= TOPIC_MAX_MESSAGE_BYTES
    assert subscriber.ack_policy is AckPolicy.NACK_ON_ERROR
    assert subscriber.group_id == "monitor"
    assert subscriber.max_records == 123
    assert sorted(t.name for t in subscriber.topics) == processor.topics


@dataclasses.dataclass(frozen=True)
class HeaderRecord:
    headers: tuple[tuple[str, bytes | None], ...]


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        (b"application/cloudevents+json", b"application/cloudevents+json"),  # ASCII
        ("modèle".encode(), "modèle".encode()),  # UTF-8 beyond ASCII
        (b"\xff\xfeab", "\ufffd\ufffdab".encode()),  # no UTF-8
        (None, b""),
    ],
)
def test_header_values_are_kept_when_utf8_and_made_valid_otherwise(
    value: bytes | None, kept: bytes
) -> None:
    record = HeaderRecord(headers=(("content-type", b"text/plain"), ("x", value)))
    stored = storable_headers(record)
    assert stored.headers == (("content-type", b"text/plain"), ("x", kept))
    if value == kept:
        assert stored is record  # nothing to make valid: the record as fetched
