"""A readable timeline of the lifecycle, read from the bus like any audit consumer would."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.bus.kafka import client_options
from shared.events.envelope import Event, decode
from shared.events.topics import TOPICS
from shared.settings import Settings

# High-volume telemetry is not part of the story.
QUIET = {"predictions.logged", "labels.received", "monitor.metrics", "governance.audit"}


class Timeline:
    """Every lifecycle event published after :meth:`start`, printed as it arrives."""

    def __init__(self, bootstrap: str, model_name: str, echo: Callable[[str], None] = print):
        self.bootstrap = bootstrap
        self.model_name = model_name
        self.echo = echo
        self.events: list[Event[Any]] = []
        self.started = time.monotonic()
        self._changed = asyncio.Condition()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            **client_options(Settings(kafka_bootstrap=self.bootstrap)), enable_auto_commit=False
        )
        await consumer.start()
        partitions = [
            TopicPartition(name, p)
            for name in TOPICS
            if name not in QUIET
            for p in (consumer.partitions_for_topic(name) or await _partitions(consumer, name))
        ]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for partition in partitions:  # resolve "end" now, before anything is produced
            await consumer.position(partition)
        self._consumer = consumer
        self._task = asyncio.create_task(self._read())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()

    async def _read(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    if record.key != self.model_name.encode():
                        continue
                    event = decode(record.value)
                    self.events.append(event)
                    self.echo(self.describe(event))
            if batches:
                async with self._changed:
                    self._changed.notify_all()

    async def wait_for(
        self, topic: str, where: Callable[[Any], bool] = lambda _: True, *, timeout: float
    ) -> Event[Any]:
        """The first event on ``topic`` whose payload satisfies ``where``; fail at the deadline."""
        event_type = TOPICS[topic].event_type

        def found() -> Event[Any] | None:
            return next((e for e in self.events if e.type == event_type and where(e.data)), None)

        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(found), timeout)
            except TimeoutError:
                raise TimeoutError(f"no {topic} event within {timeout:.0f} s") from None
        event = found()
        assert event is not None
        return event

    def describe(self, event: Event[Any]) -> str:
        topic = event.type.removeprefix("io.modelbus.").rsplit(".v", 1)[0]
        service = event.source.removeprefix("/modelbus/")
        elapsed = time.monotonic() - self.started
        return f"  {elapsed:6.1f}s  {service:<10}  {topic:<24}  {_facts(topic, event.data)}"


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    # aiokafka has no public call that waits for the metadata of a topic not yet subscribed.
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()


def _facts(topic: str, data: Any) -> str:
    version = f"v{data.version}" if hasattr(data, "version") else ""
    if topic == "training.requested":
        source = data.dataset.builtin or "dataset artifact"
        extra = " + recent labelled traffic" if getattr(data, "extra_data", None) else ""
        return f"train on {source}{extra} (reason: {data.reason})"
    if topic == "training.completed":
        metrics = ", ".join(f"{k}={v:.3f}" for k, v in list(data.metrics.items())[:3])
        return (
            f"best of {len(data.candidates)} candidates: {data.algorithm} ({metrics}), "
            f"ONNX parity {'ok' if data.parity_passed else 'FAILED'}, {data.duration_s:.1f}s"
        )
    if topic == "training.failed":
        return f"failed: {data.reason}"
    if topic == "model.registered":
        parent = f", parent v{data.parent_version}" if data.parent_version else ""
        return f"{version} registered, sha256 {data.artifact.sha256[:12]}…{parent}"
    if topic in ("model.approved", "review.requested"):
        decision = data.decision
        passed = sum(c.passed for c in decision.checks)
        return (
            f"{version} policy {decision.policy} {decision.policy_version}: {passed}/"
            f"{len(decision.checks)} checks passed, strategy {decision.strategy.kind}"
        )
    if topic == "model.rejected":
        return f"{version} rejected: {', '.join(data.failed_checks)}"
    if topic == "model.deployed":
        return f"{version} serving on the {data.arm} arm at {data.weight:.0%}"
    if topic in ("model.promoted", "model.rolled_back"):
        return f"{version}: {data.reason}"
    if topic == "drift.detected":
        drifted = [f for f in data.features if f.drifted]
        return f"{version} drift in {', '.join(data.top_features[:4])} ({len(drifted)} tests beyond threshold, window of {data.window.count})"
    if topic == "monitor.alert_resolved":
        return f"{version} {data.kind} episode over on the {data.arm} arm"
    if topic == "performance.degraded":
        return f"{version} {data.metric} {data.value:.3f} below {data.threshold:.3f}"
    return version
