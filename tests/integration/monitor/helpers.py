"""Producing what the monitor consumes: a registered version with its profile, traffic, labels."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import numpy as np
from aiokafka import AIOKafkaProducer

from services.monitor.settings import MonitorSettings
from shared.events.common import (
    ArtifactRef,
    ModelMetadata,
    ModelSignature,
    Payload,
    Task,
    TensorSpec,
)
from shared.events.deployment import PredictionLogged
from shared.events.envelope import CONTENT_TYPE, Event, decode, encode, new_event
from shared.events.monitoring import Label, LabelsReceived
from shared.events.reference_profile import HoldoutScores
from shared.events.reference_sample import MEDIA_TYPE, reference_sample_csv
from shared.events.registry import ModelRegistered
from shared.events.topics import topic_for_payload
from shared.reference_builder import build_reference_profile
from shared.settings import Settings
from shared.store.artifacts import open_store
from tests.support.bus import collect, kafka_options

FAST = MonitorSettings(tick_s=0.2)


async def publish_many(bootstrap: str, items: list[Payload | Event[Any]]) -> list[Event[Any]]:
    """Publish in order, pipelined (one producer, wait for all acks at the end)."""
    events = [i if isinstance(i, Event) else new_event(i, source="test") for i in items]
    producer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all", linger_ms=5)
    await producer.start()
    try:
        acks = [
            await producer.send(
                topic_for_payload(e.data).name,
                encode(e),
                key=e.key.encode(),
                headers=[("content-type", CONTENT_TYPE.encode())],
            )
            for e in events
        ]
        await asyncio.gather(*acks)
    finally:
        await producer.stop()
    return events


async def registered(
    settings: Settings,
    model: str,
    reference_rows: np.ndarray,
    *,
    task: Task = "classification",
    thresholds: dict[str, float] | None = None,
    metrics: dict[str, float] | None = None,
    predictions: np.ndarray | None = None,
    sample_rows: int = 2000,
    holdout: HoldoutScores | None = None,
) -> ModelRegistered:
    """A version whose profile (with a reference sample) is in the service's artifact store."""
    store = await open_store(settings.artifact_store_url())
    names = [f"f{i}" for i in range(reference_rows.shape[1])]
    sample = reference_sample_csv(reference_rows, names, rows=sample_rows)
    profile = build_reference_profile(
        reference_rows,
        names,
        task=task,
        predictions=predictions,
        target_name="y",
        holdout=holdout,
    ).model_copy(update={"reference_sample": await store.put(sample, MEDIA_TYPE)})
    profile_ref = await store.put(profile.to_json(), "application/json")
    model_ref = ArtifactRef(uri="file:///nowhere/model.onnx", sha256="0" * 64, size=1)
    return ModelRegistered(
        model_name=model,
        version=1,
        artifact=model_ref,
        task=task,
        signature=ModelSignature(
            inputs=[TensorSpec(name="input", datatype="FP32", shape=[-1, len(names)])],
            outputs=[TensorSpec(name="label", datatype="INT64", shape=[-1])],
        ),
        source="trainer",
        metrics=metrics or {},
        params={"feature_names": names, "target": "y"},
        metadata=ModelMetadata(monitor_thresholds=thresholds or {}),
        reference_profile=profile_ref,
    )


def prediction(
    model: str,
    row: np.ndarray,
    *,
    request_id: str | None = None,
    label: int = 1,
    latency_ms: float = 5.0,
    ok: bool = True,
) -> PredictionLogged:
    score = 0.9 if label == 1 else 0.1
    return PredictionLogged(
        request_id=request_id or uuid.uuid4().hex,
        model_name=model,
        version=1,
        arm="stable",
        time=datetime.now(UTC).isoformat(),
        inputs={"input": [row.tolist()]},
        outputs={"label": [label], "probabilities": [[1 - score, score]]},
        latency_ms=latency_ms,
        status="ok" if ok else "error",
    )


def labels(model: str, values: dict[str, Any]) -> LabelsReceived:
    return LabelsReceived(
        model_name=model, labels=[Label(request_id=k, value=v) for k, v in values.items()]
    )


async def events_of(
    bootstrap: str, topic: str, model: str, at_least: int, timeout: float = 60.0
) -> list[Any]:
    """The payloads of ``model``'s events on ``topic`` (by key: other tests' records on a
    shared topic, garbage included, are never decoded), once there are ``at_least``."""
    records = await collect(
        bootstrap,
        topic,
        raw=True,
        timeout=timeout,
        where=lambda r: r.key == model.encode(),
        until=lambda found: len(found) >= at_least,
    )
    return [decode(r.value).data for r in records]
