"""Retiring a version while traffic flows: it drains and stops, nothing else fails.

Callers keep sending to the model (unaddressed, so canary routing picks the arm), to its
stable version by number, to the version being retired by number, and to another model.
After governance's ``model.retired`` the retired version answers 404 saying it is retired,
every other request keeps its 200, and no request the retired version had accepted fails.
"""

from __future__ import annotations

import asyncio
import time

import grpc
import httpx
import pytest

from services.deployer.api.oip import grpc_predict_v2_pb2 as pb
from services.deployer.api.oip.grpc_predict_v2_pb2_grpc import GRPCInferenceServiceStub
from services.deployer.settings import DeployerSettings
from shared.events.common import DeploymentStrategy
from shared.runtime import ServiceProcess
from tests.integration.deployer.harness import (
    Answer,
    Lifecycle,
    admin_token,
    caller,
    deployed_as,
    serving,
    v2_body,
)
from tests.support.onnx_models import logistic_regression_onnx, tagged
from tests.support.polling import eventually

pytestmark = pytest.mark.integration


async def test_retire_during_load(
    deployer: ServiceProcess,
    client: httpx.AsyncClient,
    lifecycle: Lifecycle,
    config: DeployerSettings,
) -> None:
    built = logistic_regression_onnx()
    model, other = lifecycle.name("retiring"), lifecycle.name("bystander")
    await lifecycle.approve(model, 1, built.onnx)
    await lifecycle.approve(other, 1, built.onnx)
    await serving(client, model, 1)
    await serving(client, other, 1)
    canary = DeploymentStrategy(kind="canary", canary_weight=0.5, promote_after_requests=1_000_000)
    await lifecycle.approve(model, 2, tagged(built.onnx, "v2"), canary)
    await deployed_as(client, model, 2, "canary")

    body = v2_body(built.X_holdout[:2])
    urls = {
        "routed": f"/v2/models/{model}/infer",
        "stable": f"/v2/models/{model}/versions/1/infer",
        "retired": f"/v2/models/{model}/versions/2/infer",
        "other": f"/v2/models/{other}/infer",
    }
    stop = asyncio.Event()
    answers: dict[str, list[Answer]] = {kind: [] for kind in urls}
    callers = [
        asyncio.create_task(caller(client, url, body, stop, answers[kind]))
        for kind, url in urls.items()
        for _ in range(2)
    ]

    def answered_since(moment: float, count: int) -> bool:
        return all(sum(a.sent > moment for a in got) >= count for got in answers.values())

    async def flowing() -> bool:
        return answered_since(0.0, 10) and {a.version for a in answers["routed"]} == {"1", "2"}

    await eventually(flowing, timeout=30, what="traffic on both arms")
    await lifecycle.retire(model, 2, "replaced by v1 for good")
    retired_at = time.monotonic()

    async def retired_answers_404() -> httpx.Response | None:
        response = await client.post(urls["retired"], json=body)
        return response if response.status_code == 404 else None

    gone = await eventually(retired_answers_404, timeout=30, what="v2 retired")
    gone_at = time.monotonic()

    async def traffic_after_retirement() -> bool:
        return answered_since(gone_at, 20)

    await eventually(traffic_after_retirement, timeout=30, what="traffic after retirement")
    stop.set()
    await asyncio.gather(*callers)

    assert gone.json()["code"] == "version_retired"
    assert "retired" in gone.json()["error"] and "replaced by v1 for good" in gone.json()["error"]
    for kind in ("routed", "stable", "other"):
        assert {a.status for a in answers[kind]} == {200}, (kind, answers[kind][:5])
    assert {a.version for a in answers["stable"]} == {"1"}
    late = [a for a in answers["routed"] if a.sent > gone_at]
    assert {a.version for a in late} == {"1"}  # the canary arm left with it
    assert {a.version for a in answers["routed"] if a.sent < retired_at} == {"1", "2"}
    for a in answers["retired"]:  # 200 until it stopped, 404 after: never a failure
        assert (a.status, a.version) in {(200, "2"), (404, None)}, a
        if a.sent > gone_at:
            assert a.status == 404 and a.error is not None and "retired" in a.error
    assert any(a.status == 200 for a in answers["retired"])

    status = (await client.get(f"/v1/deployments/{model}")).json()["models"][0]
    here = status["serving_here"]
    assert here["stable"] == 1 and here.get("candidate") is None
    index = (await client.post("/v2/repository/index")).json()
    assert [e for e in index if e["name"] == model] == [
        {"name": model, "version": "1", "state": "READY", "reason": ""},
        {
            "name": model,
            "version": "2",
            "state": "UNAVAILABLE",
            "reason": "retired: replaced by v1 for good (by ann)",
        },
    ]

    # Over gRPC the same: NOT_FOUND, saying it is retired.
    request = pb.ModelInferRequest(model_name=model, model_version="2")
    X = built.X_holdout[:1]
    request.inputs.add(name="X", datatype="FP32", shape=X.shape)
    request.raw_input_contents.append(X.astype("<f4").tobytes())
    auth = (("authorization", f"Bearer {await admin_token(deployer)}"),)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{config.grpc_port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await GRPCInferenceServiceStub(channel).ModelInfer(request, metadata=auth)
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND
    assert "retired" in (refused.value.details() or "")
