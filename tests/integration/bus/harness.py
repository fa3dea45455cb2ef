"""What the bus acceptance tests and their helper processes share: events, effects, schemas.

Traffic goes to ``monitor.metrics``: no modelbus service consumes it, so these tests disturb
no other test's consumer. A handler's side effect is one row in ``effects``: "applied
exactly once" means one row per event id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
from aiokafka import ConsumerRecord
from prometheus_client import REGISTRY

from shared.bus.consumer import BatchProcessor
from shared.bus.unit_of_work import UnitOfWork
from shared.events.common import Window
from shared.events.envelope import Event, new_event
from shared.events.monitoring import MonitorMetrics
from shared.events.topics import TOPICS
from shared.store.migrations import SHARED_SQL, load_migrations, migrate

TOPIC = TOPICS["monitor.metrics"]
_EFFECTS = (
    "CREATE TABLE effects (n bigserial PRIMARY KEY, event_id text NOT NULL,"
    " model text NOT NULL, seq integer NOT NULL)"
)


# --------------------------------------------------------------------------- events and effects


def metrics_payload(model: str, seq: int) -> MonitorMetrics:
    window = Window(start="2025-01-01T00:00:00Z", end="2025-01-01T00:01:00Z", count=seq)
    return MonitorMetrics(
        model_name=model, version=1, arm="stable", window=window, metrics={"seq": float(seq)}
    )


def metrics_event(model: str, seq: int) -> Event[MonitorMetrics]:
    return new_event(metrics_payload(model, seq), source="test")


def seq_of(event: Event[Any]) -> int:
    return int(event.data.metrics["seq"])


def recording_handler(delay_s: float = 0.0) -> Callable[[Event[Any], UnitOfWork], Any]:
    """A handler whose only effect is one ``effects`` row; ``delay_s`` makes it slow."""

    async def record_effect(event: Event[Any], uow: UnitOfWork) -> None:
        if delay_s:
            await asyncio.sleep(delay_s)
        await uow.conn.execute(
            "INSERT INTO effects (event_id, model, seq) VALUES ($1, $2, $3)",
            event.id,
            event.key,
            seq_of(event),
        )

    return record_effect


def processor(pool: asyncpg.Pool, group: str, *, delay_s: float = 0.0) -> BatchProcessor:
    return BatchProcessor(
        pool, service=group, consumer=group, handlers={TOPIC.name: recording_handler(delay_s)}
    )


def record_of(
    value: bytes,
    *,
    partition: int = 0,
    offset: int = 0,
    key: bytes = b"k",
    headers: Sequence[tuple[str, bytes]] = (),
) -> ConsumerRecord[bytes, bytes]:
    """A consumer record as aiokafka delivers it, for feeding a processor directly."""
    return ConsumerRecord(
        topic=TOPIC.name,
        partition=partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key),
        serialized_value_size=len(value),
        headers=tuple(headers),
    )


def metric(name: str, **labels: str) -> float:
    """A counter of :mod:`shared.metrics` in this process (0 when never incremented)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --------------------------------------------------------------------------- database


async def open_schema(database_url: str, schema: str, *, max_size: int = 10) -> asyncpg.Pool:
    """A pool on a fresh schema with the shared migrations (inbox, outbox) and ``effects``."""
    pool = await asyncpg.create_pool(
        database_url,
        min_size=1,
        max_size=max_size,
        server_settings={"search_path": f"{schema},public"},
    )
    assert pool is not None
    async with pool.acquire() as conn:
        await migrate(conn, schema, load_migrations(SHARED_SQL))
        await conn.execute(_EFFECTS)
    return pool


async def drop_schema(pool: asyncpg.Pool, schema: str) -> None:
    await pool.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    await pool.close()


async def count(pool: asyncpg.Pool, sql: str, *args: Any) -> int:
    value = await pool.fetchval(sql, *args)
    return int(value)


async def unsent(pool: asyncpg.Pool) -> int:
    return await count(pool, "SELECT count(*) FROM outbox WHERE sent_at IS NULL")


async def drained(pool: asyncpg.Pool) -> bool:
    """True when the relay has published and marked every outbox row."""
    return await unsent(pool) == 0


async def has_effects(pool: asyncpg.Pool, n: int) -> bool:
    """True once ``n`` effects are recorded (more shows up in the exactly-once assertion)."""
    return await count(pool, "SELECT count(*) FROM effects") >= n


async def assert_applied_exactly_once(pool: asyncpg.Pool, events: Sequence[Event[Any]]) -> None:
    rows = await pool.fetch("SELECT event_id, count(*) AS n FROM effects GROUP BY event_id")
    applied = {r["event_id"]: r["n"] for r in rows}
    assert applied == {e.id: 1 for e in events}
