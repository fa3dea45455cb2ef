"""Consuming a high-volume topic with its offsets kept beside the state it produces.

For a topic whose records are folded into state (``predictions.logged`` into the
monitor's windows) a per-event inbox row costs more than the effect. A stream consumer
instead keeps, per partition, the next offset to apply in ``stream_offsets``
(:mod:`shared.bus.stream_offsets`), written in the transaction that applies the records:

1. ``getmany`` with auto-commit off; each fetched partition's records are one batch,
   applied in one transaction after the partition's earlier batches (a chain of tasks per
   partition), while the next fetch is read and other partitions' batches run;
2. in it: the partition's stored offset is locked, records before it are skipped (another
   owner applied them), each record is decoded
   (:func:`~shared.events.struct_decode.struct_decoder`: one pass from bytes into a struct
   with the event's fields) and an invalid one is queued as a dead letter exactly as the
   inbox consumer does, the rest go to the handler at once, and the next offset is saved;
3. on start and on every assignment the consumer seeks to the stored offsets, so a
   restart, a crash or a rebalance resumes exactly where the last commit stopped: nothing
   is applied twice, nothing is skipped. The group's committed offset is only a copy, for
   tools that read lag from the broker.

A transient failure (database, broker) rolls the partition's records back and retries
them with backoff; a handler failing otherwise rolls them back once, and they are then
applied one at a time in savepoints, the failing event alone dead-lettered. A batch that
still fails stops every batch in flight, and each partition is read again from its first
record not applied.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from shared import metrics
from shared.bus import stream_offsets
from shared.bus.consumer import DeadLetter, Record, dead_letter
from shared.bus.kafka import client_options
from shared.bus.retry import is_transient, keep_running, retry_transient
from shared.bus.unit_of_work import UnitOfWork
from shared.errors import InvalidEvent
from shared.events.struct_decode import struct_decoder
from shared.events.topics import TOPICS
from shared.settings import Settings
from shared.store.db import Connection

log = structlog.get_logger(__name__)

# (events of one partition in log order, their unit of work, the partition). An event is
# what struct_decoder gives: a struct with the fields of Event[payload], or, for one that
# only pydantic's lax mode accepts, the Event itself; a handler reads only their fields.
StreamApply = Callable[[list[Any], UnitOfWork, int], Awaitable[None]]

_LAG: dict[tuple[str, int], int] = {}


def partition_lag(topic: str, partition: int) -> int:
    """Records between what this process last applied in a partition and its end, as of
    its last fetch (0 for a partition it does not own)."""
    return _LAG.get((topic, partition), 0)


def stream_group(group: str, topic: str) -> str:
    """The consumer group (and ``stream_offsets.consumer``) of a service's stream of
    ``topic``: a group of its own, so its assignment never waits for the inbox consumer's."""
    return f"{group}-{topic}"


def owns(topic: str, partition: int) -> bool:
    """Whether a stream consumer of this process owns the partition (as of its last fetch)."""
    return (topic, partition) in _LAG


@dataclass(frozen=True)
class StreamHandler:
    """A handler fed by a stream consumer (``stream(fn)``): ``fn(events, uow, partition)``
    gets one partition's new events of a fetch, in log order, in the transaction that saves
    the partition's offset. Called with one event at a time after a failure."""

    apply: StreamApply


def stream(fn: StreamApply) -> StreamHandler:
    return StreamHandler(fn)


class _SeekToStored(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: StreamConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.owner.finish(revoked)
        for tp in revoked:
            _LAG.pop((tp.topic, tp.partition), None)
            metrics.STREAM_LAG.labels(self.owner.service, tp.topic, str(tp.partition)).set(0)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.owner.seek_to_stored(assigned)
        self.owner.joined.set()


class StreamConsumer:
    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: Settings,
        *,
        service: str,
        group: str,
        topic: str,
        handler: StreamHandler,
        batch_size: int = 5000,
        concurrency: int = 4,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.service = service
        self.group = group
        self.topic = topic
        self.handler = handler
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.joined = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        # Batches in flight (partition, first and last offset), each partition's newest,
        # and the last offset fetched of each partition.
        self._pending: dict[asyncio.Task[int], tuple[TopicPartition, int, int]] = {}
        self._chains: dict[TopicPartition, asyncio.Task[int]] = {}
        self._read_to: dict[TopicPartition, int] = {}

    async def seek_to_stored(self, assigned: set[TopicPartition]) -> None:
        consumer = self._consumer
        mine = [tp for tp in assigned if tp.topic == self.topic]
        if consumer is None or not mine:
            return

        async def read() -> dict[int, int]:
            async with self.pool.acquire() as conn:
                return await stream_offsets.stored(
                    conn, self.group, self.topic, [tp.partition for tp in mine]
                )

        stored = await retry_transient(read, log=log, what="stream.offsets")
        for tp in mine:
            if tp.partition in stored:
                consumer.seek(tp, stored[tp.partition])
        log.info(
            "stream.assigned",
            topic=self.topic,
            partitions=sorted(tp.partition for tp in mine),
            resumed=sorted(stored),  # the rest start from the earliest offset
        )

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            **client_options(self.settings),
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 * 1024 * 1024,
            session_timeout_ms=self.settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=self.settings.kafka_session_timeout_ms // 3,
        )
        self._consumer = consumer
        consumer.subscribe([self.topic], listener=_SeekToStored(self))
        await consumer.start()
        try:
            await keep_running(self._step, log=log, what="stream")
        finally:
            await self._drain()
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _step(self) -> None:
        """Fetch, and hand each partition's records to the chain of tasks applying that
        partition in log order, while other partitions' chains run: one partition waiting
        on Postgres is another's decoding. At most ``concurrency`` batches are in flight."""
        consumer = self._consumer
        assert consumer is not None
        if len(self._pending) >= self.concurrency:
            await asyncio.wait(self._pending, return_when=asyncio.FIRST_COMPLETED)
        applied = await self._reap()
        wait_ms = 100 if self._pending else 1000  # come back soon to reap what is in flight
        fetched = await consumer.getmany(timeout_ms=wait_ms, max_records=self.batch_size)
        for tp, records in fetched.items():
            task = asyncio.create_task(self._chained(self._chains.get(tp), tp, records))
            self._chains[tp] = task
            self._pending[task] = (tp, records[0].offset, records[-1].offset)
            self._read_to[tp] = records[-1].offset
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:
                continue
            position = applied.get(tp)
            if position is None:
                with contextlib.suppress(IllegalStateError):
                    position = await consumer.position(tp)
            lag = max(0, high - (position if position is not None else high))
            _LAG[(tp.topic, tp.partition)] = lag
            metrics.STREAM_LAG.labels(self.service, tp.topic, str(tp.partition)).set(lag)
        if applied:
            with contextlib.suppress(CommitFailedError, IllegalStateError):
                await consumer.commit(applied)  # a copy for lag tools; Postgres is the truth

    async def _reap(self) -> dict[TopicPartition, int]:
        """The next offset of each partition whose batches finished. A batch that failed
        (after its own retries) stops every chain in flight, and each partition is read
        again from its first unfinished record: a later batch must never be applied past
        an earlier one, and what was applied is skipped by the stored offsets."""
        consumer = self._consumer
        assert consumer is not None
        applied: dict[TopicPartition, int] = {}
        failed: BaseException | None = None
        for task in [t for t in self._pending if t.done()]:
            if task.cancelled() or task.exception() is not None:
                failed = failed or task.exception() or RuntimeError("a stream batch was cancelled")
                continue
            tp, _, last = self._forget(task)
            next_offset = task.result()
            applied[tp] = max(next_offset, applied.get(tp, 0))
            if next_offset > self._read_to.get(tp, last) + 1:  # another owner applied further
                with contextlib.suppress(IllegalStateError):
                    consumer.seek(tp, next_offset)
        if failed is not None:
            rewind: dict[TopicPartition, int] = {}
            for tp, first, _ in self._pending.values():
                rewind[tp] = min(first, rewind.get(tp, first))
            await self._drain()
            for tp, offset in rewind.items():
                with contextlib.suppress(IllegalStateError):
                    consumer.seek(tp, offset)
            raise failed
        return applied

    def _forget(self, task: asyncio.Task[int]) -> tuple[TopicPartition, int, int]:
        tp, first, last = self._pending.pop(task)
        if self._chains.get(tp) is task:
            del self._chains[tp]
        return tp, first, last

    async def _chained(
        self, previous: asyncio.Task[int] | None, tp: TopicPartition, records: Sequence[Record]
    ) -> int:
        if previous is not None:
            await previous  # its failure is this batch's too: never applied past it
        return await self._partition(tp, records)

    async def _drain(self) -> None:
        """Cancel the batches in flight and wait for their transactions to roll back."""
        tasks = list(self._pending)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            self._forget(task)

    async def finish(self, partitions: set[TopicPartition]) -> None:
        """Let the batches in flight of ``partitions`` commit, for a while: a rebalance takes
        them away, and the next owner starts from what they stored. Not waiting longer is
        safe (the next owner's batch waits on the partition's offset row, then skips what
        these applied); waiting for ever, on a database that is down, would hold up the
        whole group's rebalance."""
        chains = [self._chains[tp] for tp in partitions if tp in self._chains]
        if chains:
            await asyncio.wait(chains, timeout=self.settings.kafka_session_timeout_ms / 2000)

    async def _partition(self, tp: TopicPartition, records: Sequence[Record]) -> int:
        """Apply one partition's fetched records; returns the next offset to read."""
        high = self._consumer.highwater(tp) if self._consumer is not None else None

        async def attempt() -> int:
            try:
                return await self._apply(tp, records, high, isolate=False)
            except Exception as exc:
                if is_transient(exc):
                    raise
                log.exception("stream.batch_failed", topic=tp.topic, partition=tp.partition)
                return await self._apply(tp, records, high, isolate=True)

        return await retry_transient(attempt, log=log, what="stream")

    async def _apply(
        self, tp: TopicPartition, records: Sequence[Record], high: int | None, *, isolate: bool
    ) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            stored = await stream_offsets.lock(conn, self.group, tp.topic, tp.partition)
            fresh = [r for r in records if stored is None or r.offset >= stored]
            if not fresh:
                return stored if stored is not None else records[-1].offset + 1
            decoded: list[tuple[Record, Any]] = []
            decode, limit = struct_decoder(TOPICS[tp.topic]), self.max_event_bytes
            for record in fresh:
                value = record.value
                try:
                    if value is not None and len(value) > limit:
                        raise InvalidEvent(
                            f"value of {len(value)} bytes exceeds the event limit of {limit} bytes"
                        )
                    decoded.append((record, decode(value)))
                except InvalidEvent as exc:
                    await self._dead_letter(conn, DeadLetter(record, exc))
            if isolate:
                for record, event in decoded:
                    await self._isolated(conn, record, event, tp.partition)
            elif decoded:
                events = [e for _, e in decoded]
                await self.handler.apply(events, UnitOfWork(conn, self.service), tp.partition)
            next_offset = fresh[-1].offset + 1
            await stream_offsets.save(
                conn, self.group, tp.topic, tp.partition, next_offset, high or next_offset
            )
        metrics.EVENTS_CONSUMED.labels(self.service, tp.topic).inc(len(decoded))
        return next_offset

    @property
    def max_event_bytes(self) -> int:
        return self.settings.kafka_max_message_bytes

    async def _isolated(self, conn: Connection, record: Record, event: Any, partition: int) -> None:
        """One event in a savepoint; if its handler fails for good, it alone is dead-lettered."""
        try:
            async with conn.transaction():
                await self.handler.apply([event], UnitOfWork(conn, self.service), partition)
        except Exception as exc:
            if is_transient(exc):
                raise
            await self._dead_letter(conn, DeadLetter(record, exc))

    async def _dead_letter(self, conn: Connection, letter: DeadLetter) -> None:
        await dead_letter(conn, letter, service=self.service, consumer=self.group)
