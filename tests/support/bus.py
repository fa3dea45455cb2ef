"""Talking to the broker directly from a test: publish events, read what services emitted."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.bus.kafka import client_options, send_events
from shared.events.common import Payload
from shared.events.envelope import Event, decode, new_event
from shared.settings import Settings
from tests.support.events import is_decision, signed


def kafka_options(bootstrap: str) -> dict[str, Any]:
    """Connection options for a test's own client: the session's credentials (the test
    super user on a broker with ACLs, set in the environment by the ``broker`` fixture)."""
    return client_options(Settings(kafka_bootstrap=bootstrap))


async def publish(
    bootstrap: str, *items: Payload | Event[Any], source: str = "test"
) -> list[Event[Any]]:
    """Publish payloads (wrapped in fresh envelopes; governance's decisions signed as
    governance signs them) or ready events as they are; return the events."""
    events = [
        i
        if isinstance(i, Event)
        else signed(i, source=source)
        if is_decision(i)
        else new_event(i, source=source)
        for i in items
    ]
    await send_events(Settings(kafka_bootstrap=bootstrap), events)
    return events


async def publish_raw(bootstrap: str, topic: str, value: bytes, key: bytes = b"k") -> None:
    producer = AIOKafkaProducer(
        **kafka_options(bootstrap), acks="all", max_request_size=8 * 1024 * 1024
    )
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def collect(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[Any]], bool],
    where: Callable[[Any], bool] = lambda _: True,
    raw: bool = False,
    timeout: float = 60.0,
) -> list[Any]:
    """Read ``topic`` from the beginning until ``until(matches)`` holds; fail at the deadline.

    Items are decoded events (or aiokafka records with ``raw=True``) for which ``where`` holds.
    """
    consumer = AIOKafkaConsumer(
        topic,
        **kafka_options(bootstrap),
        group_id=f"test-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    matches: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while not until(matches):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{topic}: condition not met within {timeout}s; {len(matches)} matches"
                )
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    item = record if raw else decode(record.value)
                    if where(item):
                        matches.append(item)
            await asyncio.sleep(0)
    finally:
        await consumer.stop()
    return matches
