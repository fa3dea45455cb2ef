"""Live traffic for the demo: predictions over the Open Inference Protocol, ground truth as events.

Rows come from :mod:`modelbus.demo.rows` (a dataset scikit-learn ships, or the generated
credit applications), shifted when ``shifted`` is switched on.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field

import httpx
import numpy as np
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from modelbus.demo.rows import Rows
from shared.bus.kafka import client_options, send_event
from shared.events.envelope import new_event
from shared.events.monitoring import Label, LabelsReceived
from shared.settings import Settings


@dataclass
class Outcome:
    version: int
    shifted: bool
    correct: bool


@dataclass
class TrafficStats:
    outcomes: list[Outcome] = field(default_factory=list)
    failures: int = 0
    # When each request failed (monotonic) and why, and when each succeeded: to tell
    # which failures fell while the deployer was down, and what the others were.
    failed_at: list[float] = field(default_factory=list)
    failed_why: list[str] = field(default_factory=list)
    served_at: list[float] = field(default_factory=list)

    def failed(self, why: str) -> None:
        self.failures += 1
        self.failed_at.append(time.monotonic())
        self.failed_why.append(why)

    def accuracy(self, *, version: int, shifted: bool) -> tuple[float, int]:
        hits = [o.correct for o in self.outcomes if o.version == version and o.shifted == shifted]
        return (float(np.mean(hits)) if hits else float("nan"), len(hits))


def _error_code(response: httpx.Response) -> str:
    """What the deployer said went wrong: its error code, else the start of its message."""
    try:
        doc = response.json()
    except ValueError:
        return ""
    if not isinstance(doc, dict):
        return ""
    said = doc.get("code") or doc.get("error") or ""
    return str(said)[:80]


class Traffic:
    """Sends requests continuously until stopped; ``shifted`` may be switched at any time."""

    def __init__(
        self, inference_url: str, token: str, bootstrap: str, model_name: str, rows: Rows
    ) -> None:
        self.rows = rows
        self.model_name = model_name
        self.bootstrap = bootstrap
        self.http = httpx.AsyncClient(
            base_url=inference_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
            trust_env=False,
        )
        self.shifted = False
        self.stats = TrafficStats()
        self._labels: list[Label] = []
        self._producer: AIOKafkaProducer | None = None

    async def run(self, concurrency: int = 4, rate_per_s: float = 120.0) -> None:
        self._producer = AIOKafkaProducer(
            **client_options(Settings(kafka_bootstrap=self.bootstrap)), acks="all"
        )
        await self._producer.start()
        try:
            workers = [self._worker(concurrency / rate_per_s) for _ in range(concurrency)]
            await asyncio.gather(*workers, self._label_sender())
        finally:
            await self._flush_labels()
            await self._producer.stop()
            await self.http.aclose()

    async def _worker(self, pause_s: float) -> None:
        while True:
            await self.predict_one()
            await asyncio.sleep(pause_s)

    async def predict_one(self) -> None:
        shifted = self.shifted
        inputs, label = self.rows.next(shifted)
        request_id = uuid.uuid4().hex
        body = {"id": request_id, "inputs": inputs, "outputs": [{"name": "label"}]}
        try:
            response = await self.http.post(f"/v2/models/{self.model_name}/infer", json=body)
        except httpx.HTTPError as exc:
            self.stats.failed(type(exc).__name__)
            return
        if response.status_code != 200:
            self.stats.failed(f"{response.status_code} {_error_code(response)}")
            return
        self.stats.served_at.append(time.monotonic())
        doc = response.json()
        predicted = next(o["data"][0] for o in doc["outputs"] if o["name"] == "label")
        version = int(doc["model_version"])
        self.stats.outcomes.append(Outcome(version, shifted, int(predicted) == label))
        self._labels.append(Label(request_id=request_id, value=label))

    async def _label_sender(self) -> None:
        """Ground truth arrives a little later, in batches, as a business system would send it.
        A broker that is away keeps them for the next attempt, as a business system would."""
        while True:
            await asyncio.sleep(1.0)
            labels = self._labels
            try:
                await self._flush_labels()
            except KafkaError:
                self._labels = labels + self._labels

    async def _flush_labels(self) -> None:
        labels, self._labels = self._labels, []
        if not labels or self._producer is None:
            return
        event = new_event(
            LabelsReceived(model_name=self.model_name, labels=labels), source="demo-business-system"
        )
        await send_event(self._producer, event)
