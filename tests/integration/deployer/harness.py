"""What the deployer's integration tests use: other services' events, clients, bus readers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from modelbus.embedded import pick_free_port
from services.deployer.settings import DeployerSettings
from shared.events.common import ArtifactRef, DeploymentStrategy, Payload, Window
from shared.events.envelope import Event, decode
from shared.events.monitoring import MonitorMetrics
from shared.events.topics import TOPICS
from shared.runtime import ServiceProcess
from shared.store.artifacts import FileArtifactStore
from tests.support.bus import collect, kafka_options, publish
from tests.support.events import approved, drift, feature_drift, registered, retired, suspended
from tests.support.polling import eventually


@dataclass
class Lifecycle:
    """Publishes what governance and the monitor would, for this test's models."""

    bootstrap: str
    store: FileArtifactStore
    unique: str

    def name(self, base: str) -> str:
        return f"{base}-{self.unique}"

    async def put(self, onnx: bytes) -> ArtifactRef:
        return await self.store.put(onnx)

    async def approve(
        self,
        model: str,
        version: int,
        onnx: bytes | ArtifactRef,
        strategy: DeploymentStrategy | None = None,
        redact: tuple[str, ...] = (),
    ) -> Event[Any]:
        """The registry's registration of the version, then governance's signed approval."""
        ref = onnx if isinstance(onnx, ArtifactRef) else await self.put(onnx)
        await self.register(model, version, ref)
        payload = approved(model, version, artifact_ref=ref, strategy=strategy, redact=redact)
        return await self._publish(payload, "governance")

    async def register(self, model: str, version: int, ref: ArtifactRef) -> Event[Any]:
        return await self._publish(registered(model, version, artifact=ref), "registry")

    async def suspend(self, model: str, version: int) -> Event[Any]:
        return await self._publish(suspended(model, version, "kill switch test"), "governance")

    async def retire(self, model: str, version: int, reason: str = "end of life") -> Event[Any]:
        return await self._publish(retired(model, version, reason), "governance")

    async def drift(self, model: str, version: int) -> Event[Any]:
        alert = drift(model, version, arm="canary", features=[feature_drift("f0", 0.9)])
        return await self._publish(alert, "monitor")

    async def window(
        self,
        model: str,
        version: int,
        arm: str,
        labelled: int,
        at: datetime | None = None,
        **metrics: float,
    ) -> Event[Any]:
        """The monitor's performance window of one arm, scored on ``labelled`` predictions
        made at ``at`` (now); with ``labelled=0``, a data window (no labels scored)."""
        when = (at or datetime.now(UTC)).isoformat()
        scores = {"labelled": float(labelled), "labels_unusable": 0.0} if labelled else {}
        scored = MonitorMetrics(
            model_name=model,
            version=version,
            arm=arm,
            window=Window(start=when, end=when, count=labelled or 500),
            metrics={**metrics, **scores},
        )
        return await self._publish(scored, "monitor")

    async def _publish(self, payload: Payload, source: str) -> Event[Any]:
        (event,) = await publish(self.bootstrap, payload, source=source)
        return event


def replica(config: DeployerSettings, replica_id: str) -> DeployerSettings:
    """The same deployer pool, as another replica (with a gRPC port of its own)."""
    return config.model_copy(update={"replica_id": replica_id, "grpc_port": pick_free_port()})


async def admin_token(service: ServiceProcess) -> str:
    assert service.infra is not None
    return await service.infra.auth.issue("tester", "admin")


async def serving(client: httpx.AsyncClient, model: str, version: int, timeout: float = 30) -> None:
    """Wait until ``version`` is what answers ``model``'s unaddressed requests."""

    async def probe() -> bool:
        response = await client.get(f"/v2/models/{model}/ready")
        return response.status_code == 200 and response.json()["version"] == str(version)

    await eventually(probe, timeout=timeout, what=f"{model} serving version {version}")


async def deployed_as(client: httpx.AsyncClient, model: str, version: int, mode: str) -> None:
    async def probe() -> bool:
        status = (await client.get(f"/v1/deployments/{model}")).json()["models"][0]
        here = status["serving_here"] or {}
        return here.get("candidate") == version and here.get("mode") == mode

    await eventually(probe, timeout=30, what=f"{model} v{version} serving as {mode}")


def v2_body(rows: Any, **extra: Any) -> dict[str, Any]:
    return {
        "inputs": [
            {
                "name": "X",
                "datatype": "FP32",
                "shape": list(rows.shape),
                "data": rows.ravel().tolist(),
            }
        ],
        **extra,
    }


@dataclass(frozen=True)
class Answer:
    """One request a load caller sent: when, and what came back."""

    sent: float
    received: float
    status: int
    version: str | None  # the version that answered, when one did
    error: str | None  # the error message, when refused


async def caller(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, object],
    stop: asyncio.Event,
    answers: list[Answer],
) -> None:
    """Send ``body`` to ``url`` back to back until ``stop``, recording every answer."""
    while not stop.is_set():
        sent = time.monotonic()
        response = await client.post(url, json=body)
        json = response.headers.get("content-type", "").startswith("application/json")
        doc = response.json() if json else {}
        answers.append(
            Answer(
                sent,
                time.monotonic(),
                response.status_code,
                doc.get("model_version"),
                doc.get("error"),
            )
        )


async def events_about(
    bootstrap: str,
    topic: str,
    model: str,
    until: Callable[[list[Event[Any]]], bool],
    timeout: float = 60.0,
) -> list[Event[Any]]:
    """Events keyed by ``model`` on ``topic``, from the beginning, until ``until`` holds.

    Records of other models are not decoded: the shared topics hold other tests' events,
    some written by older encoders."""
    key = model.encode()
    events: list[Event[Any]] = []

    def enough(found: list[Any]) -> bool:
        events.extend(decode(r.value) for r in found[len(events) :])  # each record once
        return until(events)

    await collect(
        bootstrap, topic, raw=True, timeout=timeout, where=lambda r: r.key == key, until=enough
    )
    return events


async def read_all(bootstrap: str, topic: str, model: str) -> list[Event[Any]]:
    """Every event about ``model`` on ``topic`` up to the current end of each partition."""
    consumer = AIOKafkaConsumer(
        **kafka_options(bootstrap), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(TOPICS[topic].partitions)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[Event[Any]] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found.extend(decode(r.value) for r in records if r.key == model.encode())
        return found
    finally:
        await consumer.stop()


async def exactly(
    bootstrap: str, topic: str, model: str, count: int, settle_s: float = 1.5
) -> list[Event[Any]]:
    """Wait for ``count`` events about ``model``, then check no more follow within ``settle_s``
    (a duplicate from a second replica or a retried decision would)."""
    await events_about(bootstrap, topic, model, until=lambda found: len(found) >= count)
    await asyncio.sleep(settle_s)
    events = await read_all(bootstrap, topic, model)
    assert len(events) == count, [e.data for e in events]
    return events


class RawClient:
    """A minimal HTTP/1.1 keep-alive client over asyncio streams, for request volumes where
    httpx's per-request cost would dominate the test's run time."""

    def __init__(self, port: int, token: str, connections: int = 32) -> None:
        self.port = port
        self.token = token
        self.connections = connections

    async def post_all(
        self, path: str, bodies: list[bytes], headers: dict[str, str] | None = None
    ) -> list[tuple[int, bytes]]:
        """POST every body (in order of the returned answers), ``connections`` at a time."""
        answers: list[tuple[int, bytes]] = [(0, b"")] * len(bodies)
        queue = iter(enumerate(bodies))
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())

        async def connection() -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            try:
                for i, body in queue:
                    writer.write(
                        f"POST {path} HTTP/1.1\r\nHost: deployer\r\n"
                        f"Authorization: Bearer {self.token}\r\n"
                        f"Content-Type: application/json\r\n{extra}"
                        f"Content-Length: {len(body)}\r\n\r\n".encode()
                        + body
                    )
                    answers[i] = await _read_response(reader)
            finally:
                writer.close()

        await asyncio.gather(*(connection() for _ in range(self.connections)))
        return answers


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    return status, await reader.readexactly(length)
