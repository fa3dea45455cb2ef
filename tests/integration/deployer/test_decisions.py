"""Automatic rollback on candidate errors or drift, promotion after N clean requests, and the
same by hand; each transition one event, carrying its evidence."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from shared.events.common import DeploymentStrategy
from tests.integration.deployer.harness import Lifecycle, deployed_as, exactly, serving, v2_body
from tests.support.onnx_models import logistic_regression_onnx, tagged
from tests.unit.deployer.models import failing_for_large_first_feature

pytestmark = pytest.mark.integration

X = logistic_regression_onnx().X_holdout


async def traffic(client: httpx.AsyncClient, model: str, count: int) -> list[int]:
    statuses = []
    for i in range(count):
        response = await client.post(
            f"/v2/models/{model}/infer", json=v2_body(X[i % len(X) : i % len(X) + 1])
        )
        statuses.append(response.status_code)
    return statuses


async def canary_of(
    client: httpx.AsyncClient, lifecycle: Lifecycle, base: str, candidate: bytes, **strategy: float
) -> str:
    model = lifecycle.name(base)
    await lifecycle.approve(model, 1, logistic_regression_onnx().onnx)
    await serving(client, model, 1)
    await lifecycle.approve(
        model, 2, candidate, DeploymentStrategy(kind="canary", canary_weight=0.5, **strategy)
    )  # type: ignore[arg-type]
    await deployed_as(client, model, 2, "canary")
    return model


async def test_a_failing_candidate_is_rolled_back_on_evidence(
    client: httpx.AsyncClient, lifecycle: Lifecycle, kafka_bootstrap: str
) -> None:
    broken = failing_for_large_first_feature(logistic_regression_onnx().onnx)
    model = await canary_of(client, lifecycle, "failing", broken, promote_after_requests=40)

    statuses = await traffic(client, model, 80)
    assert 500 in statuses  # the candidate failed for real
    (event,) = await exactly(kafka_bootstrap, "model.rolled_back", model, 1)
    rolled = event.data
    assert (rolled.version, rolled.restored_version, rolled.actor) == (2, 1, "deployer")
    assert "error rate" in rolled.reason and rolled.evidence["candidate_error_rate"] > 0.5
    await serving(client, model, 1)
    assert set(await traffic(client, model, 40)) == {200}  # stable alone again, no failures


async def test_a_clean_candidate_is_promoted_after_n_requests(
    client: httpx.AsyncClient, lifecycle: Lifecycle, kafka_bootstrap: str
) -> None:
    candidate = tagged(logistic_regression_onnx().onnx, "candidate")
    model = await canary_of(client, lifecycle, "clean", candidate, promote_after_requests=30)

    assert set(await traffic(client, model, 120)) == {200}
    (event,) = await exactly(kafka_bootstrap, "model.promoted", model, 1)
    promoted = event.data
    assert (promoted.version, promoted.previous_version, promoted.actor) == (2, 1, "deployer")
    assert promoted.evidence["candidate_requests"] == 30.0
    await serving(client, model, 2)
    status = (await client.get(f"/v1/deployments/{model}")).json()["models"][0]
    assert status["stable"]["version"] == 2 and status["candidate"] is None
    assert status["previous_version"] == 1


async def test_drift_on_the_candidate_rolls_it_back_and_on_stable_does_not(
    client: httpx.AsyncClient, lifecycle: Lifecycle, kafka_bootstrap: str
) -> None:
    candidate = tagged(logistic_regression_onnx().onnx, "drifting")
    model = await canary_of(client, lifecycle, "drift", candidate, promote_after_requests=1_000_000)

    await lifecycle.drift(model, 1)  # the stable version: not a deployment decision
    await lifecycle.drift(model, 2)
    (event,) = await exactly(kafka_bootstrap, "model.rolled_back", model, 1)
    assert event.data.version == 2 and "drift detected" in event.data.reason
    assert event.data.evidence == {"drifted_features": 1.0}
    await serving(client, model, 1)


async def test_promote_and_rollback_by_hand_are_idempotent(
    client: httpx.AsyncClient, lifecycle: Lifecycle, kafka_bootstrap: str
) -> None:
    candidate = tagged(logistic_regression_onnx().onnx, "by hand")
    model = await canary_of(
        client, lifecycle, "manual", candidate, promote_after_requests=1_000_000
    )

    first, again = await asyncio.gather(
        client.post(
            f"/v1/deployments/{model}/promote", json={"version": 2, "reason": "looks good"}
        ),
        client.post(f"/v1/deployments/{model}/promote", json={"version": 2, "reason": "retry"}),
    )
    assert {first.status_code, again.status_code} == {200}
    assert sorted([first.json()["changed"], again.json()["changed"]]) == [False, True]
    (promoted,) = await exactly(kafka_bootstrap, "model.promoted", model, 1)
    assert promoted.data.actor == "tester" and promoted.data.reason in ("looks good", "retry")
    await serving(client, model, 2)  # the replica that decided serves it when it answers

    rolled = await client.post(f"/v1/deployments/{model}/rollback", json={"version": 2})
    assert rolled.json() == {
        "changed": True,
        "message": "version 2 rolled back; version 1 serves",
        "model_name": model,
        "stable_version": 1,
        "candidate_version": None,
    }
    repeat = await client.post(f"/v1/deployments/{model}/rollback", json={"version": 2})
    assert repeat.status_code == 200 and repeat.json()["changed"] is False
    await serving(client, model, 1)
    nothing = await client.post(f"/v1/deployments/{model}/promote", json={})
    assert nothing.status_code == 409 and "no candidate" in nothing.json()["error"]
    await exactly(kafka_bootstrap, "model.rolled_back", model, 1)
