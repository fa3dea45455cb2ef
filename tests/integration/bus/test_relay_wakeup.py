"""The relay wakes on LISTEN/NOTIFY: with its fallback poll effectively off it still
publishes every commit, also after the database dropped its listening connection."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import pytest

from shared.bus.kafka import start_producer
from shared.bus.relay import OutboxRelay
from shared.bus.unit_of_work import Transactions
from shared.settings import Settings
from tests.integration.bus.harness import drained, metrics_payload
from tests.support.polling import eventually

pytestmark = pytest.mark.integration

NEVER_S = 3600.0  # a fallback poll that never comes within the test


async def emit(pool: asyncpg.Pool, schema: str, key: str, seq: int) -> None:
    async with Transactions(pool, schema).begin() as uow:
        await uow.emit(metrics_payload(key, seq))


async def test_commits_wake_an_idle_relay_that_never_polls(
    bus_settings: Settings, pool: asyncpg.Pool, schema: str
) -> None:
    producer = await start_producer(bus_settings)
    relay = OutboxRelay(pool, producer, schema=schema, fallback_poll_s=NEVER_S)
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: _listening(relay), what="relay listening")
        for seq in range(3):  # each commit comes while the relay waits for a notification
            await emit(pool, schema, schema, seq)
            await eventually(lambda: drained(pool), what=f"commit {seq} published")

        # The database drops the listening connection: the relay listens again, on its own.
        listener = relay.listening_pid
        assert listener is not None
        await pool.execute("SELECT pg_terminate_backend($1)", listener)
        await eventually(lambda: _listening_anew(relay, listener), what="relay listening again")
        await emit(pool, schema, schema, 3)
        await eventually(lambda: drained(pool), what="commit after the reconnect published")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await producer.stop()


async def _listening(relay: OutboxRelay) -> bool:
    return relay.listening_pid is not None


async def _listening_anew(relay: OutboxRelay, old_pid: int) -> bool:
    return relay.listening_pid not in (None, old_pid)
