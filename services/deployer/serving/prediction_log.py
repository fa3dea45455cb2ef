"""``predictions.logged``: one record per inference, published in batches off the request path.

The one documented exception to the outbox rule: a prediction log is telemetry, not a state
change, and writing thousands a second through Postgres would cost more than serving them.
Records go straight to Kafka with the service's producer (``acks=all``).

The request path only appends a tuple to a bounded buffer. When the buffer is full the record
is dropped and counted (``modelbus_prediction_logs_dropped_total{reason="buffer_full"}``):
logging never blocks or fails a request. A publisher task drains the buffer into Kafka
record batches, one per partition, and awaits their delivery; a batch that cannot be
delivered is counted as dropped (``reason="publish_failed"``) and logged. A record larger
than the bus's event limit (a batch-scoring request of tens of thousands of rows) is not
sent, since every consumer would dead-letter it: it is counted (``reason="too_large"``)
and logged with its size.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from services.deployer.metrics import PREDICTION_LOGS_DROPPED, PREDICTION_LOGS_PUBLISHED
from services.deployer.serving.prediction_record import (
    HEADERS,
    TOPIC,
    PredictionRecord,
    encode_record,
)

log = structlog.get_logger(__name__)


class PredictionLog:
    def __init__(
        self, *, capacity: int, enabled: bool, source: str, max_event_bytes: int = 1_048_576
    ) -> None:
        self.capacity = capacity
        self.enabled = enabled
        self.max_event_bytes = max_event_bytes
        self.source = f"/modelbus/{source}"
        self._buffer: deque[PredictionRecord] = deque()
        self._partitions: dict[str, int] = {}
        self.dropped = 0
        self.published = 0

    def add(self, record: PredictionRecord) -> None:
        """Called on the request path: never blocks, never raises."""
        if not self.enabled:
            return
        if len(self._buffer) >= self.capacity:
            self.dropped += 1
            PREDICTION_LOGS_DROPPED.labels("buffer_full").inc()
            return
        self._buffer.append(record)

    def __len__(self) -> int:
        return len(self._buffer)

    async def run(self, producer: AIOKafkaProducer, *, batch: int, flush_s: float) -> None:
        """Publish until cancelled; on cancellation, publish what is buffered first."""
        try:
            while True:
                # A full batch goes at once; otherwise wait for the flush interval, so that
                # light traffic does not become one tiny Kafka request per record.
                if len(self._buffer) < batch:
                    await asyncio.sleep(flush_s)
                if self._buffer:
                    await self.publish(producer, batch)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._drain(producer, batch), timeout=5)

    async def _drain(self, producer: AIOKafkaProducer, batch: int) -> None:
        while self._buffer:
            await self.publish(producer, batch)

    async def publish(self, producer: AIOKafkaProducer, limit: int) -> None:
        """Publish up to ``limit`` buffered records and wait for the broker's acknowledgement."""
        records = [self._buffer.popleft() for _ in range(min(limit, len(self._buffer)))]
        try:
            sent = await self._send(producer, records)
        except Exception as exc:
            self.dropped += len(records)
            PREDICTION_LOGS_DROPPED.labels("publish_failed").inc(len(records))
            log.warning("prediction_log.publish_failed", records=len(records), error=repr(exc))
            return
        self.published += sent
        PREDICTION_LOGS_PUBLISHED.inc(sent)

    async def _send(self, producer: AIOKafkaProducer, records: list[PredictionRecord]) -> int:
        """Send the records that fit the event limit; returns how many were sent."""
        batches: dict[int, Any] = {}
        deliveries = []
        sent = 0
        for record in records:
            value = encode_record(record, self.source)
            if len(value) > self.max_event_bytes:
                self._too_large(record, len(value))
                continue
            sent += 1
            partition = self._partitions.get(record.model_name)
            if partition is None:
                partition = await self._partition(producer, record.model_name)
            headers = HEADERS
            key = record.model_name.encode()
            builder = batches.get(partition)
            if (
                builder is None
                or builder.append(key=key, value=value, timestamp=None, headers=headers) is None
            ):
                if builder is not None:  # full: ship it and start another
                    deliveries.append(
                        await producer.send_batch(builder, TOPIC.name, partition=partition)
                    )
                builder = batches[partition] = producer.create_batch()
                builder.append(key=key, value=value, timestamp=None, headers=headers)
        for partition, builder in batches.items():
            deliveries.append(await producer.send_batch(builder, TOPIC.name, partition=partition))
        await asyncio.gather(*deliveries)
        return sent

    def _too_large(self, record: PredictionRecord, size: int) -> None:
        self.dropped += 1
        PREDICTION_LOGS_DROPPED.labels("too_large").inc()
        log.warning(
            "prediction_log.too_large",
            model=record.model_name,
            version=record.version,
            request_id=record.request_id,
            bytes=size,
            limit=self.max_event_bytes,
        )

    async def _partition(self, producer: AIOKafkaProducer, model_name: str) -> int:
        """The partition the default partitioner gives the model name (then cached)."""
        available = sorted(await producer.partitions_for(TOPIC.name))
        partition: int = DefaultPartitioner()(model_name.encode(), available, available)
        self._partitions[model_name] = partition
        return partition
