"""The inference endpoint speaks the Open Inference Protocol: tritonclient works unmodified."""

from __future__ import annotations

import asyncio
import gzip
import json
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.http as triton

from services.deployer.api.v2 import PUBLIC_PATHS
from services.deployer.settings import DeployerSettings
from services.trainer.training import mixed
from services.trainer.training.candidates import build_pipeline
from shared.runtime import ServiceProcess
from tests.integration.deployer.harness import Lifecycle, admin_token, serving, v2_body
from tests.support import loan_notes
from tests.support.credit_serving import (
    applications,
    exported,
    fitted_pipeline,
    grpc_columns,
    served_answers,
)
from tests.support.onnx_models import gradient_boosting_onnx, logistic_regression_onnx
from tests.unit.deployer.models import string_lookup_onnx

pytestmark = pytest.mark.integration


def local_run(onnx: bytes, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    session = ort.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)  # type: ignore[no-any-return]


def triton_session(port: int, token: str, model: str, strings: str) -> dict[str, object]:
    """Everything a tritonclient user would do, in JSON and in binary mode (blocking)."""
    client = triton.InferenceServerClient(f"127.0.0.1:{port}")
    auth = {"Authorization": f"Bearer {token}"}
    seen: dict[str, object] = {
        "live": client.is_server_live(),
        "ready": client.is_server_ready(),
        "server": client.get_server_metadata(headers=auth),
        "metadata": client.get_model_metadata(model, headers=auth),
        "model_ready": client.is_model_ready(model, headers=auth),
    }
    X = gradient_boosting_onnx().X_holdout[:7]
    for binary in (False, True):
        tensor = triton.InferInput("X", list(X.shape), "FP32")
        tensor.set_data_from_numpy(X, binary_data=binary)
        outputs = [
            triton.InferRequestedOutput(n, binary_data=binary) for n in ("label", "probabilities")
        ]
        result = client.infer(
            model, [tensor], outputs=outputs, headers=auth, request_id=f"req-{binary}"
        )
        seen[f"infer-{binary}"] = (
            result.get_response()["id"],
            result.as_numpy("label"),
            result.as_numpy("probabilities"),
        )
    tensor = triton.InferInput("X", list(X.shape), "FP32")
    tensor.set_data_from_numpy(X)  # tritonclient's defaults: binary in, binary out
    default = client.infer(model, [tensor], headers=auth, model_version="1")
    seen["default"] = default.as_numpy("probabilities")
    words = np.array([b"b", b"a", b"zz"], dtype=object)
    tensor = triton.InferInput("S", [3], "BYTES")
    tensor.set_data_from_numpy(words)
    seen["strings"] = client.infer(strings, [tensor], headers=auth).as_numpy("Y")
    client.close()
    return seen


async def triton_grpc_session(
    port: int, token: str, model: str, strings: str, X: np.ndarray, credit: dict[str, Any]
) -> dict[str, Any]:
    """tests/support/triton_grpc.py in its own process (see there why)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.triton_grpc",
        str(port),
        token,
        model,
        strings,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(
        process.communicate(json.dumps({"X": X.tolist(), "credit": credit}).encode()), 120
    )
    assert process.returncode == 0, err.decode()[-3000:]
    seen: dict[str, Any] = json.loads(out)
    return seen


async def test_tritonclient_over_rest_and_grpc(
    deployer: ServiceProcess,
    client: httpx.AsyncClient,
    lifecycle: Lifecycle,
    config: DeployerSettings,
    tmp_path: Path,
) -> None:
    built = gradient_boosting_onnx()
    pipeline, layout = await asyncio.to_thread(fitted_pipeline, tmp_path)
    model, strings, credit = lifecycle.name("gb"), lifecycle.name("words"), lifecycle.name("credit")
    await lifecycle.approve(model, 1, built.onnx)
    await lifecycle.approve(strings, 1, string_lookup_onnx())
    await lifecycle.approve(credit, 1, exported(pipeline, layout))
    for name in (model, strings, credit):
        await serving(client, name, 1)
    token = await admin_token(deployer)
    assert config.grpc_port is not None
    frame = applications(60, seed=321)  # with missing values; the last country never seen

    seen = await asyncio.to_thread(triton_session, deployer.port, token, model, strings)
    credit_rest = await asyncio.to_thread(
        served_answers, deployer.port, token, credit, frame, layout
    )
    over_grpc = await triton_grpc_session(
        config.grpc_port,
        token,
        model,
        strings,
        built.X_holdout[:7],
        {"model": credit, "columns": grpc_columns(frame, layout)},
    )

    assert seen["live"] and seen["ready"] and seen["model_ready"]
    assert seen["server"]["extensions"] == ["binary_tensor_data"]  # type: ignore[index]
    metadata = seen["metadata"]
    assert metadata["versions"] == ["1"]  # type: ignore[index]
    assert metadata["inputs"] == [{"name": "X", "datatype": "FP32", "shape": [-1, 30]}]  # type: ignore[index]
    labels, probabilities = local_run(built.onnx, {"X": built.X_holdout[:7]})
    for binary in (False, True):
        request_id, got_labels, got_probabilities = seen[f"infer-{binary}"]  # type: ignore[misc]
        assert request_id == f"req-{binary}"
        np.testing.assert_array_equal(got_labels, labels)
        np.testing.assert_allclose(got_probabilities, probabilities, atol=1e-6)
    np.testing.assert_allclose(seen["default"], probabilities, atol=1e-6)  # type: ignore[arg-type]
    assert seen["strings"].tolist() == [2, 1, -1]  # type: ignore[attr-defined]

    # The same session over gRPC: the same answers, from the same serving code.
    g = over_grpc
    assert g["live"] and g["ready"] and g["model_ready"] and g["model_ready_v1"]
    assert g["unknown_ready"] is False
    assert g["server"]["name"] == "modelbus-deployer"
    assert g["metadata"]["name"] == model and g["metadata"]["versions"] == ["1"]
    assert g["metadata"]["platform"] == "onnxruntime_onnx"
    assert g["metadata"]["inputs"] == [{"name": "X", "datatype": "FP32", "shape": ["-1", "30"]}]
    assert {o["name"] for o in g["metadata"]["outputs"]} == {"label", "probabilities"}
    assert (g["infer"]["id"], g["infer"]["version"]) == ("req-grpc", "1")
    np.testing.assert_array_equal(g["infer"]["label"], labels)
    np.testing.assert_allclose(g["infer"]["probabilities"], probabilities, atol=1e-6)
    np.testing.assert_allclose(g["default"], probabilities, atol=1e-6)
    assert g["strings"] == [2, 1, -1]
    assert g["anonymous"][0] == "StatusCode.UNAUTHENTICATED"
    assert "bearer" in g["anonymous"][1]

    # The credit model, strings as BYTES and numbers as FP32, one input per raw column:
    # both clients get what scikit-learn's pipeline answers on the same rows.
    expected = mixed.as_float32(frame, layout)
    labels, probabilities = pipeline.predict(expected), pipeline.predict_proba(expected)
    assert frame["country"].iloc[-1] == "Atlantis"  # never seen in training: answered anyway
    assert frame["income"].isna().any() and (frame["employment"] == mixed.MISSING_CATEGORY).any()
    kinds = {n: "BYTES" if n in layout.categorical else "FP32" for n in layout.features}
    rest_inputs = credit_rest["metadata"]["inputs"]
    assert {i["name"]: i["datatype"] for i in rest_inputs} == kinds
    grpc_inputs = g["credit"]["metadata"]["inputs"]
    assert {i["name"]: i["datatype"] for i in grpc_inputs} == kinds
    assert g["credit"]["model_ready"]
    for answer in (credit_rest, g["credit"]):
        assert np.asarray(answer["label"]).ravel().tolist() == list(labels)
        np.testing.assert_allclose(answer["probabilities"], probabilities, atol=1e-4)


async def test_errors_follow_the_protocol(
    deployer: ServiceProcess, client: httpx.AsyncClient, lifecycle: Lifecycle
) -> None:
    built = logistic_regression_onnx()
    model = lifecycle.name("lr")
    await lifecycle.approve(model, 1, built.onnx)
    await serving(client, model, 1)
    X = built.X_holdout

    bad_shape = await client.post(f"/v2/models/{model}/infer", json=v2_body(X[:1, :5]))
    assert bad_shape.status_code == 400 and "shape" in bad_shape.json()["error"]
    wrong_type = v2_body(X[:1])
    wrong_type["inputs"][0]["datatype"] = "FP64"
    response = await client.post(f"/v2/models/{model}/infer", json=wrong_type)
    assert response.status_code == 400 and "FP64" in response.json()["error"]
    assert (
        await client.post(f"/v2/models/nope-{lifecycle.unique}/infer", json=v2_body(X[:1]))
    ).status_code == 404
    assert (
        await client.post(f"/v2/models/{model}/versions/9/infer", json=v2_body(X[:1]))
    ).status_code == 404
    assert (await client.get(f"/v2/models/{model}/versions/9")).status_code == 404
    huge = await client.post(f"/v2/models/{model}/infer", content=b"x" * (9 * 1024 * 1024))
    assert huge.status_code == 413 and "exceeds" in huge.json()["error"]
    zipped = await client.post(
        f"/v2/models/{model}/infer",
        headers={"Content-Encoding": "gzip"},
        content=gzip.compress(httpx.Request("POST", "/", json=v2_body(X[:2], id="z")).content),
    )
    assert zipped.status_code == 200 and zipped.json()["id"] == "z"

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{deployer.port}") as anonymous:
        for path in PUBLIC_PATHS:
            assert (await anonymous.get(path)).status_code == 200
        denied = await anonymous.post(f"/v2/models/{model}/infer", json=v2_body(X[:1]))
        assert denied.status_code == 401 and "bearer" in denied.json()["error"]
        assert (await anonymous.get("/v2")).status_code == 401
        assert (await anonymous.get(f"/v2/models/{model}")).status_code == 401


async def test_a_model_of_free_text_answers_tritonclient_as_scikit_learn_does(
    deployer: ServiceProcess, client: httpx.AsyncClient, lifecycle: Lifecycle
) -> None:
    rows = loan_notes.applications(600, seed=8)
    layout = loan_notes.LAYOUT
    pipeline = build_pipeline(
        "logistic_regression", "classification", seed=0, params={}, impute=True, layout=layout
    ).fit(loan_notes.frame(rows), [r[loan_notes.TARGET] for r in rows])
    model = lifecycle.name("notes")
    await lifecycle.approve(model, 1, exported(pipeline, layout))
    await serving(client, model, 1)
    token = await admin_token(deployer)
    asked = loan_notes.applications(40, seed=9)
    asked[1]["note"] = "Words it never saw: ünïcode, ✓ and OVERDUE"
    frame = loan_notes.frame(asked)

    answer = await asyncio.to_thread(served_answers, deployer.port, token, model, frame, layout)

    inputs = {i["name"]: i["datatype"] for i in answer["metadata"]["inputs"]}
    assert inputs == {"note": "BYTES", "channel": "BYTES", "income": "FP32"}
    expected = mixed.as_float32(frame, layout)
    assert np.asarray(answer["label"]).ravel().tolist() == list(pipeline.predict(expected))
    np.testing.assert_allclose(answer["probabilities"], pipeline.predict_proba(expected), atol=1e-4)
