"""Predictions folded from the stream exactly once: through a SIGKILL of the monitor
mid-ingest and a restart, and through rebalances between two monitor processes.

The monitors run as processes of their own (``modelbus service monitor``), on the
session's Postgres and broker. Every prediction has its own request id, so the unique
key alone could hide a batch applied twice; garbage records in the same partitions
are dead-lettered, and a batch applied twice would queue their dead letters twice.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from modelbus.embedded import pick_free_port
from shared.events.envelope import Event, encode, new_event
from shared.events.topics import TOPICS
from shared.settings import Settings
from tests.integration.monitor.helpers import prediction, publish_many, registered
from tests.support.bus import kafka_options
from tests.support.polling import eventually

pytestmark = pytest.mark.integration

N = 12_000
GARBAGE = 30
THRESHOLDS: dict[str, float] = {"window_size": 500, "min_rows": 100, "window_seconds": 3600}


@contextmanager
def monitor_process(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "MODELBUS_DATABASE_URL": settings.database_url,
        "MODELBUS_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "MODELBUS_HTTP_PORT": str(pick_free_port()),
        "MODELBUS_HOME": str(settings.home),
        "MODELBUS_ARTIFACT_STORE": settings.artifact_store_url(),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelbus", "service", "monitor"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)


async def _scalar(url: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def _stored(url: str, models: list[str]) -> int:
    return int(
        await _scalar(
            url, "SELECT count(*) FROM monitor.predictions WHERE model_name = ANY($1)", models
        )
    )


async def _counted(url: str, models: list[str]) -> int:
    return int(
        await _scalar(
            url,
            "SELECT coalesce(sum(count), 0) FROM monitor.windows WHERE kind = 'data'"
            " AND model_name = ANY($1)",
            models,
        )
    )


async def _dead_letters(url: str, models: list[str]) -> int:
    return int(
        await _scalar(
            url,
            "SELECT count(*) FROM monitor.outbox WHERE topic = 'predictions.logged.dlq'"
            " AND key = ANY($1)",
            models,
        )
    )


async def _ends(bootstrap: str) -> dict[int, int]:
    topic = TOPICS["predictions.logged"]
    consumer = AIOKafkaConsumer(**kafka_options(bootstrap))
    await consumer.start()
    try:
        parts = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        return {tp.partition: end for tp, end in (await consumer.end_offsets(parts)).items()}
    finally:
        await consumer.stop()


async def _caught_up(url: str, ends: dict[int, int]) -> bool:
    """Every partition's stored offset is at its end (as it was once everything was sent)."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT partition, next_offset FROM monitor.stream_offsets"
            " WHERE consumer = 'monitor-predictions.logged'"
        )
    finally:
        await conn.close()
    stored = {r["partition"]: r["next_offset"] for r in rows}
    return all(stored.get(p, 0) >= end for p, end in ends.items() if end > 0)


async def _setup(settings: Settings, unique: str) -> tuple[list[str], list[Event[Any]]]:
    rng = np.random.default_rng(3)
    models = [f"stream-{unique}-{i}" for i in range(4)]
    reference = rng.normal(size=(2000, 4))
    await publish_many(
        settings.kafka_bootstrap,
        [await registered(settings, m, reference, thresholds=THRESHOLDS) for m in models],
    )
    rows = rng.normal(size=(N, 4))
    traffic: list[Event[Any]] = [
        new_event(prediction(models[i % len(models)], rows[i], request_id=f"{unique}-{i}"), source="t")
        for i in range(N)
    ]  # fmt: skip
    return models, traffic


async def _publish(bootstrap: str, traffic: list[Event[Any]]) -> None:
    """The traffic in order, with a garbage record for every model every N/GARBAGE*4
    predictions, so that dead letters are spread over every partition's batches."""
    topic = TOPICS["predictions.logged"].name
    every = len(traffic) // GARBAGE
    producer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all", linger_ms=5)
    await producer.start()
    try:
        acks = []
        for i, event in enumerate(traffic):
            key = event.key.encode()
            if i % every == 0:
                acks.append(await producer.send(topic, b"not an event", key=key))
            acks.append(await producer.send(topic, encode(event), key=key))
        await asyncio.gather(*acks)
    finally:
        await producer.stop()


async def _all_registered(url: str, models: list[str]) -> bool:
    try:
        return bool(
            await _scalar(
                url,
                "SELECT count(*) = $2 FROM monitor.versions WHERE model_name = ANY($1)",
                models,
                len(models),
            )
        )
    except asyncpg.UndefinedTableError:  # the monitor has not migrated yet
        return False


async def _exactly_once(settings: Settings, models: list[str]) -> None:
    url, ends = settings.database_url, await _ends(settings.kafka_bootstrap)
    await eventually(lambda: _caught_up(url, ends), timeout=240, what="monitor caught up")
    assert await _stored(url, models) == N
    assert await _counted(url, models) == N
    assert await _dead_letters(url, models) == GARBAGE


async def test_sigkill_mid_ingest_then_restart_counts_every_prediction_once(
    settings: Settings, unique: str
) -> None:
    url = settings.database_url
    models, traffic = await _setup(settings, unique)
    with monitor_process(settings) as first:
        await eventually(lambda: _all_registered(url, models), timeout=120, what="registered")
        await _publish(settings.kafka_bootstrap, traffic)

        async def midway() -> bool:
            return await _stored(url, models) >= N // 5

        await eventually(midway, timeout=240, what="ingest under way")
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    assert await _stored(url, models) < N, "the kill came too late to test anything"
    with monitor_process(settings):
        await _exactly_once(settings, models)


async def test_rebalances_between_two_monitors_lose_and_double_nothing(
    settings: Settings, unique: str
) -> None:
    url = settings.database_url
    models, traffic = await _setup(settings, unique)
    with monitor_process(settings) as first:
        await eventually(lambda: _all_registered(url, models), timeout=120, what="registered")
        await _publish(settings.kafka_bootstrap, traffic)

        async def started() -> bool:
            return await _stored(url, models) >= N // 10

        await eventually(started, timeout=240, what="ingest under way")
        with monitor_process(settings):  # joins: partitions handed over mid-ingest

            async def further() -> bool:
                return await _stored(url, models) >= N // 3

            await eventually(further, timeout=240, what="ingest shared")
            first.send_signal(signal.SIGTERM)  # leaves: its partitions handed back
            first.wait(60)
            await _exactly_once(settings, models)
