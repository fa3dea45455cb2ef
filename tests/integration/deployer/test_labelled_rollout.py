"""A rollout that asks for labelled evidence: clean requests alone do not promote the
candidate; its performance windows and the stable version's, from the monitor, decide."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.integration.deployer.harness import Lifecycle, exactly, serving
from tests.integration.deployer.test_decisions import canary_of, traffic
from tests.support.bus import publish
from tests.support.onnx_models import logistic_regression_onnx, tagged

pytestmark = pytest.mark.integration

# Request evidence that passes on a busy machine too: latency is not what is tested here.
GATE = {"promote_after_requests": 30, "max_latency_ratio": 1e6, "min_labelled": 100,
        "max_quality_drop": 0.02}  # fmt: skip


async def candidate_of(client: httpx.AsyncClient, lifecycle: Lifecycle, base: str) -> str:
    onnx = tagged(logistic_regression_onnx().onnx, base)
    return await canary_of(client, lifecycle, base, onnx, **GATE)


async def test_a_candidate_worse_on_labelled_traffic_is_rolled_back_despite_clean_requests(
    client: httpx.AsyncClient, lifecycle: Lifecycle, kafka_bootstrap: str
) -> None:
    model = await candidate_of(client, lifecycle, "worse")
    assert set(await traffic(client, model, 120)) == {200}  # the request evidence passes
    await exactly(kafka_bootstrap, "model.promoted", model, 0)  # held for its labels

    for _ in range(2):
        await lifecycle.window(model, 1, "stable", 60, accuracy=0.90)
    await lifecycle.window(model, 2, "canary", 120, accuracy=0.80)

    (event,) = await exactly(kafka_bootstrap, "model.rolled_back", model, 1)
    rolled = event.data
    assert (rolled.version, rolled.restored_version, rolled.actor) == (2, 1, "deployer")
    assert "accuracy 0.8000 on 120 labelled predictions" in rolled.reason
    assert "0.9000 on 120" in rolled.reason and "below the stable version" in rolled.reason
    assert rolled.evidence["candidate_accuracy"] == pytest.approx(0.80)
    assert rolled.evidence["stable_accuracy"] == pytest.approx(0.90)
    await serving(client, model, 1)
    await exactly(kafka_bootstrap, "model.promoted", model, 0)


async def test_a_candidate_as_good_is_promoted_once_its_labels_complete_the_evidence(
    client: httpx.AsyncClient, lifecycle: Lifecycle, kafka_bootstrap: str
) -> None:
    model = await candidate_of(client, lifecycle, "as-good")
    await lifecycle.window(model, 1, "stable", 150, accuracy=0.90)
    first = await lifecycle.window(model, 2, "canary", 60, accuracy=0.895)
    await publish(kafka_bootstrap, first)  # redelivered: one window all the same
    assert set(await traffic(client, model, 120)) == {200}
    await exactly(kafka_bootstrap, "model.promoted", model, 0)  # 60 labelled of 100

    await lifecycle.window(model, 2, "canary", 50, accuracy=0.905)
    (event,) = await exactly(kafka_bootstrap, "model.promoted", model, 1)
    promoted = event.data
    assert (promoted.version, promoted.previous_version, promoted.actor) == (2, 1, "deployer")
    assert promoted.evidence["candidate_requests"] == 30.0  # what the requests said, kept
    assert promoted.evidence["candidate_labelled"] == 110.0
    assert promoted.evidence["candidate_accuracy"] == pytest.approx((60 * 0.895 + 50 * 0.905) / 110)
    assert "within 0.02 of the stable version" in promoted.reason
    await serving(client, model, 2)


async def test_drift_on_a_candidate_held_to_labels_is_left_to_its_labels(
    client: httpx.AsyncClient, lifecycle: Lifecycle, kafka_bootstrap: str
) -> None:
    model = await candidate_of(client, lifecycle, "drifting")
    # The traffic shifted (why the candidate was trained): the alert alone decides nothing.
    await lifecycle.drift(model, 2)
    await exactly(kafka_bootstrap, "model.rolled_back", model, 0)
    assert set(await traffic(client, model, 120)) == {200}
    await lifecycle.window(model, 1, "stable", 150, accuracy=0.80)
    await lifecycle.window(model, 2, "canary", 150, accuracy=0.92)
    (event,) = await exactly(kafka_bootstrap, "model.promoted", model, 1)
    assert event.data.version == 2
    await exactly(kafka_bootstrap, "model.rolled_back", model, 0)


async def test_windows_from_before_the_rollout_and_of_other_versions_are_not_evidence(
    client: httpx.AsyncClient, lifecycle: Lifecycle, kafka_bootstrap: str
) -> None:
    model = await candidate_of(client, lifecycle, "unrelated")
    assert set(await traffic(client, model, 120)) == {200}
    earlier = datetime.now(UTC) - timedelta(hours=2)
    await lifecycle.window(model, 1, "stable", 500, at=earlier, accuracy=0.99)
    await lifecycle.window(model, 7, "stable", 500, accuracy=0.99)  # not serving here
    await lifecycle.window(model, 1, "stable", 0, psi_max=0.1)  # a data window: no labels
    await lifecycle.window(model, 2, "canary", 500, accuracy=0.90)
    # Against the stable's traffic before the rollout the candidate would be far worse,
    # but the stable has no labelled window of its own since: the candidate waits.
    await exactly(kafka_bootstrap, "model.rolled_back", model, 0)
    await exactly(kafka_bootstrap, "model.promoted", model, 0)
    status = (await client.get(f"/v1/deployments/{model}")).json()["models"][0]
    assert status["candidate"]["version"] == 2
