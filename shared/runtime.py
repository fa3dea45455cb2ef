"""Running one service: the infrastructure every service needs, wired the same way each time.

A service contributes a :class:`ServiceDefinition`: its name, its SQL migrations and a
``build`` coroutine that receives the :class:`Infrastructure` and returns its handlers,
HTTP routers and background workers. Everything else (pool, migrations, topics, producer,
outbox relay, the faststream subscriber, the HTTP server, shutdown) lives here.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from typing import Any

import asyncpg
import structlog
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaBroker
from starlette.types import ASGIApp

from shared import metrics
from shared.bus.consumer import BatchHandler, BatchProcessor, Handler
from shared.bus.kafka import ensure_topics, start_producer
from shared.bus.relay import OutboxRelay
from shared.bus.retry import Backoff, retry_transient
from shared.bus.stream import StreamConsumer, StreamHandler, stream_group
from shared.bus.subscriber import subscribe
from shared.bus.unit_of_work import Transactions
from shared.events.signing import DecisionVerifier
from shared.events.topics import SIGNED, used_by
from shared.http.app import create_app
from shared.http.auth import TokenAuthority
from shared.logging import configure_logging
from shared.settings import Settings, get_settings
from shared.store.artifacts import ArtifactStore, open_store
from shared.store.db import create_pool
from shared.store.migrations import SHARED_SQL, load_migrations, migrate
from shared.store.sources import ArtifactSources

log = structlog.get_logger(__name__)

Worker = Callable[[], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class Infrastructure:
    service: str
    settings: Settings
    pool: asyncpg.Pool
    artifacts: ArtifactStore
    producer: AIOKafkaProducer
    auth: TokenAuthority

    @property
    def transactions(self) -> Transactions:
        """Units of work on the service's pool, emitting with the service as source."""
        return Transactions(self.pool, self.service)

    @property
    def sources(self) -> ArtifactSources:
        """Where claim checks may point: the artifact store and the configured sources."""
        return ArtifactSources.of(self.settings, self.artifacts)


@dataclass
class ServiceParts:
    handlers: Mapping[str, Handler | BatchHandler] = field(default_factory=dict)
    # Topics consumed with offsets kept beside their state instead of the inbox
    # (shared/bus/stream.py): high-volume records folded into state.
    streams: Mapping[str, StreamHandler] = field(default_factory=dict)
    routers: list[APIRouter] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)
    # Replicas sharing a group split the partitions; a service whose every replica must
    # see every event (the deployer's served state) gives each replica its own group.
    consumer_group: str | None = None
    # Wrappers around the finished HTTP app, innermost first: a measured hot path (the
    # deployer's inference route) answering before the framework's middleware stack. They
    # may only answer routes that ``routers`` also declare, so the route audit sees them all.
    asgi_wrappers: list[Callable[[ASGIApp], ASGIApp]] = field(default_factory=list)
    # Decision keys this service trusts besides ``MODELBUS_DECISION_KEYS`` (governance
    # trusts its own).
    decision_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    migrations: Traversable | None
    build: Callable[[Infrastructure], Awaitable[ServiceParts]]


async def connect_and_migrate(definition: ServiceDefinition, settings: Settings) -> asyncpg.Pool:
    """Create the pool and migrate, waiting out a database that is still starting."""
    folders = [SHARED_SQL] + ([definition.migrations] if definition.migrations else [])

    async def attempt() -> asyncpg.Pool:
        pool = await create_pool(settings, definition.name)
        try:
            async with pool.acquire() as conn:
                applied = await migrate(conn, definition.name, load_migrations(*folders))
        except BaseException:
            pool.terminate()  # a half-open pool per attempt would leak connections
            raise
        log.info("migrations.applied", applied=applied)
        return pool

    return await retry_transient(attempt, log=log, what="database", backoff=Backoff(cap_s=2.0))


class ServiceProcess:
    """One running service: start it, serve until told to stop, then stop in reverse order."""

    def __init__(self, definition: ServiceDefinition, settings: Settings) -> None:
        self.definition = definition
        self.settings = settings
        self.ready = asyncio.Event()
        self.infra: Infrastructure | None = None
        self.server: uvicorn.Server | None = None
        # The service's FastAPI app, before any ASGI wrappers: its routes, roles and OpenAPI
        # document (served nowhere: every route needs a token) for whoever checks them.
        self.http_app: FastAPI | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._broker: KafkaBroker | None = None

    @property
    def port(self) -> int:
        """The bound HTTP port (useful when settings asked for port 0)."""
        assert self.server is not None and self.server.servers, "server not started"
        return int(self.server.servers[0].sockets[0].getsockname()[1])

    async def start(self) -> None:
        settings, name = self.settings, self.definition.name
        # The gauge reads the same flag /readyz answers from, so the two cannot disagree.
        metrics.READY.labels(name).set_function(lambda: float(self.ready.is_set()))
        metrics.SUPERVISOR_RESTARTS.labels(name).set(settings.supervisor_restarts)
        pool = await connect_and_migrate(self.definition, settings)
        artifacts = await open_store(settings.artifact_store_url(), pool)
        await ensure_topics(settings, used_by(name))
        producer = await start_producer(settings)
        auth = TokenAuthority(
            pool,
            cache_s=settings.auth_cache_s,
            max_failures=settings.auth_max_failures,
            failure_window_s=settings.auth_failure_window_s,
        )
        await auth.ensure_schema()
        self.infra = infra = Infrastructure(name, settings, pool, artifacts, producer, auth)
        parts = await self.definition.build(infra)

        relay = OutboxRelay(
            pool,
            producer,
            schema=name,
            batch_size=settings.relay_batch_size,
            max_refusals=settings.relay_max_refusals,
            fallback_poll_s=settings.relay_fallback_poll_s,
            listen=settings.relay_listen,
        )
        self._tasks.append(asyncio.create_task(relay.run()))
        group = parts.consumer_group or name
        joining: list[asyncio.Event] = []
        for topic, handler in parts.streams.items():
            streamer = StreamConsumer(
                pool,
                settings,
                service=name,
                group=stream_group(group, topic),
                topic=topic,
                handler=handler,
                batch_size=settings.stream_batch_size,
            )
            joining.append(streamer.joined)
            self._tasks.append(asyncio.create_task(streamer.run()))
        if parts.handlers:
            processor = BatchProcessor(
                pool,
                service=name,
                consumer=group,
                handlers=parts.handlers,
                max_event_bytes=settings.kafka_max_message_bytes,
                retry_deadline_s=settings.consumer_retry_deadline_s,
                verifier=decision_verifier(name, parts, settings),
            )
            self._broker, joined = subscribe(settings, processor, group_id=group)
            await self._broker.start()
            joining.append(joined)
        self._tasks.append(asyncio.create_task(_mark_ready_after(joining, self.ready)))
        self._tasks.extend(asyncio.create_task(worker()) for worker in parts.workers)

        self.http_app = create_app(
            name,
            self.ready.is_set,
            parts.routers,
            auth,
            max_body_bytes=settings.http_max_body_bytes,
        )
        app: ASGIApp = self.http_app
        for wrap in parts.asgi_wrappers:
            app = wrap(app)
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=settings.http_host,
                port=settings.port_for(name),
                log_level="warning",
                lifespan="off",
                access_log=False,
            )
        )
        config = self.server.config
        config.load()
        self.server.lifespan = config.lifespan_class(config)
        await self.server.startup()
        log.info("service.started", port=self.port)

    async def stop(self) -> None:
        log.info("service.stopping")
        self.ready.clear()
        if self.server is not None:
            self.server.should_exit = True
            await self.server.shutdown()
        if self._broker is not None:
            await self._broker.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.infra is not None:
            await self.infra.producer.stop()
            await self.infra.pool.close()


class MissingDecisionKeys(RuntimeError):
    """A service that acts on governance's decisions has no key to verify them with."""


def decision_verifier(name: str, parts: ServiceParts, settings: Settings) -> DecisionVerifier:
    """The keys a service's consumer verifies decisions with; a service consuming decisions
    without any refuses to start (it could only dead-letter them all)."""
    keys = [*settings.decision_keys, *parts.decision_keys]
    try:
        verifier = DecisionVerifier.of(keys)
    except ValueError as exc:
        raise MissingDecisionKeys(f"{name}: MODELBUS_DECISION_KEYS: {exc}") from exc
    if not verifier.keys and SIGNED & set(parts.handlers):
        raise MissingDecisionKeys(
            f"{name} consumes governance's decisions but trusts no key to verify them: set "
            "MODELBUS_DECISION_KEYS to governance's public key (modelbus up does)"
        )
    return verifier


async def run_service(definition: ServiceDefinition, settings: Settings | None = None) -> None:
    """Run until SIGINT or SIGTERM, then stop cleanly."""
    settings = settings or get_settings()
    configure_logging(definition.name, settings.log_level)
    service = ServiceProcess(definition, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await service.start()
        await stop.wait()
    finally:
        await service.stop()


async def _mark_ready_after(joining: list[asyncio.Event], ready: asyncio.Event) -> None:
    """Ready once every consumer has been through its first group assignment."""
    for joined in joining:
        await joined.wait()
    ready.set()
    log.info("service.ready")
