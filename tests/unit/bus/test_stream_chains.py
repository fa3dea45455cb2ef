"""The stream consumer's batches: in log order per partition, concurrent across partitions,
and never applied past a batch that failed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import TopicPartition

from shared.bus.stream import StreamConsumer, stream
from shared.settings import Settings

TOPIC = "predictions.logged"
A, B = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)


@dataclass
class _Record:
    offset: int


def _batch(first: int, n: int) -> list[_Record]:
    return [_Record(first + i) for i in range(n)]


class _Consumer:
    """What the stream consumer uses of aiokafka's: fetches served from a script."""

    def __init__(self, fetches: list[dict[TopicPartition, list[_Record]]]) -> None:
        self.fetches = fetches
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.commits: list[dict[TopicPartition, int]] = []

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[Any, Any]:
        if self.fetches:
            return self.fetches.pop(0)
        await asyncio.sleep(0.01)
        return {}

    def assignment(self) -> set[TopicPartition]:
        return {A, B}

    def highwater(self, tp: TopicPartition) -> int | None:
        return None

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))


class _Applier:
    """Stands in for the transaction of a batch: records when each batch runs."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.started: list[tuple[int, int]] = []
        self.finished: list[tuple[int, int]] = []
        self.fail_at = fail_at
        self.running = 0
        self.overlapped = False

    async def __call__(self, tp: TopicPartition, records: Sequence[_Record]) -> int:
        first = records[0].offset
        self.started.append((tp.partition, first))
        self.running += 1
        self.overlapped |= self.running > 1
        try:
            await asyncio.sleep(0.02)
            if first == self.fail_at and tp == A:
                raise ValueError("a bug")
        finally:
            self.running -= 1
        self.finished.append((tp.partition, first))
        return records[-1].offset + 1


def _consumer(fetches: list[dict[TopicPartition, list[_Record]]], applier: _Applier) -> Any:
    async def unused(events: list[Any], uow: Any, partition: int) -> None:
        raise AssertionError("not called: batches are applied by the stand-in")

    streamer = StreamConsumer(
        None,  # type: ignore[arg-type]
        Settings(),
        service="monitor",
        group="monitor-predictions.logged",
        topic=TOPIC,
        handler=stream(unused),
        concurrency=4,
    )
    fake = _Consumer(fetches)
    streamer._consumer = fake  # type: ignore[assignment]
    streamer._partition = applier  # type: ignore[method-assign]
    return streamer, fake


async def _steps(streamer: StreamConsumer, n: int) -> None:
    for _ in range(n):
        await streamer._step()


async def test_batches_apply_in_log_order_per_partition_and_overlap_across_partitions() -> None:
    applier = _Applier()
    fetches = [{A: _batch(0, 3)}, {B: _batch(0, 2)}, {A: _batch(3, 3)}, {A: _batch(6, 3)}]
    streamer, fake = _consumer(fetches, applier)

    await _steps(streamer, 12)

    assert [f for p, f in applier.finished if p == 0] == [0, 3, 6]
    order = [f for p, f in applier.started if p == 0]
    assert order == [0, 3, 6]
    # A batch starts only once the one before it in its partition has finished.
    assert applier.started.index((0, 3)) > applier.finished.index((0, 0))
    assert applier.overlapped  # B, fetched after A's first batch, ran while it did
    assert max(c.get(A, 0) for c in fake.commits) == 9
    assert max(c.get(B, 0) for c in fake.commits) == 2


async def test_a_failed_batch_rewinds_its_partition_and_nothing_after_it_is_applied() -> None:
    applier = _Applier(fail_at=3)
    fetches = [{A: _batch(0, 3)}, {A: _batch(3, 3), B: _batch(0, 2)}, {A: _batch(6, 3)}]
    streamer, fake = _consumer(fetches, applier)

    with pytest.raises(ValueError, match="a bug"):
        await _steps(streamer, 12)

    assert (0, 6) not in applier.finished  # the batch after the failed one never applied
    assert (A, 3) in fake.seeks  # read again from the first record not applied
    assert not streamer._pending
