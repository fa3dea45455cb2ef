"""Throughput of the reliable path next to raw aiokafka, measured in one run on one broker.

    ./run bench bus [--events N] [--keys K] [--per-transaction T] [--repeat R]
                    [--concurrency C] [--effect insert-batch|insert|none]

reliable: events written with ``shared.bus.outbox.add`` in transactions of T, published by
    ``OutboxRelay``, consumed by the shared faststream subscriber into ``BatchProcessor``
    (inbox claim, the handler's INSERT per event -- one executemany per run of events with
    the default batch handler, a round trip each with ``insert`` -- dead-letter checks), offsets committed
    after each batch. Timed from the first outbox write until the last effect is committed.
raw: the same encoded values and keys through a producer built the same way (acks=all,
    idempotent where the broker allows) and an ``AIOKafkaConsumer`` that commits after
    every fetched batch. Timed from the first send until the last record is consumed.

Starts its own Postgres (embedded) and broker (Apache Kafka via deploy/kafka when Java and
Maven exist, else Tansu) unless MODELBUS_DATABASE_URL / MODELBUS_KAFKA_BOOTSTRAP are set.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from modelbus.embedded import EmbeddedPostgres, TansuBroker, pick_free_port
from shared.bus import outbox
from shared.bus.consumer import BatchHandler, BatchProcessor, Handler, batch
from shared.bus.kafka import ensure_topics, start_producer
from shared.bus.relay import OutboxRelay
from shared.bus.subscriber import subscribe
from shared.bus.unit_of_work import UnitOfWork
from shared.events.common import Window
from shared.events.envelope import Event, encode, new_event
from shared.events.monitoring import MonitorMetrics
from shared.events.topics import TOPICS
from shared.settings import Settings
from shared.store.db import create_pool
from shared.store.migrations import SHARED_SQL, load_migrations, migrate

REPO = Path(__file__).resolve().parents[1]
TOPIC = TOPICS["monitor.metrics"]  # consumed by no modelbus service


# --------------------------------------------------------------------------- infrastructure


@contextmanager
def infrastructure(workdir: Path) -> Iterator[tuple[str, str, str]]:
    """(database url, bootstrap, broker kind): from the environment or started here."""
    with ExitStack() as stack:
        url = os.environ.get("MODELBUS_DATABASE_URL")
        if not url:
            postgres = EmbeddedPostgres(workdir / "postgres", port=pick_free_port())
            postgres.start()
            stack.callback(postgres.stop)
            url = postgres.url
        bootstrap, kind = os.environ.get("MODELBUS_KAFKA_BOOTSTRAP", ""), "given"
        if not bootstrap and shutil.which("java") and shutil.which("mvn"):
            port, data = pick_free_port(), workdir / "kafka"
            subprocess.run(
                [REPO / "deploy/kafka/start.sh", "--port", str(port), "--data-dir", data],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            stop: list[str | Path] = [REPO / "deploy/kafka/stop.sh", "--data-dir", data]
            stack.callback(lambda: subprocess.run(stop, check=False))
            bootstrap, kind = f"127.0.0.1:{port}", "apache-kafka"
        elif not bootstrap:
            tansu = TansuBroker(pick_free_port(), log_dir=workdir)
            tansu.start()
            stack.callback(tansu.stop)
            bootstrap, kind = tansu.bootstrap, "tansu"
        yield url, bootstrap, kind


def make_events(n: int, keys: int, run: str) -> list[Event[Any]]:
    window = Window(start="2025-01-01T00:00:00Z", end="2025-01-01T00:01:00Z", count=100)
    metrics = {"accuracy": 0.93, "f1": 0.91, "latency_p95_ms": 4.2, "requests": 100.0}
    return [
        new_event(
            MonitorMetrics(
                model_name=f"{run}-m{i % keys}",
                version=1,
                arm="stable",
                window=window,
                metrics={**metrics, "seq": float(i)},
            ),
            source="bench",
        )
        for i in range(n)
    ]


async def wait_until(probe: Any, what: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not await probe():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout}s")
        await asyncio.sleep(0.05)


# --------------------------------------------------------------------------- raw aiokafka


async def raw_run(settings: Settings, events: list[Event[Any]]) -> float:
    """Seconds from the first send until the consumer has every record."""
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, TOPIC.partitions, 1)])
    messages = [(e.key.encode(), encode(e)) for e in events]
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=f"{topic}.group",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    await wait_until(lambda: _assigned(consumer), "raw consumer assignment", 60)
    producer = await start_producer(settings)
    try:
        started = time.perf_counter()
        sending = asyncio.create_task(_send_all(producer, topic, messages))
        received = 0
        while received < len(messages):
            batches = await consumer.getmany(
                timeout_ms=100, max_records=settings.consumer_batch_size
            )
            received += sum(len(b) for b in batches.values())
            if batches:
                await consumer.commit()
        elapsed = time.perf_counter() - started
        await sending
        return elapsed
    finally:
        await producer.stop()
        await consumer.stop()
        await admin.delete_topics([topic])
        await admin.close()


async def _assigned(consumer: AIOKafkaConsumer) -> bool:
    return bool(consumer.assignment())


async def _send_all(producer: Any, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    await asyncio.gather(*[await producer.send(topic, v, key=k) for k, v in messages])


# --------------------------------------------------------------------------- reliable path


async def insert_effect(event: Event[Any], uow: UnitOfWork) -> None:
    """The side effect of the benchmark's handler: one INSERT, one round trip per event."""
    await uow.conn.execute(
        "INSERT INTO effects (event_id, model) VALUES ($1, $2)", event.id, event.key
    )


async def no_effect(event: Event[Any], uow: UnitOfWork) -> None:
    """For comparison: what the path costs without the handler's own round trip."""


async def insert_batch_effect(events: list[Event[Any]], uow: UnitOfWork) -> None:
    """The same INSERTs from a batch handler: one ``executemany`` per run of events."""
    await uow.conn.executemany(
        "INSERT INTO effects (event_id, model) VALUES ($1, $2)", [(e.id, e.key) for e in events]
    )


HANDLERS: dict[str, Handler | BatchHandler] = {
    "insert": insert_effect,
    "insert-batch": batch(insert_batch_effect),
    "none": no_effect,
}


async def reliable_run(
    settings: Settings, events: list[Event[Any]], args: argparse.Namespace
) -> dict[str, float]:
    """Seconds from the first outbox write to: outbox written, relay drained, all applied."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    pool = await create_pool(settings, schema)
    async with pool.acquire() as conn:
        await migrate(conn, schema, load_migrations(SHARED_SQL))
        await conn.execute("CREATE TABLE effects (event_id text NOT NULL, model text NOT NULL)")
    await _start_group_at_end(settings, schema)
    producer = await start_producer(settings)
    relay = asyncio.create_task(
        OutboxRelay(pool, producer, schema=schema, batch_size=settings.relay_batch_size).run()
    )
    processor = BatchProcessor(
        pool,
        service=schema,
        consumer=schema,
        handlers={TOPIC.name: HANDLERS[args.effect]},
        concurrency=args.concurrency,
    )
    broker, joined = subscribe(settings, processor, group_id=schema)
    await broker.start()
    try:
        await asyncio.wait_for(joined.wait(), 60)
        started = time.perf_counter()
        for first in range(0, len(events), args.per_transaction):
            async with pool.acquire() as conn, conn.transaction():
                await outbox.add(conn, *events[first : first + args.per_transaction])
        written = time.perf_counter() - started
        await wait_until(lambda: _none_unsent(pool), "outbox drained")
        drained = time.perf_counter() - started
        await wait_until(lambda: _applied(pool, len(events)), "all applied")
        return {"written": written, "drained": drained, "applied": time.perf_counter() - started}
    finally:
        await broker.stop()
        relay.cancel()
        await asyncio.gather(relay, return_exceptions=True)
        await producer.stop()
        await pool.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await pool.close()


async def _none_unsent(pool: asyncpg.Pool) -> bool:
    return not await pool.fetchval("SELECT EXISTS (SELECT 1 FROM outbox WHERE sent_at IS NULL)")


async def _applied(pool: asyncpg.Pool, n: int) -> bool:
    """The inbox row of an event commits together with its effect."""
    return bool(await pool.fetchval("SELECT count(*) >= $1 FROM inbox", n))


async def _start_group_at_end(settings: Settings, group: str) -> None:
    """A shared broker may hold earlier runs' records: the group skips them."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(TOPIC.name, p) for p in range(TOPIC.partitions)]
        consumer.assign(partitions)
        await consumer.commit(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


# --------------------------------------------------------------------------- main


async def bench(settings: Settings, kind: str, args: argparse.Namespace) -> None:
    await ensure_topics(settings)
    run = uuid.uuid4().hex[:6]
    size = len(encode(make_events(1, 1, run)[0]))
    print(
        f"broker {kind} at {settings.kafka_bootstrap}; {args.events} events of ~{size} bytes,"
        f" {args.keys} keys, {TOPIC.partitions} partitions; outbox transactions of "
        f"{args.per_transaction}, relay batch {settings.relay_batch_size}, consumer batch "
        f"{settings.consumer_batch_size}, {args.concurrency} partitions applied at once, "
        f"handler effect: {args.effect}"
    )
    # Warm-up: connections, metadata, imports and caches on both paths.
    warm = make_events(args.events // 10, args.keys, run + "w")
    await raw_run(settings, warm)
    await reliable_run(settings, warm, args)

    raw: list[float] = []
    reliable: list[dict[str, float]] = []
    # This process's CPU per event on each path (the clients' work, not the servers'): on a
    # shared machine it varies far less with other load than the rates do.
    raw_cpu: list[float] = []
    reliable_cpu: list[float] = []
    for i in range(args.repeat):  # interleaved, so that both see the same machine load
        events = make_events(args.events, args.keys, f"{run}{i}")
        cpu = time.process_time()
        raw.append(args.events / await raw_run(settings, events))
        raw_cpu.append((time.process_time() - cpu) / args.events * 1e6)
        cpu = time.process_time()
        reliable.append(await reliable_run(settings, events, args))
        reliable_cpu.append((time.process_time() - cpu) / args.events * 1e6)
        phases = reliable[-1]
        print(
            f"  run {i + 1}: raw {raw[-1]:8.0f} events/s; reliable "
            f"{args.events / phases['applied']:8.0f} events/s (outbox written "
            f"{phases['written']:.2f} s, relay drained {phases['drained']:.2f} s, all applied "
            f"{phases['applied']:.2f} s); CPU per event raw {raw_cpu[-1]:.0f} us, reliable "
            f"{reliable_cpu[-1]:.0f} us"
        )
    raw_rate = statistics.median(raw)
    reliable_rate = statistics.median(args.events / r["applied"] for r in reliable)
    print(f"raw aiokafka (produce acks=all + consume)  median {raw_rate:8.0f} events/s")
    print(f"reliable (outbox -> relay -> consumer)      median {reliable_rate:8.0f} events/s")
    print(
        f"CPU of this process per event: raw {statistics.median(raw_cpu):.0f} us, reliable "
        f"{statistics.median(reliable_cpu):.0f} us (setup and waiting for the group included)"
    )
    ratio = reliable_rate / raw_rate
    verdict = "met" if ratio >= 0.25 else "MISSED"
    print(f"ratio reliable/raw: {ratio:.2f} (target >= 0.25: {verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--keys", type=int, default=30)
    parser.add_argument("--per-transaction", type=int, default=100)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=4,
        help="partitions the consumer applies at once (BatchProcessor)",
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--effect",
        choices=sorted(HANDLERS),
        default="insert-batch",
        help="the handler's side effect per event",
    )
    args = parser.parse_args()
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # "topic not found yet" noise
    with (
        tempfile.TemporaryDirectory(prefix="modelbus-bench-") as tmp,
        infrastructure(Path(tmp)) as (url, bootstrap, kind),
    ):
        settings = Settings().model_copy(update={"database_url": url, "kafka_bootstrap": bootstrap})
        asyncio.run(bench(settings, kind, args))


if __name__ == "__main__":
    main()
