"""The relay's producer: acks=all and, on Apache Kafka, idempotent (no duplicates from retries)."""

from __future__ import annotations

import pytest

from shared.bus.kafka import start_producer
from shared.events.envelope import encode
from shared.settings import Settings
from tests.integration.bus.harness import TOPIC, metrics_event
from tests.support.infra import Broker

pytestmark = pytest.mark.integration


async def test_producer_is_idempotent_on_apache_kafka(
    bus_settings: Settings, broker: Broker, schema: str
) -> None:
    if not broker.is_apache:
        pytest.skip("Tansu has no idempotent producer (InitProducerId fails); CI runs Apache Kafka")
    # Unset idempotence means "ask the broker"; Apache Kafka must answer yes.
    producer = await start_producer(bus_settings.model_copy(update={"kafka_idempotence": None}))
    try:
        # aiokafka keeps these privately: the producer id the broker gave, and the acks level.
        assert producer._txn_manager is not None and producer._txn_manager.producer_id >= 0
        assert producer._sender._acks == -1  # acks=all
        event = metrics_event(schema, 0)
        sent = await producer.send_and_wait(TOPIC.name, encode(event), key=event.key.encode())
        assert sent.offset >= 0
    finally:
        await producer.stop()
