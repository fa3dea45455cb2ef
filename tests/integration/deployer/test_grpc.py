"""The gRPC side of the Open Inference Protocol: its refusals, and what it shares with REST.

tritonclient's own session is in test_protocol.py beside the REST one; here a plain
``grpc.aio`` channel with the deployer's generated stub sends what tritonclient would not
(no token, bytes that are no message, typed contents) and reads what REST would read
(prediction logs, metrics, the repository index).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import httpx
import numpy as np
import pytest

from services.deployer.api.oip import grpc_predict_v2_pb2 as pb
from services.deployer.api.oip.grpc_predict_v2_pb2_grpc import GRPCInferenceServiceStub
from services.deployer.settings import DeployerSettings
from shared.runtime import ServiceProcess
from tests.integration.deployer.harness import (
    Lifecycle,
    admin_token,
    events_about,
    serving,
    v2_body,
)
from tests.support.onnx_models import logistic_regression_onnx
from tests.support.polling import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def channel(config: DeployerSettings) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{config.grpc_port}") as opened:
        yield opened


def infer_request(model: str, X: np.ndarray, **fields: object) -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name=model, **fields)  # type: ignore[arg-type]
    request.inputs.add(name="X", datatype="FP32", shape=X.shape)
    request.raw_input_contents.append(np.ascontiguousarray(X, dtype="<f4").tobytes())
    return request


async def refused(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def test_no_token_no_answer_and_the_token_comes_before_the_message(
    deployer: ServiceProcess, channel: grpc.aio.Channel, lifecycle: Lifecycle
) -> None:
    stub = GRPCInferenceServiceStub(channel)
    X = logistic_regression_onnx().X_holdout[:1]
    assert (await stub.ServerLive(pb.ServerLiveRequest())).live  # public, as REST's

    async def ready() -> bool:
        return bool((await stub.ServerReady(pb.ServerReadyRequest())).ready)

    await eventually(ready, timeout=30, what="the deployer ready over gRPC")

    missing = await refused(stub.ModelInfer(infer_request(lifecycle.name("any"), X)))
    assert missing.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "missing bearer token" in (missing.details() or "")
    wrong = await refused(
        stub.ServerMetadata(
            pb.ServerMetadataRequest(), metadata=(("authorization", "Bearer mb_nope"),)
        )
    )
    assert wrong.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "invalid or revoked" in (wrong.details() or "")
    raw = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")
    garbage = await refused(raw(b"\xff\xff\xff not a message"))
    assert garbage.code() == grpc.StatusCode.UNAUTHENTICATED  # never parsed
    token = await admin_token(deployer)
    garbage = await refused(
        raw(b"\xff\xff\xff not a message", metadata=(("authorization", f"Bearer {token}"),))
    )
    assert garbage.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid ModelInferRequest" in (garbage.details() or "")


async def test_malformed_and_unknown_requests_are_refused_with_the_protocols_codes(
    deployer: ServiceProcess,
    config: DeployerSettings,
    client: httpx.AsyncClient,
    channel: grpc.aio.Channel,
    lifecycle: Lifecycle,
) -> None:
    built = logistic_regression_onnx()
    model = lifecycle.name("grpc-bad")
    await lifecycle.approve(model, 1, built.onnx)
    await serving(client, model, 1)
    auth = (("authorization", f"Bearer {await admin_token(deployer)}"),)
    stub = GRPCInferenceServiceStub(channel)
    X = built.X_holdout[:2]

    async def code_of(request: pb.ModelInferRequest) -> tuple[grpc.StatusCode, str]:
        error = await refused(stub.ModelInfer(request, metadata=auth))
        return error.code(), error.details() or ""

    short = infer_request(model, X[:, :5])
    code, details = await code_of(short)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "shape" in details
    extra = infer_request(model, X)
    extra.raw_input_contents.append(b"\x00" * 8)
    code, details = await code_of(extra)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "raw_input_contents has 2" in details
    odd = infer_request(model, X)
    odd.raw_input_contents[0] = odd.raw_input_contents[0][:-3]
    code, details = await code_of(odd)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "FP32" in details
    code, _ = await code_of(infer_request(f"nope-{lifecycle.unique}", X))
    assert code == grpc.StatusCode.NOT_FOUND
    code, _ = await code_of(infer_request(model, X, model_version="9"))
    assert code == grpc.StatusCode.NOT_FOUND
    code, details = await code_of(infer_request(model, X, model_version="one"))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "integer" in details
    unknown = await refused(
        stub.ModelMetadata(pb.ModelMetadataRequest(name=f"nope-{lifecycle.unique}"), metadata=auth)
    )
    assert unknown.code() == grpc.StatusCode.NOT_FOUND
    huge = infer_request(model, X)
    huge.raw_input_contents[0] = b"\x00" * (config.max_body_bytes + 1)
    code, _ = await code_of(huge)
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED  # held to the REST body limit

    typed = pb.ModelInferRequest(model_name=model, id="typed")
    typed.inputs.add(name="X", datatype="FP32", shape=X.shape).contents.fp32_contents.extend(
        X.ravel().tolist()
    )
    by_contents = await stub.ModelInfer(typed, metadata=auth)
    by_raw = await stub.ModelInfer(infer_request(model, X), metadata=auth)
    assert by_contents.id == "typed" and by_contents.model_version == "1"
    assert by_contents.raw_output_contents == by_raw.raw_output_contents
    rest = (await client.post(f"/v2/models/{model}/infer", json=v2_body(X))).json()
    [label] = [o for o in rest["outputs"] if o["name"] == "label"]
    index = [o.name for o in by_raw.outputs].index("label")
    got = np.frombuffer(by_raw.raw_output_contents[index], dtype="<i8")
    assert got.tolist() == label["data"]


async def test_grpc_inference_is_logged_counted_and_indexed_like_rest(
    deployer: ServiceProcess,
    client: httpx.AsyncClient,
    channel: grpc.aio.Channel,
    lifecycle: Lifecycle,
    kafka_bootstrap: str,
) -> None:
    built = logistic_regression_onnx()
    model = lifecycle.name("grpc-logged")
    await lifecycle.approve(model, 1, built.onnx)
    await serving(client, model, 1)
    auth = (("authorization", f"Bearer {await admin_token(deployer)}"),)
    stub = GRPCInferenceServiceStub(channel)

    for i in range(3):
        await stub.ModelInfer(infer_request(model, built.X_holdout[:1], id=f"g-{i}"), metadata=auth)
    with pytest.raises(grpc.aio.AioRpcError):
        await stub.ModelInfer(
            infer_request(model, built.X_holdout[:1, :3], id="g-bad"), metadata=auth
        )
    records = await events_about(
        kafka_bootstrap, "predictions.logged", model, until=lambda found: len(found) >= 4
    )
    by_id = {r.data.request_id: r.data for r in records}
    assert set(by_id) == {"g-0", "g-1", "g-2", "g-bad"}
    assert by_id["g-0"].status == "ok" and by_id["g-0"].arm == "stable"
    assert by_id["g-bad"].status == "error" and "shape" in (by_id["g-bad"].error or "")

    metrics = (await client.get("/metrics")).text
    assert f'modelbus_inference_requests_total{{arm="stable",model="{model}"' in metrics
    assert 'modelbus_grpc_calls_total{code="OK",method="ModelInfer"}' in metrics
    assert 'modelbus_grpc_calls_total{code="INVALID_ARGUMENT",method="ModelInfer"}' in metrics

    index = (await client.post("/v2/repository/index")).json()
    assert {"name": model, "version": "1", "state": "READY", "reason": ""} in index
    ready = (await client.post("/v2/repository/index", json={"ready": True})).json()
    assert all(entry["state"] == "READY" for entry in ready)
    bad = await client.post("/v2/repository/index", json={"ready": "yes"})
    assert bad.status_code == 400 and "ready" in bad.json()["error"]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{deployer.port}") as anonymous:
        assert (await anonymous.post("/v2/repository/index")).status_code == 401
