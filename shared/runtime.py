"""Running one service: the infrastructure every service needs, wired the same way each time.

A service contributes a :class:`ServiceDefinition`: its name, its SQL migrations and a
``build`` coroutine that receives the :class:`Infrastructure` and returns its handlers,
HTTP routers and background workers. Everything else (pool, migrations, topics, producer,
outbox relay, the faststream subscriber, the HTTP server, shutdown) lives here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable

import asyncpg
import structlog
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter

from shared import metrics
from shared.bus.consumer import BatchProcessor, Handler
from shared.bus.kafka import ensure_topics, start_producer
from shared.bus.relay import OutboxRelay
from shared.bus.retry import Backoff, is_transient
from shared.bus.subscriber import subscribe
from shared.http.app import create_app
from shared.logging import configure_logging
from shared.settings import Settings, get_settings
from shared.store.artifacts import ArtifactStore, open_store
from shared.store.db import create_pool
from shared.store.migrations import SHARED_SQL, load_migrations, migrate

log = structlog.get_logger(__name__)

Worker = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Infrastructure:
    service: str
    settings: Settings
    pool: asyncpg.Pool
    artifacts: ArtifactStore
    producer: AIOKafkaProducer


@dataclass
class ServiceParts:
    handlers: dict[str, Handler] = field(default_factory=dict)
    routers: list[APIRouter] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)
    # Replicas sharing a group split the partitions; a service whose every replica must
    # see every event (the deployer's served state) gives each replica its own group.
    consumer_group: str | None = None


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    migrations: Traversable | None
    build: Callable[[Infrastructure], Awaitable[ServiceParts]]


async def connect_and_migrate(definition: ServiceDefinition, settings: Settings) -> asyncpg.Pool:
    """Create the pool and migrate, waiting out a database that is still starting."""
    folders = [SHARED_SQL] + ([definition.migrations] if definition.migrations else [])
    backoff = Backoff(cap_s=2.0)
    while True:
        try:
            pool = await create_pool(settings, definition.name)
            async with pool.acquire() as conn:
                applied = await migrate(conn, definition.name, load_migrations(*folders))
            log.info("migrations.applied", applied=applied)
            return pool
        except Exception as exc:
            if not is_transient(exc):
                raise
            await backoff.wait(log, "database.unavailable", exc)


async def run_service(definition: ServiceDefinition, settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    name = definition.name
    configure_logging(name, settings.log_level)
    ready = asyncio.Event()
    metrics.READY.labels(name).set(0)

    pool = await connect_and_migrate(definition, settings)
    artifacts = await open_store(settings.artifact_store_url(), pool)
    await ensure_topics(settings)
    producer = await start_producer(settings)
    infra = Infrastructure(name, settings, pool, artifacts, producer)
    parts = await definition.build(infra)

    tasks = [asyncio.create_task(OutboxRelay(pool, producer, schema=name,
                                             batch_size=settings.relay_batch_size).run())]
    broker = None
    if parts.handlers:
        processor = BatchProcessor(pool, service=name, consumer=parts.consumer_group or name,
                                   handlers=parts.handlers,
                                   max_event_bytes=settings.kafka_max_message_bytes)
        broker, joined = subscribe(settings, processor, group_id=parts.consumer_group or name)
        await broker.start()
        tasks.append(asyncio.create_task(_mark_ready_after(joined, ready)))
    else:
        ready.set()
    tasks.extend(asyncio.create_task(worker()) for worker in parts.workers)

    app = create_app(name, ready.is_set, parts.routers)
    server = uvicorn.Server(uvicorn.Config(app, host=settings.http_host,
                                           port=settings.port_for(name), log_level="warning",
                                           lifespan="off", access_log=False))
    log.info("service.starting", port=settings.port_for(name))
    try:
        await server.serve()
    finally:
        log.info("service.stopping")
        metrics.READY.labels(name).set(0)
        if broker is not None:
            await broker.stop()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await producer.stop()
        await pool.close()


async def _mark_ready_after(joined: asyncio.Event, ready: asyncio.Event) -> None:
    await joined.wait()
    ready.set()
    log.info("service.ready")
