"""The kill switch stops one version within 2 s; bad artifacts never replace what serves."""

from __future__ import annotations

import time

import httpx
import pytest

from shared.events.common import ArtifactRef
from shared.store.artifacts import sha256_hex
from tests.integration.deployer.harness import Lifecycle, exactly, serving, v2_body
from tests.support.onnx_models import logistic_regression_onnx, tagged
from tests.support.polling import eventually

pytestmark = pytest.mark.integration

X = logistic_regression_onnx().X_holdout[:1]


async def test_kill_switch_stops_that_version_within_two_seconds(
    client: httpx.AsyncClient, lifecycle: Lifecycle
) -> None:
    built = logistic_regression_onnx()
    doomed, other = lifecycle.name("doomed"), lifecycle.name("other")
    await lifecycle.approve(doomed, 1, built.onnx)
    await lifecycle.approve(other, 1, built.onnx)
    await serving(client, doomed, 1)
    await serving(client, other, 1)

    started = time.monotonic()
    await lifecycle.suspend(doomed, 1)

    async def stopped() -> httpx.Response | None:
        response = await client.post(f"/v2/models/{doomed}/infer", json=v2_body(X))
        return response if response.status_code == 503 else None

    response = await eventually(stopped, timeout=2.0, interval=0.02, what="the kill switch")
    elapsed = time.monotonic() - started
    assert elapsed < 2.0
    assert (
        "suspended" in response.json()["error"] and "kill switch test" in response.json()["error"]
    )
    explicit = await client.post(f"/v2/models/{doomed}/versions/1/infer", json=v2_body(X))
    assert explicit.status_code == 503
    untouched = await client.post(f"/v2/models/{other}/infer", json=v2_body(X))
    assert untouched.status_code == 200  # other models are unaffected


def flip_bytes(path: str, offset: int) -> None:
    """Change the stored bytes in place: the announced digest no longer matches them."""
    with open(path, "r+b") as artifact:
        artifact.seek(offset)
        artifact.write(b"\x00\x01\x02\x03")


async def test_a_corrupt_artifact_fails_once_and_the_old_version_keeps_serving(
    client: httpx.AsyncClient, lifecycle: Lifecycle, kafka_bootstrap: str
) -> None:
    built = logistic_regression_onnx()
    model = lifecycle.name("corrupt")
    await lifecycle.approve(model, 1, built.onnx)
    await serving(client, model, 1)

    genuine = await lifecycle.put(tagged(built.onnx, "v2"))
    path = genuine.uri.removeprefix("file://")
    tampered = ArtifactRef(uri=genuine.uri, sha256=genuine.sha256, size=genuine.size)
    flip_bytes(path, genuine.size // 2)
    garbage = b"not a model at all"
    unbuildable = await lifecycle.put(garbage)
    assert unbuildable.sha256 == sha256_hex(garbage)

    await lifecycle.approve(model, 2, tampered)
    await lifecycle.approve(model, 3, unbuildable)
    failures = await exactly(kafka_bootstrap, "deployment.failed", model, 2)
    stages = {e.data.version: (e.data.stage, e.data.still_serving) for e in failures}
    assert stages == {2: ("verify", 1), 3: ("session", 1)}
    assert "sha256" in next(e.data.reason for e in failures if e.data.version == 2)

    response = await client.post(f"/v2/models/{model}/infer", json=v2_body(X))
    assert response.status_code == 200 and response.json()["model_version"] == "1"
    status = (await client.get(f"/v1/deployments/{model}")).json()["models"][0]
    assert status["stable"]["version"] == 1 and status["pending"] == []
