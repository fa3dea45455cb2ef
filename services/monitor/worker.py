"""The monitor's background worker: every tick, join labels and advance every stream.

Each stream (model, version, arm) advances in its own transaction, under the stream's
lock (:mod:`services.monitor.store.streams`): replicas split the streams between them,
and a stream is never advanced twice at once. Events a step emits go to the outbox in
the step's transaction.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from services.monitor.analysis.monitored import Stream
from services.monitor.analysis.open_window import WindowCache
from services.monitor.settings import MonitorSettings
from services.monitor.store import labels, streams
from services.monitor.store.versions import VersionCache
from services.monitor.windows import data_windows, performance_windows
from services.monitor.windows.labelled_export import LabelledExport
from shared.bus.retry import is_transient, keep_running
from shared.bus.unit_of_work import Transactions

log = structlog.get_logger(__name__)
PRUNE_EVERY_S = 600.0


def _now() -> datetime:
    return datetime.now(UTC)


class StreamWorker:
    def __init__(
        self,
        transactions: Transactions,
        export: LabelledExport,
        settings: MonitorSettings,
        versions: VersionCache,
        windows: WindowCache,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.transactions = transactions
        self.export = export
        self.settings = settings
        self.versions = versions
        self.clock = clock
        self.windows = windows
        self._pruned_at = 0.0

    async def tick(self) -> None:
        async with self.transactions.begin() as uow:
            await labels.sweep(uow.conn, self.settings.label_horizon_s)
            if time.monotonic() - self._pruned_at > PRUNE_EVERY_S:
                await labels.prune(uow.conn, self.settings.retention_s)
                self._pruned_at = time.monotonic()
        for stream in await streams.with_work(self.transactions.pool):
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
        async with self.transactions.begin() as uow:
            if not await streams.try_lock(uow.conn, stream):
                return
            version = await self.versions.get(uow.conn, stream.model_name, stream.version)
            if version is None:
                return  # not registered (yet): its predictions wait for the reference
            now = self.clock()
            await data_windows.advance(
                uow, stream, version, self.windows, self.export, self.settings.batch_rows, now
            )
            await performance_windows.advance(uow, stream, version, self.export, now)

    async def run(self) -> None:
        async def step() -> None:
            await self.tick()
            await asyncio.sleep(self.settings.tick_s)

        await keep_running(step, log=log, what="monitor.tick")
