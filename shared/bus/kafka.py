"""Kafka clients configured the one way modelbus uses them, and topic creation at start-up.

Every client a modelbus process opens (producer, admin, consumers, faststream's broker)
takes its connection options from :func:`client_options` or :func:`faststream_security`,
so ``MODELBUS_KAFKA_SECURITY_PROTOCOL`` and the SASL settings apply to all of them.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    KafkaError,
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
    for_code,
)
from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)

from shared.events.envelope import CONTENT_TYPE, Event, encode
from shared.events.topics import TOPICS, Topic, topic_for_payload
from shared.settings import Settings

log = structlog.get_logger(__name__)

# Topics accept values larger than modelbus' own event limit, so that an oversized value
# from outside reaches the consumer and is dead-lettered with a reason instead of being
# refused at the producer, where nobody would learn of it.
TOPIC_MAX_MESSAGE_BYTES = 8 * 1024 * 1024
_ALREADY_EXISTS = TopicAlreadyExistsError.errno
_NOT_AUTHORIZED = TopicAuthorizationFailedError.errno


def _ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    return ssl.create_default_context(cafile=cafile)


def client_options(settings: Settings) -> dict[str, Any]:
    """Bootstrap servers and authentication for any aiokafka client (producer, consumer, admin)."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol,
    }
    context = _ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.kafka_security_protocol.startswith("SASL_"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return options


def faststream_security(settings: Settings) -> BaseSecurity | None:
    """The same authentication for faststream's ``KafkaBroker(security=...)``."""
    protocol = settings.kafka_security_protocol
    context = _ssl_context(settings)
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    kind = {
        "SCRAM-SHA-512": SASLScram512,
        "SCRAM-SHA-256": SASLScram256,
        "PLAIN": SASLPlaintext,
    }[settings.kafka_sasl_mechanism]
    return kind(
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password.get_secret_value(),
        ssl_context=context,
        use_ssl=protocol == "SASL_SSL",
    )


def admin_client(settings: Settings, **extra: Any) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**client_options(settings), **extra)


def producer_options(settings: Settings, *, idempotent: bool) -> dict[str, object]:
    return {
        **client_options(settings),
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


async def send_event(producer: AIOKafkaProducer, event: Event[Any]) -> None:
    """Put one event on its topic from a client outside the services (the demo's business
    system, the benches, the tests): keyed and labelled as a service's relay sends it."""
    await producer.send_and_wait(
        topic_for_payload(event.data).name,
        encode(event),
        key=event.key.encode(),
        headers=[("content-type", CONTENT_TYPE.encode())],
    )


async def send_events(settings: Settings, events: Iterable[Event[Any]]) -> None:
    """:func:`send_event` for each of ``events``, in order, through a producer of its own."""
    producer = AIOKafkaProducer(**client_options(settings), acks="all")
    await producer.start()
    try:
        for event in events:
            await send_event(producer, event)
    finally:
        await producer.stop()


def topic_names(topics: list[Topic] | None = None) -> list[str]:
    chosen = topics if topics is not None else list(TOPICS.values())
    return [name for t in chosen for name in (t.name, t.dead_letter)]


async def ensure_topics(settings: Settings, topics: list[Topic] | None = None) -> None:
    """Create every topic and its dead-letter topic with explicit partitions; existing ones stay.

    A broker with ACLs lists only the topics this principal may describe, and lets only
    the admin create topics (``modelbus provision kafka``): a missing topic the principal
    may not create is an error naming the command that provisions it.
    """
    chosen = topics if topics is not None else list(TOPICS.values())
    admin = admin_client(settings)
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
        if not wanted:
            return
        # One request for all: aiokafka answers per topic instead of raising.
        response: Any = await admin.create_topics(wanted)
    finally:
        await admin.close()
    for name, code, *rest in response.topic_errors:
        if code in (0, _ALREADY_EXISTS):  # another service created it between list and create
            continue
        if code == _NOT_AUTHORIZED:
            raise RuntimeError(
                f"topic {name} is missing or not visible to Kafka user "
                f"{settings.kafka_sasl_username or '(anonymous)'}, who may not create it: "
                "run `modelbus provision kafka` with the admin's credentials"
            )
        raise for_code(code)(f"creating topic {name}: {rest[0] if rest else ''}")
