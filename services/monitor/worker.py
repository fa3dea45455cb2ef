"""The monitor's background worker: every tick, join labels and advance every stream.

Each stream (model, version, arm) advances in its own transaction, under a
transaction-level advisory lock taken with ``try``: replicas split the streams between
them instead of waiting on each other, and a stream is never advanced twice at once.
Events a step emits go to the outbox in the step's transaction.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg
import structlog

from services.monitor import data_windows, labels, performance_windows
from services.monitor.episodes import Stream
from services.monitor.open_window import WindowCache
from services.monitor.settings import MonitorSettings
from services.monitor.versions import VersionCache
from shared.bus.retry import is_transient, keep_running
from shared.bus.unit_of_work import unit_of_work
from shared.store.artifacts import ArtifactStore

log = structlog.get_logger(__name__)
SOURCE = "monitor"
PRUNE_EVERY_S = 600.0

_STREAMS = """
SELECT model_name, version, arm FROM predictions WHERE window_id IS NULL
UNION SELECT model_name, version, arm FROM windows WHERE kind = 'data' AND closed_at IS NULL
UNION SELECT model_name, version, arm FROM predictions
      WHERE labelled_at IS NOT NULL AND performance_window_id IS NULL
"""


def _now() -> datetime:
    return datetime.now(UTC)


class Worker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        store: ArtifactStore,
        settings: MonitorSettings,
        versions: VersionCache,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.pool = pool
        self.store = store
        self.settings = settings
        self.versions = versions
        self.clock = clock
        self.windows: WindowCache = {}
        self._pruned_at = 0.0

    async def tick(self) -> None:
        async with unit_of_work(self.pool, SOURCE) as uow:
            await labels.sweep(uow.conn, self.settings.label_horizon_s)
            if time.monotonic() - self._pruned_at > PRUNE_EVERY_S:
                await labels.prune(uow.conn, self.settings.retention_s)
                self._pruned_at = time.monotonic()
        for row in await self.pool.fetch(_STREAMS):
            stream = Stream(row["model_name"], row["version"], row["arm"])
            try:
                await self.advance(stream)
            except Exception as exc:
                if is_transient(exc):
                    raise
                # A stream that cannot advance (a bug, a corrupt row) must not stall the
                # others; it is retried next tick and logged each time.
                self.windows.pop(stream, None)
                log.exception(
                    "monitor.stream_failed",
                    model=stream.model_name,
                    version=stream.version,
                    arm=stream.arm,
                )

    async def advance(self, stream: Stream) -> None:
        async with unit_of_work(self.pool, SOURCE) as uow:
            locked = await uow.conn.fetchval(
                "SELECT pg_try_advisory_xact_lock(hashtext('monitor-stream'),"
                " hashtext($1 || '/' || $2::int::text || '/' || $3))",
                stream.model_name,
                stream.version,
                stream.arm,
            )
            if not locked:
                return
            version = await self.versions.get(uow.conn, stream.model_name, stream.version)
            if version is None:
                return  # not registered (yet): its predictions wait for the reference
            now = self.clock()
            await data_windows.advance(
                uow, stream, version, self.windows, self.store, self.settings, now
            )
            await performance_windows.advance(uow, stream, version, self.store, self.settings, now)

    async def run(self) -> None:
        async def step() -> None:
            await self.tick()
            await asyncio.sleep(self.settings.tick_s)

        await keep_running(step, log=log, what="monitor.tick")
