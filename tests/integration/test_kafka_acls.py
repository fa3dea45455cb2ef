"""The broker itself refuses what a service's Kafka user may not do (SASL/SCRAM + ACLs).

Runs on Apache Kafka with the StandardAuthorizer (``tests/support/infra.py``); an open
broker (Tansu) has no users to tell apart, so these tests skip there.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    TopicAuthorizationFailedError,
)

from services.registry.bootstrap import definition as registry
from shared.bus.kafka import client_options, ensure_topics, start_producer
from shared.events.deployment import ModelDeployed
from shared.events.envelope import CONTENT_TYPE, encode, new_event
from shared.events.topics import Topic
from tests.support import events
from tests.support.infra import Broker
from tests.support.services import running

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


@pytest.fixture
def acl_broker(broker: Broker) -> Broker:
    if not broker.has_acls:
        pytest.skip(f"the {broker.kind} broker runs without users and ACLs")
    return broker


async def _send(broker: Broker, user: str, topic: str, value: bytes) -> None:
    producer = await start_producer(broker.settings_for(user))
    try:
        await producer.send_and_wait(
            topic, value, key=b"k", headers=[("content-type", CONTENT_TYPE.encode())]
        )
    finally:
        await producer.stop()


@pytest.mark.parametrize("user", ["deployer", "registry"])
async def test_a_forged_approval_is_refused_by_the_broker(
    acl_broker: Broker, user: str, unique: str
) -> None:
    forged = encode(new_event(events.approved(f"forged-{unique}"), source="/modelbus/governance"))
    with pytest.raises(TopicAuthorizationFailedError):
        await _send(acl_broker, user, "model.approved", forged)


async def test_a_service_writes_the_topics_it_produces(acl_broker: Broker, unique: str) -> None:
    await _send(
        acl_broker,
        "deployer",
        "model.deployed",
        encode(new_event(events.deployed(unique), source="/modelbus/deployer")),
    )
    await _send(
        acl_broker,
        "governance",
        "model.approved",
        encode(new_event(events.approved(unique), source="/modelbus/governance")),
    )


async def test_a_service_may_not_create_topics(acl_broker: Broker, unique: str) -> None:
    planted = Topic(f"planted-{unique}", ModelDeployed, ("trainer",), ("trainer",), "not ours")
    with pytest.raises(RuntimeError, match="may not create it: run `modelbus provision kafka`"):
        await ensure_topics(acl_broker.settings_for("trainer"), [planted])


async def test_wrong_password_is_refused(acl_broker: Broker) -> None:
    settings = acl_broker.settings_for("deployer", kafka_sasl_password="not-the-deployers-password")
    producer = AIOKafkaProducer(**client_options(settings), request_timeout_ms=5000)
    with pytest.raises(KafkaError):
        await producer.start()
    await producer.stop()


async def _read_one_batch(consumer: AIOKafkaConsumer) -> None:
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            while True:  # until the broker's answer about the topic arrives
                await consumer.getmany(timeout_ms=500)
    finally:
        await consumer.stop()


async def test_a_service_cannot_read_a_topic_it_does_not_consume(
    acl_broker: Broker, unique: str
) -> None:
    # The trainer consumes drift and performance alerts, never the prediction log.
    consumer = AIOKafkaConsumer(
        "predictions.logged",
        **client_options(acl_broker.settings_for("trainer")),
        group_id=f"trainer-{unique}",
        auto_offset_reset="earliest",
    )
    with pytest.raises(TopicAuthorizationFailedError):
        await _read_one_batch(consumer)


async def test_a_service_cannot_join_another_services_group(acl_broker: Broker) -> None:
    consumer = AIOKafkaConsumer(
        "drift.detected",
        **client_options(acl_broker.settings_for("trainer")),
        group_id="deployer-0",
        auto_offset_reset="earliest",
    )
    with pytest.raises(GroupAuthorizationFailedError):
        await _read_one_batch(consumer)


async def test_a_service_runs_on_its_own_kafka_user(
    acl_broker: Broker, database_url: str, tmp_path
) -> None:
    """The registry joins its group, consumes its topics and relays its outbox as itself."""
    settings = acl_broker.settings_for(
        "registry",
        database_url=database_url,
        home=tmp_path,
        http_port=0,
        decision_keys=[events.DECISION_KEY],
    )
    async with running(registry(), settings) as service:
        assert service.ready.is_set()
