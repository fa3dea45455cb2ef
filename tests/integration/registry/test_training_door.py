"""training.completed -> model.registered: numbered, stored, downloadable, with lineage."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pytest

from shared.events.common import ModelMetadata
from shared.events.training import TrainingCompleted
from tests.integration.registry.conftest import LOOP, Registry
from tests.support.bus import collect, publish
from tests.support.onnx_models import logistic_regression_onnx, predict

pytestmark = [pytest.mark.integration, LOOP]


def completed(name: str, job: str, artifact: Any, **changes: Any) -> TrainingCompleted:
    fields: dict[str, Any] = {
        "request_id": f"req-{job}",
        "job_id": job,
        "model_name": name,
        "task": "classification",
        "algorithm": "logistic_regression",
        "artifact": artifact,
        "metrics": {"roc_auc": 0.99, "accuracy": 0.96},
        "params": {"C": 1.0},
        "candidates": [],
        "dataset_sha256": "d" * 64,
        "feature_importance": {"mean radius": 0.4},
        "parity_passed": True,
        "duration_s": 1.5,
        "metadata": ModelMetadata(owner="dana", team="risk", risk_tier="medium",
                                  tags={"domain": "health"}),
    }  # fmt: skip
    return TrainingCompleted(**{**fields, **changes})


async def registered_events(registry: Registry, name: str, count: int) -> list[Any]:
    return await collect(
        registry.bootstrap,
        "model.registered",
        where=lambda e: e.data.model_name == name,
        until=lambda found: len(found) >= count,
    )


async def test_training_results_become_versions_with_lineage(
    registry: Registry, unique: str
) -> None:
    name = f"cancer-{unique}"
    built = logistic_regression_onnx()
    artifact = await registry.store.put(built.onnx, "application/onnx")
    profile = await registry.store.put(b'{"features": {"mean radius": {"mean": 14.1}}}')
    first_job = completed(name, f"job1-{unique}", artifact, reference_profile=profile)
    [sent] = await publish(registry.bootstrap, first_job)

    [first] = await registered_events(registry, name, 1)
    assert first.data.version == 1
    assert first.data.parent_version is None
    assert first.data.source == "trainer"
    assert first.data.training_job_id == f"job1-{unique}"
    assert first.data.artifact.sha256 == artifact.sha256
    assert first.data.reference_profile is not None
    assert first.data.reference_profile.sha256 == profile.sha256
    assert first.causationid == sent.id and first.correlationid == sent.correlationid
    signature = first.data.signature
    assert [(s.name, s.datatype, s.shape) for s in signature.inputs] == [("X", "FP32", [-1, 30])]
    assert [(s.name, s.datatype) for s in signature.outputs] == [
        ("label", "INT64"),
        ("probabilities", "FP32"),
    ]

    async with registry.client() as client:
        download = await client.get(f"/v1/models/{name}/versions/1/artifact")
    assert download.status_code == 200
    assert download.headers["x-content-sha256"] == first.data.artifact.sha256
    assert hashlib.sha256(download.content).hexdigest() == first.data.artifact.sha256
    np.testing.assert_array_equal(predict(download.content, built.X_holdout), built.expected)

    better = {"roc_auc": 0.995, "accuracy": 0.97}
    await publish(registry.bootstrap, completed(name, f"job2-{unique}", artifact, metrics=better))
    second = (await registered_events(registry, name, 2))[1]
    assert (second.data.version, second.data.parent_version) == (2, 1)

    async with registry.client() as client:
        version = (await client.get(f"/v1/models/{name}/versions/2")).json()
        model = (await client.get(f"/v1/models/{name}")).json()
        compared = (await client.get(f"/v1/models/{name}/compare", params={"a": 1, "b": 2})).json()
        found = await client.get("/v1/models", params={"tag": "domain=health", "name": unique})
    assert version["parent_version"] == 1 and version["status"] == "registered"
    assert version["metadata"]["owner"] == "dana" and version["dataset_sha256"] == "d" * 64
    assert version["feature_importance"] == {"mean radius": 0.4}
    assert model["latest_version"] == 2 and [v["version"] for v in model["versions"]] == [1, 2]
    assert compared["metrics"]["roc_auc"]["delta"] == pytest.approx(0.005)
    assert [m["name"] for m in found.json()] == [name]
