"""The outbox relay: publishes committed outbox rows to Kafka and marks them sent.

Ordering and safety with several relays (two replicas of a service, or a restarted relay
next to a dying one):

* every row has a slot derived from its key; a relay publishes a slot's rows only while it
  holds the transaction-level advisory lock ``(namespace, slot)``, so one slot, and with
  it one key, is published by one relay at a time, in id order;
* rows are claimed ``FOR UPDATE SKIP LOCKED`` and marked sent in the same transaction, after
  the broker acknowledged them (``acks=all``). A crash after publishing and before marking
  publishes the rows again: delivery is at least once, and consumers deduplicate by event id.
"""

from __future__ import annotations

import asyncio
import zlib
from typing import Any

import asyncpg
import orjson
import structlog
from aiokafka import AIOKafkaProducer

from shared import metrics
from shared.bus.outbox import SLOTS
from shared.bus.retry import keep_running

log = structlog.get_logger(__name__)

_CLAIM = f"""
WITH mine AS MATERIALIZED (
    SELECT s AS slot FROM generate_series(0, {SLOTS - 1}) AS s
    WHERE EXISTS (SELECT 1 FROM outbox o WHERE o.slot = s AND o.sent_at IS NULL)
      AND pg_try_advisory_xact_lock($1, s)
)
SELECT id, topic, key, value, headers FROM outbox
WHERE sent_at IS NULL AND slot IN (SELECT slot FROM mine)
ORDER BY id
LIMIT $2
FOR UPDATE SKIP LOCKED
"""


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        producer: AIOKafkaProducer,
        *,
        schema: str,
        batch_size: int = 500,
        idle_wait_s: float = 0.05,
    ) -> None:
        self.pool = pool
        self.producer = producer
        self.schema = schema
        self.batch_size = batch_size
        self.idle_wait_s = idle_wait_s
        # Advisory locks take two int4 keys: the schema's hash keeps services apart.
        self.lock_namespace = zlib.crc32(schema.encode()) & 0x7FFFFFFF

    async def publish_once(self) -> int:
        """Publish one batch; return how many rows were published."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(_CLAIM, self.lock_namespace, self.batch_size)
            if not rows:
                return 0
            pending = [await self.producer.send(*_message(row)) for row in rows]
            await asyncio.gather(*pending)
            await conn.execute(
                "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])",
                [row["id"] for row in rows],
            )
        metrics.OUTBOX_PUBLISHED.labels(self.schema).inc(len(rows))
        return len(rows)

    async def run(self) -> None:
        """Publish until cancelled; database or broker outages are waited out, never fatal."""

        async def step() -> None:
            if await self.publish_once() < self.batch_size:
                await asyncio.sleep(self.idle_wait_s)

        await keep_running(step, log=log.bind(schema=self.schema), what="relay")


def _message(row: asyncpg.Record) -> tuple[Any, ...]:
    headers = [(k, str(v).encode()) for k, v in orjson.loads(row["headers"]).items()]
    return (row["topic"], bytes(row["value"]), row["key"].encode(), None, None, headers)
