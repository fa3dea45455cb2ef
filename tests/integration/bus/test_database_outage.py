"""A database outage while events arrive is waited out: no dead letters, every event applied.

The test stops and restarts a Postgres of its own, so the session's database is undisturbed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from modelbus.embedded import EmbeddedPostgres, pick_free_port
from shared.settings import Settings
from tests.integration.bus.harness import (
    assert_applied_exactly_once,
    count,
    has_effects,
    metric,
    metrics_event,
    open_schema,
    processor,
)
from tests.integration.bus.kafka_io import consuming, produce, start_group_at_end
from tests.support.polling import eventually

pytestmark = pytest.mark.integration
OUTAGE_S = 5.0


@pytest.fixture
async def own_postgres(tmp_path: Path) -> AsyncIterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path / "pg", port=pick_free_port())
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


async def test_consumer_waits_out_a_database_outage(
    bus_settings: Settings, own_postgres: EmbeddedPostgres, schema: str
) -> None:
    settings = bus_settings.model_copy(update={"database_url": own_postgres.url})
    bootstrap = settings.kafka_bootstrap
    pool = await open_schema(own_postgres.url, schema)
    await start_group_at_end(bootstrap, schema)
    before = [metrics_event(schema, seq) for seq in range(20)]
    during = [metrics_event(schema, seq) for seq in range(20, 60)]
    try:
        async with consuming(settings, processor(pool, schema)):
            await produce(bootstrap, *before)
            await eventually(lambda: has_effects(pool, 20), what="events before the outage")

            await asyncio.to_thread(own_postgres.stop)
            stopped_at = time.monotonic()
            await produce(bootstrap, *during[:20])
            await eventually(
                lambda: _retried(schema), timeout=30, what="the consumer retrying the outage"
            )
            await produce(bootstrap, *during[20:])  # more arrive while it is retrying
            await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped_at)))
            await asyncio.to_thread(own_postgres.start)

            await eventually(lambda: has_effects(pool, 60), timeout=60, what="all 60 applied")
        await assert_applied_exactly_once(pool, before + during)
        assert await count(pool, "SELECT count(*) FROM outbox") == 0  # no dead letters
        assert await count(pool, "SELECT count(*) FROM inbox WHERE event_id LIKE 'dlq:%'") == 0
    finally:
        await pool.close()


async def _retried(schema: str) -> bool:
    return metric("modelbus_consumer_retries_total", service=schema) > 0
