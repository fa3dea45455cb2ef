"""The official CloudEvents SDK reads every event modelbus writes, exactly as the relay sends it.

The Kafka message is built the way the relay builds it: the outbox row that
:func:`shared.bus.outbox.add` writes, turned into producer arguments by the relay.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka_event, from_structured_event

from shared.bus import outbox
from shared.bus.relay import _message
from shared.events.envelope import Event, new_event
from shared.events.topics import TOPICS
from tests.support.events import SAMPLES, signed


class RecordingConnection:
    """Stands in for asyncpg: keeps the outbox row instead of inserting it."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    async def execute(self, query: str, *args: Any) -> str:
        assert query.startswith("INSERT INTO outbox")
        topic, key, _slot, value, headers = args
        self.rows.append({"topic": topic, "key": key, "value": value, "headers": headers})
        return "INSERT 0 1"


async def kafka_message_for(event: Event[Any]) -> tuple[str, KafkaMessage]:
    conn = RecordingConnection()
    await outbox.add(conn, event)  # type: ignore[arg-type]
    topic, value, key, headers = _message(conn.rows[0])  # type: ignore[arg-type]
    return topic, KafkaMessage(headers=dict(headers), key=key, value=value)


def assert_same_event(read: BaseCloudEvent, event: Event[Any]) -> None:
    assert read.get_specversion() == "1.0"
    assert read.get_id() == event.id
    assert read.get_type() == event.type
    assert read.get_source() == event.source
    assert read.get_subject() == event.subject
    assert read.get_time() == event.time
    assert read.get_datacontenttype() == "application/json"
    assert read.get_extension("correlationid") == event.correlationid
    assert read.get_extension("causationid") == event.causationid
    assert type(event.data).model_validate(read.get_data()) == event.data


@pytest.mark.parametrize("name", sorted(TOPICS))
async def test_sdk_reads_every_event_type(name: str) -> None:
    cause = new_event(SAMPLES["training.requested"], source="trainer")
    event = new_event(SAMPLES[name], source="registry", caused_by=cause)

    topic, message = await kafka_message_for(event)

    assert topic == name
    assert message.headers["content-type"] == b"application/cloudevents+json"
    assert message.key == event.key.encode()
    assert_same_event(from_structured_event(message), event)
    # The SDK's mode detection reads ce_* headers as binary mode, so a structured event
    # must not carry any; this reader is what a consumer that does not know us would use.
    assert_same_event(from_kafka_event(message), event)


async def test_first_event_of_a_chain_has_no_causation() -> None:
    event = new_event(SAMPLES["labels.received"], source="monitor")
    _, message = await kafka_message_for(event)
    read = from_kafka_event(message)
    assert read.get_extension("correlationid") == event.id
    assert "causationid" not in read.get_attributes()
    assert orjson.loads(message.value)["data"]["model_name"] == event.key


@pytest.mark.parametrize("name", sorted(n for n, t in TOPICS.items() if t.signed))
async def test_sdk_reads_signed_decisions_with_their_extensions(name: str) -> None:
    event = signed(SAMPLES[name], govseq=7)

    _, message = await kafka_message_for(event)

    read = from_kafka_event(message)
    assert_same_event(read, event)
    assert read.get_extension("govseq") == 7
    assert read.get_extension("govkeyid") == event.govkeyid
    assert read.get_extension("govsig") == event.govsig
