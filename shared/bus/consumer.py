"""Applying a consumed batch exactly once in effect, and dead-lettering what cannot be applied.

For each batch of records, partition by partition (partitions concurrently, each in log order):

1. every record is decoded and validated; one that fails (not JSON, wrong schema, unknown
   type, too large, wrong topic) becomes a dead letter;
2. in one transaction per partition: the inbox claims the event ids, handlers run for the
   new ones, and dead letters are queued in the outbox for ``<topic>.dlq`` with headers
   naming the original topic, partition, offset, error class and message;
3. only once every partition's transaction committed does the caller commit the offsets.

A handler that raises a transient error (database or broker unreachable) rolls its
partition's records back; they are retried with capped backoff and nothing is dead-lettered,
for up to ``retry_deadline_s`` (``modelbus_consumer_retrying_seconds`` says how long a
partition has been waiting). Past it, the records are applied event by event and an event
whose handler still fails transiently is dead-lettered with that reason: one event cannot
hold its partition for good. While the database itself is down that cannot be done
either, and the partition keeps waiting. A handler that raises anything else rolls them
back once, and they are then applied event by event in savepoints so that the failing event
alone is dead-lettered.
A handler that raises :class:`shared.errors.Refused` also has its ``notices`` emitted, in
the same transaction as the dead letter (the sender learns why, exactly once).

Governance's decisions (the topics marked ``signed``) must verify with a trusted key at
decoding, and be new for their topic and model in governance's sequence
(:mod:`shared.bus.decision_order`) in the transaction; one that does not is dead-lettered
with the reason and counted in ``modelbus_decisions_refused_total``, and no handler sees it.
A processor without a verifier refuses every decision.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
import structlog

from shared import metrics
from shared.bus import decision_order, inbox, outbox
from shared.bus.retry import is_transient, retry_transient
from shared.bus.unit_of_work import UnitOfWork
from shared.errors import InvalidEvent, Refused
from shared.events.envelope import Event, decode_on
from shared.events.signing import DecisionVerifier, UntrustedDecision
from shared.events.topics import SIGNED, TOPICS
from shared.logging import HANDLING
from shared.store.db import Connection

log = structlog.get_logger(__name__)

Handler = Callable[[Event[Any], UnitOfWork], Awaitable[None]]


@dataclass(frozen=True)
class BatchHandler:
    """A handler that takes consecutive new events of its topic at once (``batch(fn)``).

    For high-volume topics whose effect is an insert per event: one ``executemany`` per
    batch instead of a round trip per event. It is called with one event at a time when the
    batch is replayed in isolation after a failure. ``uow.cause`` is unset; pass
    ``caused_by=`` to ``uow.emit`` for events it emits.
    """

    apply: Callable[[list[Event[Any]], UnitOfWork], Awaitable[None]]


def batch(fn: Callable[[list[Event[Any]], UnitOfWork], Awaitable[None]]) -> BatchHandler:
    return BatchHandler(fn)


class Record(Protocol):
    """The parts of a Kafka consumer record the processor reads (aiokafka's ConsumerRecord)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes | None]]


@dataclass
class DeadLetter:
    record: Record
    error: BaseException

    @property
    def dedupe_id(self) -> str:
        return f"dlq:{self.record.topic}:{self.record.partition}:{self.record.offset}"


@dataclass
class Decoded:
    record: Record
    event: Event[Any]


class _HandlerFailed(Exception):
    pass


class RetriesExhausted(Exception):
    """An event whose handler kept failing transiently past the consumer's deadline."""


class BatchProcessor:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        service: str,
        consumer: str,
        handlers: Mapping[str, Handler | BatchHandler],
        max_event_bytes: int = 1_048_576,
        concurrency: int = 4,
        retry_deadline_s: float = 300.0,
        verifier: DecisionVerifier | None = None,
    ) -> None:
        self.pool = pool
        self.service = service
        self.consumer = consumer
        self.handlers = handlers
        self.max_event_bytes = max_event_bytes
        # Partitions applied at once; each holds a pooled connection, and the pool must keep
        # some for handlers, HTTP requests and the relay.
        self.concurrency = concurrency
        self.retry_deadline_s = retry_deadline_s
        self.verifier = verifier

    @property
    def topics(self) -> list[str]:
        return sorted(self.handlers)

    def decode(self, record: Record) -> Decoded | DeadLetter:
        try:
            if record.value is not None and len(record.value) > self.max_event_bytes:
                raise InvalidEvent(
                    f"value of {len(record.value)} bytes exceeds the event limit of "
                    f"{self.max_event_bytes} bytes"
                )
            event = decode_on(record.value, TOPICS[record.topic])
            if record.topic in SIGNED:
                if self.verifier is None:
                    raise UntrustedDecision(
                        f"{event.type} cannot be verified: no governance key is trusted here",
                        reason="unknown_key",
                    )
                self.verifier.verify(event)
            return Decoded(record, event)
        except InvalidEvent as exc:
            return DeadLetter(record, exc)

    async def _in_order(self, conn: Connection, item: Decoded) -> Decoded | DeadLetter:
        """A verified decision, or a dead letter if it is a replay (see decision_order)."""
        event, record = item.event, item.record
        assert event.govseq is not None  # verified at decoding
        admission, last = await decision_order.admit(
            conn, self.consumer, record.topic, event.key, event.govseq, record.offset
        )
        if admission != "replayed":
            return item
        exc = UntrustedDecision(
            f"{event.type} for {event.key!r} is a replay: governance sequence "
            f"{event.govseq} is not after {last}, already acted on",
            reason="replayed",
        )
        return DeadLetter(record, exc)

    async def process(self, records: Sequence[Record]) -> None:
        """Apply a batch; returns only once it is durably applied (then offsets may commit).

        Each partition's records are applied in log order in one transaction; different
        partitions are applied concurrently (at most ``concurrency`` at a time), each on its
        own connection, exactly as two replicas of the service would apply them.
        """
        if not records:
            return
        started = time.perf_counter()
        partitions: dict[tuple[str, int], list[Record]] = {}
        for record in records:
            partitions.setdefault((record.topic, record.partition), []).append(record)
        if len(partitions) == 1:
            await self._process_partition(records)
        else:
            limit = asyncio.Semaphore(self.concurrency)

            async def limited(part: list[Record]) -> None:
                async with limit:
                    await self._process_partition(part)

            async with asyncio.TaskGroup() as group:
                for part in partitions.values():
                    group.create_task(limited(part))
        metrics.BATCH_SECONDS.labels(self.service).observe(time.perf_counter() - started)

    async def _process_partition(self, records: Sequence[Record]) -> None:
        items = [self.decode(r) for r in records]
        topic, partition = records[0].topic, records[0].partition
        retries = metrics.CONSUMER_RETRIES.labels(self.service)
        waiting = metrics.CONSUMER_RETRYING_SECONDS.labels(self.service, topic, str(partition))
        started = time.monotonic()

        def retrying(_: BaseException) -> None:
            retries.inc()
            waiting.set(time.monotonic() - started)

        try:
            await retry_transient(
                lambda: self._apply(items),
                log=log,
                what="consumer",
                on_retry=retrying,
                deadline_s=self.retry_deadline_s,
            )
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.error("consumer.retries_exhausted", topic=topic, partition=partition,
                      after_s=round(time.monotonic() - started, 1), error=repr(exc)[:500])  # fmt: skip
            metrics.CONSUMER_GAVE_UP.labels(self.service, topic).inc()
            await retry_transient(
                lambda: self._apply(items, give_up=True),
                log=log,
                what="consumer",
                on_retry=retrying,
            )
        finally:
            waiting.set(0)

    async def _apply(self, items: list[Decoded | DeadLetter], *, give_up: bool = False) -> None:
        """Apply ``items`` in one transaction; if a handler fails for good, again event by
        event. ``give_up``: event by event at once, transient failures dead-lettered too."""
        async with self.pool.acquire() as conn:
            if give_up:
                async with conn.transaction():
                    await self._apply_in(conn, items, isolate=True, give_up=True)
                return
            try:
                async with conn.transaction():
                    await self._apply_in(conn, items, isolate=False)
            except _HandlerFailed:
                async with conn.transaction():
                    await self._apply_in(conn, items, isolate=True)

    async def _apply_in(
        self,
        conn: Connection,
        items: list[Decoded | DeadLetter],
        *,
        isolate: bool,
        give_up: bool = False,
    ) -> None:
        items = [
            await self._in_order(conn, i)
            if isinstance(i, Decoded) and i.record.topic in SIGNED
            else i
            for i in items
        ]
        ids = [i.event.id if isinstance(i, Decoded) else i.dedupe_id for i in items]
        new = await inbox.claim(conn, self.consumer, ids)
        run: list[Decoded] = []  # consecutive new events for one batch handler
        for item, item_id in zip(items, ids, strict=True):
            if item_id not in new:
                metrics.EVENTS_DUPLICATE.labels(self.service, item.record.topic).inc()
                continue
            new.discard(item_id)  # a duplicate inside the same batch is skipped too
            if isinstance(item, DeadLetter):
                await self._dead_letter(conn, item)
            elif isolate:
                await self._handle_isolated(conn, item, give_up=give_up)
            else:
                if run and run[0].record.topic != item.record.topic:
                    await self._handle(conn, run)
                    run = []
                run.append(item)
                if not isinstance(self.handlers[item.record.topic], BatchHandler):
                    await self._handle(conn, run)
                    run = []
        if run:
            await self._handle(conn, run)

    async def _handle_isolated(self, conn: Connection, item: Decoded, *, give_up: bool) -> None:
        """One event in a savepoint: if its handler fails for good, it alone is dead-lettered
        (with ``give_up``, a handler failing transiently counts as failing for good)."""
        try:
            async with conn.transaction():
                await self._handle(conn, [item])
        except _HandlerFailed as failed:
            exc = failed.__cause__
            assert exc is not None
            await self._dead_letter(conn, DeadLetter(item.record, exc))
            if isinstance(exc, Refused):
                uow = UnitOfWork(conn, self.service, cause=item.event)
                for notice in exc.notices:
                    await uow.emit(notice)
        except Exception as exc:
            if not (give_up and is_transient(exc)) or conn.is_closed():
                raise  # the database itself is gone: nothing can be recorded, keep waiting
            reason = RetriesExhausted(
                f"still failing after {self.retry_deadline_s:g} s of retries: "
                f"{type(exc).__name__}: {str(exc)[:500]}"
            )
            await self._dead_letter(conn, DeadLetter(item.record, reason))

    async def _handle(self, conn: Connection, items: list[Decoded]) -> None:
        """Run the topic's handler on ``items`` (one, unless it is a batch handler).

        Transient errors propagate as they are (the batch is retried); any other error
        becomes :class:`_HandlerFailed` (the batch is replayed event by event).
        """
        topic = items[0].record.topic
        handler = self.handlers[topic]
        try:
            if isinstance(handler, BatchHandler):
                await handler.apply([i.event for i in items], UnitOfWork(conn, self.service))
            else:
                event = items[0].event
                handling = HANDLING.set((event.id, event.correlationid, event.subject))
                try:
                    await handler(event, UnitOfWork(conn, self.service, cause=event))
                finally:
                    HANDLING.reset(handling)
        except Exception as exc:
            if is_transient(exc):
                raise
            raise _HandlerFailed() from exc
        metrics.EVENTS_CONSUMED.labels(self.service, topic).inc(len(items))

    async def _dead_letter(self, conn: Connection, letter: DeadLetter) -> None:
        await dead_letter(conn, letter, service=self.service, consumer=self.consumer)


async def dead_letter(conn: Connection, letter: DeadLetter, *, service: str, consumer: str) -> None:
    """Queue ``letter`` for ``<topic>.dlq`` in the caller's transaction: the original key,
    value and headers (made storable), and headers naming where it was and why it failed."""
    record, error = letter.record, letter.error
    message = str(error) or type(error).__name__
    log.warning(
        "consumer.dead_letter",
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        error_class=type(error).__name__,
        error=message[:500],
    )
    key, value, headers = outbox.fit_dead_letter(
        record.key or b"",
        record.value or b"",
        {k: (v or b"").decode("utf-8", "replace") for k, v in record.headers or ()},
        {
            "modelbus.dlq.topic": record.topic,
            "modelbus.dlq.partition": str(record.partition),
            "modelbus.dlq.offset": str(record.offset),
            "modelbus.dlq.error_class": type(error).__name__,
            "modelbus.dlq.error_message": message[:4000],
            "modelbus.dlq.consumer": consumer,
        },
    )
    await outbox.add_raw(
        conn, topic=TOPICS[record.topic].dead_letter, key=key, value=value, headers=headers
    )
    metrics.EVENTS_DEAD_LETTERED.labels(service, record.topic, type(error).__name__).inc()
    if isinstance(error, UntrustedDecision):
        metrics.DECISIONS_REFUSED.labels(service, record.topic, error.reason).inc()
