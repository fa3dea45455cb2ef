"""The lifecycle read model: status and history per version, and what served when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from shared.events.common import DeploymentStrategy
from shared.events.deployment import ModelDeployed, ModelPromoted, ModelRolledBack
from shared.events.envelope import Event, new_event
from shared.events.governance import Decision, ModelApproved
from tests.integration.registry.conftest import LOOP, Registry
from tests.support.bus import publish
from tests.support.events import signed
from tests.support.onnx_models import logistic_regression_onnx
from tests.support.polling import eventually

pytestmark = [pytest.mark.integration, LOOP]


def at(when: datetime, payload: Any, source: str) -> Event[Any]:
    """An event stamped ``when`` (the read model orders by event time, not arrival)."""
    return new_event(payload, source=source).model_copy(update={"time": when})


async def test_status_history_and_serving_at_time(registry: Registry, unique: str) -> None:
    name = f"served-{unique}"
    async with registry.client(registry.scientist) as client:
        for _ in range(2):
            response = await client.post(
                f"/v1/models/{name}/versions",
                files={"artifact": ("m.onnx", logistic_regression_onnx().onnx)},
                data={"metadata": orjson.dumps({"task": "classification"}).decode()},
            )
            assert response.status_code == 201, response.text
        artifact = response.json()["artifact"]

    decision = Decision(policy="default", policy_version="1", policy_digest="p" * 64, checks=[])
    stable, canary = DeploymentStrategy(), DeploymentStrategy(kind="canary", canary_weight=0.2)
    t = datetime.now(UTC) + timedelta(seconds=1)
    s = timedelta(seconds=1)
    events = [
        at(t, ModelApproved(model_name=name, version=1, artifact=artifact, decision=decision), "governance"),
        at(t + s, ModelDeployed(model_name=name, version=1, arm="stable", strategy=stable, weight=1.0, replica="r1"), "deployer"),
        at(t + 2 * s, ModelApproved(model_name=name, version=2, artifact=artifact, decision=decision), "governance"),
        at(t + 3 * s, ModelDeployed(model_name=name, version=2, arm="canary", strategy=canary, weight=0.2, replica="r1"), "deployer"),
        at(t + 4 * s, ModelPromoted(model_name=name, version=2, previous_version=1, reason="canary healthy"), "deployer"),
        at(t + 5 * s, ModelRolledBack(model_name=name, version=2, restored_version=1, reason="error rate"), "deployer"),
    ]  # fmt: skip
    promoted = events[4]
    # Decisions are signed and arrive in governance's order, as on their partition; the
    # deployer's events newest first (the answers follow event time, not arrival), the
    # promotion twice.
    decisions = [signed(events[0]), signed(events[2])]
    others = [e for e in events if e.type != "model.approved"]
    await publish(registry.bootstrap, *decisions, *reversed(others), promoted)

    async with registry.client() as client:

        async def lifecycle(version: int) -> dict[str, Any]:
            response = await client.get(f"/v1/models/{name}/versions/{version}/lifecycle")
            return dict(response.json())

        async def all_applied() -> bool:
            v1, v2 = await lifecycle(1), await lifecycle(2)
            return len(v1["events"]) + len(v2["events"]) == len(events) + 2  # + registered

        await eventually(all_applied, timeout=30, what="every lifecycle event applied")
        await publish(registry.bootstrap, promoted)  # redelivered after the fact: no effect
        await registry.caught_up("model.promoted")
        v1, v2 = await lifecycle(1), await lifecycle(2)

        async def serving(when: datetime) -> int | None:
            response = await client.get(
                f"/v1/models/{name}/serving", params={"at": when.isoformat()}
            )
            return response.json()["version"]  # type: ignore[no-any-return]

        answers = [await serving(t + k * s / 2) for k in range(12)]
        serving_now = await client.get("/v1/models", params={"name": unique, "status": "serving"})

    topics = [e["topic"] for e in v2["events"]]
    assert topics[-4:] == [
        "model.approved",
        "model.deployed",
        "model.promoted",
        "model.rolled_back",
    ]
    assert topics.count("model.promoted") == 1
    assert [e["status"] for e in v2["events"][-4:]] == [
        "approved",
        "canary",
        "serving",
        "rolled_back",
    ]
    assert {e["correlation_id"] for e in v2["events"][-4:]} == {e.correlationid for e in events[2:]}
    assert v1["status"] == "serving"  # restored by the rollback
    assert [e["topic"] for e in v1["events"]][-2:] == ["model.approved", "model.deployed"]
    # half-second steps from t: nothing, v1 deployed at t+1s, v2 promoted at t+4s, v1 back at t+5s
    assert answers == [None, None, 1, 1, 1, 1, 1, 1, 2, 2, 1, 1]
    assert [m["name"] for m in serving_now.json()] == [name]


async def test_registered_versions_enter_the_history(registry: Registry, unique: str) -> None:
    name = f"fresh-{unique}"
    async with registry.client(registry.scientist) as client:
        response = await client.post(
            f"/v1/models/{name}/versions",
            files={"artifact": ("m.onnx", logistic_regression_onnx().onnx)},
            data={"metadata": orjson.dumps({"task": "classification"}).decode()},
        )
        assert response.status_code == 201

        async def history() -> list[Any]:
            got = await client.get(f"/v1/models/{name}/versions/1/lifecycle")
            return list(got.json()["events"])

        [entry] = await eventually(history, what="model.registered in the history")
        unknown = await client.get(f"/v1/models/{name}/versions/2/lifecycle")
    assert entry["topic"] == "model.registered" and entry["status"] == "registered"
    assert entry["source"] == "/modelbus/registry"
    assert unknown.status_code == 404
