"""The issue's ``/proc/self/environ`` sequence against the trainer: refused, naming the rule,
over HTTP before a job exists, and on the bus with ``training.failed``; nothing read."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest

from shared.events.common import ArtifactRef
from shared.events.training import DatasetSpec
from shared.runtime import ServiceProcess
from shared.settings import Settings
from tests.integration.trainer.helpers import QUICK, csv_dataset, outcomes, request
from tests.support.bus import publish
from tests.support.services import http

pytestmark = pytest.mark.integration

ENVIRON = "file:///proc/self/environ"


def leaks(text: str) -> list[str]:
    return [k for k, v in os.environ.items() if len(v) >= 8 and v in text]


async def test_the_environ_sequence_is_refused_over_http_and_on_the_bus(
    trainer: ServiceProcess, settings: Settings, unique: str, tmp_path: Path
) -> None:
    assert trainer.infra is not None
    token = await trainer.infra.auth.issue("dana", "data-scientist")
    real = await asyncio.to_thread(Path("/proc/self/environ").read_bytes)
    announced = [
        ("0" * 64, 1),
        ("0" * 64, len(real)),
        (hashlib.sha256(real).hexdigest(), len(real)),
    ]
    async with http(trainer, token) as client:
        for digest, size in announced:
            body = {
                "model_name": f"env-{unique}",
                "task": "classification",
                "target": "label",
                "dataset": {"artifact": {"uri": ENVIRON, "sha256": digest, "size": size}},
            }
            response = await client.post("/v1/training-requests", json=body)
            assert response.status_code == 422, response.text
            error = response.json()
            assert error["code"] == "source_refused"
            assert "MODELBUS_ARTIFACT_SOURCE_DIRS" in error["error"]
            assert leaks(response.text) == [] and str(len(real)) not in error["error"]

    ref = ArtifactRef(uri=ENVIRON, sha256=hashlib.sha256(real).hexdigest(), size=len(real))
    asked = request(
        f"env-bus-{unique}",
        DatasetSpec(artifact=ref, format="csv"),
        target="label",
        candidates=QUICK,
    )
    await publish(settings.kafka_bootstrap, asked)
    [event] = await outcomes(settings.kafka_bootstrap, "training.failed", asked.request_id)
    assert "MODELBUS_ARTIFACT_SOURCE_DIRS" in event.data.reason
    assert leaks(event.data.reason) == []


async def test_a_dataset_error_names_the_place_never_the_cell(
    trainer: ServiceProcess, settings: Settings, unique: str, tmp_path: Path
) -> None:
    secret = "hunter2-" + unique
    # Declared a number: a text cell there is an error (undeclared, it would make the
    # column categorical).
    spec = csv_dataset(
        tmp_path / "d.csv", f"a,label\n1,0\n{secret},1\n2,0\n", schema={"a": "float"}
    )
    asked = request(f"cells-{unique}", spec, target="label", candidates=QUICK)
    await publish(settings.kafka_bootstrap, asked)
    [event] = await outcomes(settings.kafka_bootstrap, "training.failed", asked.request_id)
    assert "data row 2, column 'a': the value is not a number" in event.data.reason
    assert secret not in event.data.reason
