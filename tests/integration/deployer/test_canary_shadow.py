"""Canary shares and sticky callers; a shadow that never changes an answer, with both arms logged."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import numpy as np
import orjson
import pytest

from shared.events.common import DeploymentStrategy
from shared.runtime import ServiceProcess
from tests.integration.deployer.harness import (
    Lifecycle,
    RawClient,
    admin_token,
    deployed_as,
    events_about,
    serving,
    v2_body,
)
from tests.support.onnx_models import gradient_boosting_onnx, logistic_regression_onnx, tagged

pytestmark = pytest.mark.integration


async def versions_answering(
    raw: RawClient, model: str, count: int, headers: dict[str, str] | None = None
) -> Counter[str]:
    body = orjson.dumps(v2_body(logistic_regression_onnx().X_holdout[:1]))
    answers = await raw.post_all(f"/v2/models/{model}/infer", [body] * count, headers)
    assert {status for status, _ in answers} == {200}
    return Counter(orjson.loads(answer)["model_version"] for _, answer in answers)


async def test_canary_takes_its_share_and_sticky_callers_stay_put(
    deployer: ServiceProcess, client: httpx.AsyncClient, lifecycle: Lifecycle
) -> None:
    raw = RawClient(deployer.port, await admin_token(deployer), connections=16)
    built = logistic_regression_onnx()
    model = lifecycle.name("canary")
    await lifecycle.approve(model, 1, built.onnx)
    await serving(client, model, 1)
    canary = DeploymentStrategy(
        kind="canary", canary_weight=0.2, sticky_header="X-Caller", promote_after_requests=1_000_000
    )
    await lifecycle.approve(model, 2, tagged(built.onnx, "v2"), canary)
    await deployed_as(client, model, 2, "canary")

    seen = await versions_answering(raw, model, 2000)
    share = seen["2"] / 2000
    assert 0.15 <= share <= 0.25, seen

    arms = {}
    for caller in (f"caller-{i}" for i in range(40)):
        answers = await versions_answering(raw, model, 5, {"X-Caller": caller})
        assert len(answers) == 1, (caller, answers)  # one caller, one arm
        arms[caller] = next(iter(answers))
    assert set(arms.values()) == {"1", "2"}

    status = (await client.get(f"/v1/deployments/{model}")).json()["models"][0]
    assert status["stable"]["weight"] == pytest.approx(0.8)
    assert status["candidate"] == {
        "version": 2,
        "status": "active",
        "reason": None,
        "mode": "canary",
        "weight": 0.2,
        "sticky_header": "X-Caller",
    }


async def test_shadow_never_changes_an_answer_and_both_arms_are_logged(
    client: httpx.AsyncClient, lifecycle: Lifecycle, kafka_bootstrap: str
) -> None:
    stable, shadow = logistic_regression_onnx(), gradient_boosting_onnx()
    model = lifecycle.name("shadow")
    await lifecycle.approve(model, 1, stable.onnx)
    await serving(client, model, 1)
    await lifecycle.approve(
        model, 2, shadow.onnx, DeploymentStrategy(kind="shadow", promote_after_requests=1_000_000)
    )
    await deployed_as(client, model, 2, "shadow")

    X = stable.X_holdout[:30]
    for i, row in enumerate(X):
        response = await client.post(
            f"/v2/models/{model}/infer", json=v2_body(row[None, :], id=f"s-{i}")
        )
        answer = response.json()
        assert answer["model_version"] == "1"
        assert answer["outputs"][0]["data"] == [int(stable.expected[i])]

    def logged(events: list[Any]) -> bool:
        return len({(e.data.request_id, e.data.arm) for e in events}) >= 2 * len(X)

    events = await events_about(kafka_bootstrap, "predictions.logged", model, until=logged)
    by_arm: dict[str, dict[str, Any]] = {"stable": {}, "shadow": {}}
    for event in events:
        by_arm[event.data.arm][event.data.request_id] = event.data
    assert set(by_arm["stable"]) == set(by_arm["shadow"]) == {f"s-{i}" for i in range(len(X))}
    for i in range(len(X)):
        on_stable, on_shadow = by_arm["stable"][f"s-{i}"], by_arm["shadow"][f"s-{i}"]
        assert (on_stable.version, on_shadow.version) == (1, 2)
        assert on_stable.inputs == on_shadow.inputs
        np.testing.assert_array_equal(np.float32(on_stable.inputs["X"]), X[i : i + 1])
        assert on_stable.outputs["label"] == [int(stable.expected[i])]
        assert on_shadow.outputs["label"] == [int(shadow.expected[i])]
