"""A rebuild whose broker stops answering ends with a reason instead of waiting forever."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import TopicPartition

from services.governance.audit import replay as replay_module
from shared.errors import Unavailable
from shared.events.signing import DecisionVerifier
from shared.settings import Settings

PARTITION = TopicPartition("model.registered", 0)


class SilentConsumer:
    """A consumer whose partition holds records it never returns."""

    def __init__(self, **_: Any) -> None:
        self.stopped = False

    async def start(self) -> None: ...

    async def stop(self) -> None:
        self.stopped = True

    def assign(self, partitions: list[TopicPartition]) -> None: ...

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None: ...

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(partitions, 10)

    async def getmany(self, *partitions: TopicPartition, timeout_ms: int) -> dict[Any, Any]:
        return {}

    async def position(self, tp: TopicPartition) -> int:
        return 0


async def test_a_broker_that_returns_nothing_stops_the_stage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumers: list[SilentConsumer] = []

    def consumer(**options: Any) -> SilentConsumer:
        consumers.append(SilentConsumer(**options))
        return consumers[-1]

    async def partitions(settings: Settings, topics: Any) -> list[TopicPartition]:
        return [PARTITION]

    monkeypatch.setattr(replay_module, "AIOKafkaConsumer", consumer)
    monkeypatch.setattr(replay_module, "_partitions", partitions)
    with pytest.raises(Unavailable, match="1 partition"):
        await replay_module._stage(
            None,  # type: ignore[arg-type]  # never reached: nothing is fetched
            Settings(),
            ["model.registered"],
            "governance",
            DecisionVerifier.of([]),
            stall_s=0.6,
        )
    assert consumers[0].stopped
