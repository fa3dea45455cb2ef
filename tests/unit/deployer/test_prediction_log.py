"""The prediction log: fast encoding that the strict decoder accepts, a bounded buffer, batches."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import numpy as np
import orjson

from services.deployer.serving.prediction_log import PredictionLog
from services.deployer.serving.prediction_record import (
    REDACTED,
    PredictionRecord,
    encode_record,
    new_event_id,
)
from shared.events.deployment import PredictionLogged
from shared.events.envelope import decode, encode, new_event


def record(
    model: str = "m", *, error: str | None = None, redact: frozenset[str] = frozenset()
) -> PredictionRecord:
    return PredictionRecord(
        "req-1",
        model,
        3,
        "canary",
        time.time(),
        {
            "X": np.arange(6, dtype=np.float32).reshape(2, 3),
            "S": np.array(["a", "b"], dtype=object),
        },
        {} if error else {"label": np.array([0, 1], dtype=np.int64)},
        0.25,
        error,
        redact,
    )


def test_the_fast_path_decodes_with_the_strict_decoder_and_matches_pydantic() -> None:
    raw = encode_record(record(), "/modelbus/deployer")
    event = decode(raw)
    assert uuid.UUID(event.id).version == 4 and event.correlationid == event.id
    data = event.data
    assert isinstance(data, PredictionLogged)
    assert (data.model_name, data.version, data.arm, data.status) == ("m", 3, "canary", "ok")
    assert data.inputs == {"X": [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], "S": ["a", "b"]}
    assert data.outputs == {"label": [0, 1]}

    # Same JSON shape as the pydantic encoding of the same payload, key for key.
    slow = orjson.loads(encode(new_event(data, source="deployer")))
    fast = orjson.loads(raw)
    assert set(fast) == set(slow)
    assert set(fast["data"]) == set(slow["data"])
    for key in ("specversion", "source", "type", "subject", "datacontenttype"):
        assert fast[key] == slow[key]
    assert fast["data"] == slow["data"]
    assert fast["time"].endswith("Z") and slow["time"].endswith("Z")


def test_caller_strings_are_escaped_and_records_do_not_share_ids() -> None:
    tricky = 'quote " backslash \\ newline \n unicode é \u2028 }'
    first = decode(encode_record(record()._replace(request_id=tricky), "/modelbus/deployer"))
    second = decode(encode_record(record()._replace(error=tricky), "/modelbus/deployer"))
    assert first.data.request_id == tricky and second.data.error == tricky
    assert first.id != second.id


def test_event_ids_are_distinct_version_4_uuids() -> None:
    ids = [new_event_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    parsed = [uuid.UUID(i) for i in ids]
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in parsed)
    assert all(str(u) == i for u, i in zip(parsed, ids, strict=True))


def test_failures_carry_their_error_and_redacted_fields_are_hidden() -> None:
    raw = encode_record(record(error="boom", redact=frozenset({"S"})), "/modelbus/deployer")
    data = decode(raw).data
    assert data.status == "error" and data.error == "boom"
    assert data.inputs["S"] == REDACTED and data.inputs["X"][0] == [0.0, 1.0, 2.0]


class FakeBatch:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.records: list[tuple[bytes, bytes, list[tuple[str, bytes]]]] = []

    def append(
        self, *, key: bytes, value: bytes, timestamp: None, headers: list[tuple[str, bytes]]
    ) -> object | None:
        if len(self.records) >= self.capacity:
            return None
        self.records.append((key, value, headers))
        return object()


class FakeProducer:
    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.sent: list[tuple[int, FakeBatch]] = []

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(6))

    def create_batch(self) -> FakeBatch:
        return FakeBatch(capacity=7)

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> Any:
        assert topic == "predictions.logged"
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.fail:
            future.set_exception(ConnectionError("broker away"))
        else:
            self.sent.append((partition, batch))
            future.set_result(None)
        return future


async def test_records_are_published_in_batches_keyed_by_model() -> None:
    log = PredictionLog(capacity=1000, enabled=True, source="deployer")
    for i in range(50):
        log.add(record(model=f"model-{i % 3}"))
    producer = FakeProducer()
    await log.publish(producer, limit=40)  # type: ignore[arg-type]
    await log.publish(producer, limit=40)  # type: ignore[arg-type]
    assert log.published == 50 and len(log) == 0
    partitions: dict[bytes, set[int]] = {}
    for partition, batch in producer.sent:
        for key, value, headers in batch.records:
            partitions.setdefault(key, set()).add(partition)
            assert decode(value).subject == key.decode()
            assert ("content-type", b"application/cloudevents+json") in headers
    assert all(len(p) == 1 for p in partitions.values())  # one model, one partition
    assert sum(len(b.records) for _, b in producer.sent) == 50


async def test_a_full_buffer_drops_and_counts_instead_of_blocking() -> None:
    log = PredictionLog(capacity=10, enabled=True, source="deployer")
    for _ in range(25):
        log.add(record())
    assert len(log) == 10 and log.dropped == 15


async def test_an_undeliverable_batch_is_counted_as_dropped() -> None:
    log = PredictionLog(capacity=100, enabled=True, source="deployer")
    for _ in range(5):
        log.add(record())
    await log.publish(FakeProducer(fail=True), limit=100)  # type: ignore[arg-type]
    assert log.dropped == 5 and log.published == 0


async def test_logging_can_be_switched_off() -> None:
    log = PredictionLog(capacity=10, enabled=False, source="deployer")
    log.add(record())
    assert len(log) == 0 and log.dropped == 0


async def test_a_record_beyond_the_event_limit_is_counted_not_sent() -> None:
    log = PredictionLog(capacity=100, enabled=True, source="deployer", max_event_bytes=2000)
    log.add(record())
    log.add(record()._replace(inputs={"X": [[0.5] * 30] * 200}))  # a batch-scoring request
    producer = FakeProducer()
    await log.publish(producer, limit=100)  # type: ignore[arg-type]
    assert (log.published, log.dropped) == (1, 1)
    assert sum(len(b.records) for _, b in producer.sent) == 1
