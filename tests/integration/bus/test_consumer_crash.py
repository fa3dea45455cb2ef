"""A consumer process killed with SIGKILL mid-stream and restarted loses no event and applies
none twice: offsets are committed only after the batch's transaction."""

from __future__ import annotations

import signal
from pathlib import Path

import asyncpg
import pytest

from shared.settings import Settings
from tests.integration.bus.harness import (
    assert_applied_exactly_once,
    count,
    has_effects,
    metrics_event,
)
from tests.integration.bus.kafka_io import caught_up, produce, start_group_at_end
from tests.integration.bus.processes import spawn, stop, wait_for_line
from tests.support.polling import eventually

pytestmark = pytest.mark.integration


async def test_consumer_killed_mid_stream_loses_nothing(
    bus_settings: Settings, pool: asyncpg.Pool, schema: str, tmp_path: Path
) -> None:
    n = 400
    bootstrap = bus_settings.kafka_bootstrap
    await start_group_at_end(bootstrap, schema)
    # Small batches and a slow handler (about 2 s for all) so that the kill lands mid-stream.
    args = [
        "--database-url",
        bus_settings.database_url,
        "--bootstrap",
        bootstrap,
        "--schema",
        schema,
        "--batch-size",
        "20",
        "--handler-delay",
        "0.005",
    ]
    events = [metrics_event(f"{schema}-{i % 3}", seq=i) for i in range(n)]

    first = spawn("consumer_process", tmp_path / "consumer-1.log", *args)
    try:
        await wait_for_line(first, tmp_path / "consumer-1.log", "ready")
        sent = await produce(bootstrap, *events)
        await eventually(lambda: has_effects(pool, n // 4), timeout=60, what="a quarter applied")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        stop(first)
    applied_before_kill = await count(pool, "SELECT count(*) FROM effects")
    assert applied_before_kill < n, "the kill came too late to interrupt the stream"

    second = spawn("consumer_process", tmp_path / "consumer-2.log", *args)
    try:
        await eventually(lambda: has_effects(pool, n), timeout=90, what=f"all {n} applied")
        await caught_up(bootstrap, schema, sent)
    finally:
        stop(second)
    await assert_applied_exactly_once(pool, events)
    rows = await pool.fetch("SELECT model, seq FROM effects ORDER BY n")
    for key in {e.key for e in events}:  # each key applied in the order it was produced
        seqs = [r["seq"] for r in rows if r["model"] == key]
        assert seqs == sorted(seqs), key
