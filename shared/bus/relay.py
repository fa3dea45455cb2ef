"""The outbox relay: publishes committed outbox rows to Kafka and marks them sent.

Ordering and safety with several relays (two replicas of a service, or a restarted relay
next to a dying one):

* every row has a slot derived from its key; a relay publishes a slot's rows only while it
  holds the transaction-level advisory lock ``(namespace, slot)``, so one slot, and with
  it one key, is published by one relay at a time, in id order;
* rows are claimed ``FOR UPDATE SKIP LOCKED`` and marked sent in the same transaction, after
  the broker acknowledged them (``acks=all``). A crash after publishing and before marking
  publishes the rows again: delivery is at least once, and consumers deduplicate by event id.

Refusals: an outage (broker unreachable, leader moving) rolls the batch back and is waited
out. A row the broker itself refuses (too large for a request, refused before sending; or
in a record batch the broker refuses, not authorised, ..., every row of that batch) is
counted instead; the pass's other rows are marked sent, except later rows of the same key
(sent again after it, so the key's order holds). A row refused ``max_refusals`` times is
moved to ``outbox_quarantine`` whole, with the broker's last answer, and a dead letter about
it is queued for ``<topic>.dlq`` (``modelbus_outbox_quarantined_total`` counts them): the
outbox moves on. Passes that met a refusal back off, so a refused row costs a few seconds.

Waking: an idle relay waits on ``LISTEN modelbus_outbox_<schema>`` (a statement trigger on
the outbox, ``0004_outbox_notify.sql``, notifies at commit) and polls only every
``fallback_poll_s`` as a safety net: a notification sent while the listening connection
was being replaced is missed, so every (re)connect is followed by a pass, and the
fallback bounds how late anything else missed can be. The wake flag is cleared *before*
each pass, so a commit during the pass is never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from typing import Any

import asyncpg
import orjson
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from asyncpg.pool import PoolConnectionProxy

from shared import metrics
from shared.bus import outbox
from shared.bus.kafka import TOPIC_MAX_MESSAGE_BYTES
from shared.bus.outbox import SLOTS
from shared.bus.retry import Backoff, is_transient, keep_running
from shared.events.topics import TOPICS
from shared.store.db import Connection

log = structlog.get_logger(__name__)

# The first rows by id of the slots this relay holds. Only their ids are sorted (a backlog's
# values never go through a sort, which spilled to disk and made each pass cost as much as
# the whole backlog), then those rows are read and locked.
_CLAIM = f"""
WITH mine AS MATERIALIZED (
    SELECT s AS slot FROM generate_series(0, {SLOTS - 1}) AS s
    WHERE EXISTS (SELECT 1 FROM outbox o WHERE o.slot = s AND o.sent_at IS NULL)
      AND pg_try_advisory_xact_lock($1, s)
),
first AS (
    SELECT id FROM outbox
    WHERE sent_at IS NULL AND slot IN (SELECT slot FROM mine)
    ORDER BY id
    LIMIT $2
)
SELECT id, topic, key, value, headers, refusals FROM outbox
WHERE id IN (SELECT id FROM first) AND sent_at IS NULL
ORDER BY id
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
        fallback_poll_s: float = 5.0,
        listen: bool = True,
        max_refusals: int = 5,
    ) -> None:
        self.pool = pool
        self.producer = producer
        self.schema = schema
        self.batch_size = batch_size
        self.fallback_poll_s = fallback_poll_s
        self.listen = listen
        self.max_refusals = max_refusals
        self.channel = f"modelbus_outbox_{schema}"
        self._wake = asyncio.Event()
        self._listener: PoolConnectionProxy[asyncpg.Record] | None = None
        self._listener_lost = False
        self._refused_backoff = Backoff(initial_s=0.2, cap_s=5.0)
        # Advisory locks take two int4 keys: the schema's hash keeps services apart.
        self.lock_namespace = zlib.crc32(schema.encode()) & 0x7FFFFFFF

    async def publish_once(self) -> int:
        """Publish one batch; return how many rows were published."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(_CLAIM, self.lock_namespace, self.batch_size)
            if not rows:
                return 0
            refused = await self._send(rows)
            sent: list[int] = []
            held: set[str] = set()  # keys with a refused row: their later rows wait for it
            for row in rows:
                if row["id"] in refused:
                    held.add(row["key"])
                elif row["key"] not in held:
                    sent.append(row["id"])
            await conn.execute(
                "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])", sent
            )
            for row in rows:
                if row["id"] in refused:
                    await self._refused(conn, row, refused[row["id"]])
        metrics.OUTBOX_PUBLISHED.labels(self.schema).inc(len(sent))
        if refused:
            await asyncio.sleep(self._refused_backoff.next_delay())
        else:
            self._refused_backoff.reset()
        return len(sent)

    async def _send(self, rows: list[asyncpg.Record]) -> dict[int, BaseException]:
        """Send every row; return the ones the broker refused, by id. An outage raises
        (the batch is rolled back and sent again later).

        Rows go out as one record batch per partition (in id order, so a key's order
        holds), not one ``send`` each: the producer's per-record bookkeeping (a future, a
        partitioner hash, a callback) was most of the relay's work. The partition of a key
        is the producer's own (murmur2 of the key), so a key stays on its partition.
        """
        refused: dict[int, BaseException] = {}
        partitions: dict[str, list[int]] = {}
        partition_of: dict[tuple[str, bytes], int] = {}
        filling: dict[tuple[str, int], tuple[BatchBuilder, list[int]]] = {}
        submitted: list[tuple[list[int], Any]] = []  # (row ids, delivery of their batch)

        async def submit(topic: str, partition: int, builder: BatchBuilder, ids: list[int]) -> None:
            delivery = await self.producer.send_batch(builder, topic, partition=partition)
            submitted.append((ids, delivery))

        for row in rows:
            topic, value, key, headers = _message(row)
            try:
                if topic not in partitions:
                    partitions[topic] = sorted(await self.producer.partitions_for(topic))
                _check_size(key, value, headers)
            except Exception as exc:  # refused before sending: larger than a request may be
                if is_transient(exc):
                    raise
                refused[row["id"]] = exc
                continue
            partition = partition_of.get((topic, key))
            if partition is None:
                partition = _PARTITIONER(key, partitions[topic], partitions[topic])
                partition_of[(topic, key)] = partition
            builder, ids = filling.get((topic, partition)) or (self.producer.create_batch(), [])
            if builder.append(key=key, value=value, timestamp=None, headers=headers) is None:
                # Full: it leaves now, and a new batch (which takes any one record) goes on.
                await submit(topic, partition, builder, ids)
                builder, ids = self.producer.create_batch(), []
                builder.append(key=key, value=value, timestamp=None, headers=headers)
            ids.append(row["id"])
            filling[(topic, partition)] = (builder, ids)
        for (topic, partition), (builder, ids) in filling.items():
            await submit(topic, partition, builder, ids)
        results = await asyncio.gather(*(d for _, d in submitted), return_exceptions=True)
        for (ids, _), result in zip(submitted, results, strict=True):
            if isinstance(result, BaseException):
                if is_transient(result) or not isinstance(result, Exception):
                    raise result
                refused.update(dict.fromkeys(ids, result))
        return refused

    async def _refused(self, conn: Connection, row: asyncpg.Record, error: BaseException) -> None:
        """Count a refusal of ``row``; at ``max_refusals``, quarantine it and dead-letter it."""
        reason = f"{type(error).__name__}: {error}"[:2000]
        metrics.OUTBOX_REFUSALS.labels(self.schema, row["topic"], type(error).__name__).inc()
        log.warning("relay.refused", schema=self.schema, id=row["id"], topic=row["topic"],
                    refusals=row["refusals"] + 1, error=reason[:500])  # fmt: skip
        if row["refusals"] + 1 < self.max_refusals:
            await conn.execute(
                "UPDATE outbox SET refusals = refusals + 1, last_error = $2 WHERE id = $1",
                row["id"],
                reason,
            )
            return
        await conn.execute(
            "WITH moved AS (DELETE FROM outbox WHERE id = $1 RETURNING *)"
            " INSERT INTO outbox_quarantine (id, topic, key, value, headers, created_at,"
            " refusals, error) SELECT id, topic, key, value, headers, created_at,"
            " refusals + 1, $2 FROM moved",
            row["id"],
            reason,
        )
        metrics.OUTBOX_QUARANTINED.labels(self.schema, row["topic"], type(error).__name__).inc()
        log.error("relay.quarantined", schema=self.schema, id=row["id"], topic=row["topic"])
        topic = TOPICS.get(row["topic"])
        if topic is None:  # a dead letter itself, or a topic no longer known: kept only here
            return
        key, value, headers = outbox.fit_dead_letter(
            row["key"].encode(),
            bytes(row["value"]),
            orjson.loads(row["headers"]),
            {
                "modelbus.dlq.topic": row["topic"],
                "modelbus.dlq.error_class": type(error).__name__,
                "modelbus.dlq.error_message": reason,
                "modelbus.dlq.quarantined": f"{self.schema}.outbox_quarantine:{row['id']}",
                "modelbus.dlq.refusals": str(row["refusals"] + 1),
            },
        )
        await outbox.add_raw(conn, topic=topic.dead_letter, key=key, value=value, headers=headers)

    async def run(self) -> None:
        """Publish until cancelled; database or broker outages are waited out, never fatal."""

        async def step() -> None:
            await self._ensure_listening()
            self._wake.clear()
            if await self.publish_once() < self.batch_size:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.fallback_poll_s):
                        await self._wake.wait()

        try:
            await keep_running(step, log=log.bind(schema=self.schema), what="relay")
        finally:
            await self._stop_listening()

    async def _ensure_listening(self) -> None:
        """Hold one pooled connection that LISTENs; replace it when the database dropped it."""
        if not self.listen or self._still_listening():
            return
        await self._stop_listening()
        conn = await self.pool.acquire()
        self._listener_lost = False
        try:
            # A dropped connection wakes the loop, so it listens again without waiting.
            conn.add_termination_listener(self._lost)
            await conn.add_listener(self.channel, self._notified)
        except BaseException:
            await self.pool.release(conn)
            raise
        self._listener = conn

    async def _stop_listening(self) -> None:
        conn, self._listener = self._listener, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.remove_termination_listener(self._lost)
                if not self._listener_lost:
                    await conn.remove_listener(self.channel, self._notified)
            with contextlib.suppress(Exception):
                await self.pool.release(conn, timeout=2)

    def _still_listening(self) -> bool:
        conn = self._listener
        if conn is None or self._listener_lost:
            return False
        try:
            return not conn.is_closed()
        except asyncpg.InterfaceError:  # the pool took back a connection the server dropped
            return False

    @property
    def listening_pid(self) -> int | None:
        """The server pid of the listening connection, while it is open."""
        if not self._still_listening():
            return None
        assert self._listener is not None
        return int(self._listener.get_server_pid())

    def _notified(self, *_: object) -> None:
        self._wake.set()

    def _lost(self, *_: object) -> None:
        self._listener_lost = True
        self._wake.set()


def _message(row: asyncpg.Record) -> tuple[str, bytes, bytes, list[tuple[str, bytes]]]:
    """(topic, value, key, headers) of an outbox row as the producer sends them."""
    headers = [(k, str(v).encode()) for k, v in orjson.loads(row["headers"]).items()]
    return row["topic"], bytes(row["value"]), row["key"].encode(), headers


_PARTITIONER = DefaultPartitioner()


def _check_size(key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> None:
    """Refuse a record larger than a produce request may be, as ``producer.send`` would."""
    size = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, headers)
    if size > TOPIC_MAX_MESSAGE_BYTES:
        raise MessageSizeTooLargeError(
            f"The message is {size} bytes when serialized which is larger than the maximum"
            f" request size of {TOPIC_MAX_MESSAGE_BYTES} bytes"
        )
