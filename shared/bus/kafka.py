"""Kafka clients configured the one way modelbus uses them, and topic creation at start-up."""

from __future__ import annotations

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from shared.events.topics import TOPICS, Topic
from shared.settings import Settings

log = structlog.get_logger(__name__)

# Topics accept values larger than modelbus' own event limit, so that an oversized value
# from outside reaches the consumer and is dead-lettered with a reason instead of being
# refused at the producer, where nobody would learn of it.
TOPIC_MAX_MESSAGE_BYTES = 8 * 1024 * 1024


def producer_options(settings: Settings, *, idempotent: bool) -> dict[str, object]:
    return {
        "bootstrap_servers": settings.kafka_bootstrap,
        "acks": "all",
        "enable_idempotence": idempotent,
        "linger_ms": 5,
        "max_batch_size": 1_048_576,
        "max_request_size": TOPIC_MAX_MESSAGE_BYTES,
        "request_timeout_ms": 30_000,
    }


async def start_producer(settings: Settings) -> AIOKafkaProducer:
    """A started producer with ``acks=all``, idempotent where the broker supports it.

    With ``MODELBUS_KAFKA_IDEMPOTENCE`` unset we ask the broker: some Kafka-compatible
    brokers (Tansu) advertise InitProducerId but fail it, so the test is to try.
    """
    wanted = settings.kafka_idempotence
    producer = AIOKafkaProducer(**producer_options(settings, idempotent=wanted is not False))
    try:
        await producer.start()
        return producer
    except KafkaError as exc:
        await producer.stop()
        if wanted is True:
            raise
        log.warning(
            "kafka.idempotence_unsupported", bootstrap=settings.kafka_bootstrap, error=repr(exc)
        )
    producer = AIOKafkaProducer(**producer_options(settings, idempotent=False))
    await producer.start()
    return producer


def topic_names(topics: list[Topic] | None = None) -> list[str]:
    chosen = topics if topics is not None else list(TOPICS.values())
    return [name for t in chosen for name in (t.name, t.dead_letter)]


async def ensure_topics(settings: Settings, topics: list[Topic] | None = None) -> None:
    """Create every topic and its dead-letter topic with explicit partitions; existing ones stay."""
    chosen = topics if topics is not None else list(TOPICS.values())
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        config = {"max.message.bytes": str(TOPIC_MAX_MESSAGE_BYTES)}
        wanted = [
            NewTopic(name, t.partitions, 1, topic_configs=config)
            for t in chosen
            for name in (t.name, t.dead_letter)
            if name not in existing
        ]
        for new_topic in wanted:
            try:
                await admin.create_topics([new_topic])
            except TopicAlreadyExistsError:
                pass  # another service created it between list and create
    finally:
        await admin.close()
