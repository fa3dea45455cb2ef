"""tritonclient's gRPC client, unmodified, as a user runs it: one session, printed as JSON.

Run as its own process (``python -m tests.support.triton_grpc PORT TOKEN MODEL STRINGS``):
tritonclient's generated messages and the deployer's are both the protocol's package
``inference``, and one Python process's protobuf pool holds each message name once.
Stdin is JSON: ``X``, the first rows of ``gradient_boosting_onnx``'s holdout, and
optionally ``credit``, a mixed-type model's name and its ``columns`` (one named input per
raw column, ``BYTES`` or ``FP32``, as ``tests.support.credit_serving.grpc_columns`` writes).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
import tritonclient.grpc as triton
from tritonclient.utils import InferenceServerException


def session(port: int, token: str, model: str, strings: str, X: np.ndarray) -> dict[str, object]:
    client = triton.InferenceServerClient(f"127.0.0.1:{port}")
    auth = {"authorization": f"Bearer {token}"}
    metadata = client.get_model_metadata(model, headers=auth, as_json=True)
    seen: dict[str, object] = {
        "live": client.is_server_live(),
        "ready": client.is_server_ready(),
        "server": client.get_server_metadata(headers=auth, as_json=True),
        "metadata": metadata,
        "model_ready": client.is_model_ready(model, headers=auth),
        "model_ready_v1": client.is_model_ready(model, "1", headers=auth),
        "unknown_ready": client.is_model_ready(f"{model}-nope", headers=auth),
    }
    tensor = triton.InferInput("X", list(X.shape), "FP32")
    tensor.set_data_from_numpy(X)  # raw_input_contents, as tritonclient sends by default
    outputs = [triton.InferRequestedOutput(n) for n in ("label", "probabilities")]
    result = client.infer(model, [tensor], outputs=outputs, headers=auth, request_id="req-grpc")
    seen["infer"] = {
        "id": result.get_response().id,
        "version": result.get_response().model_version,
        "label": result.as_numpy("label").tolist(),
        "probabilities": result.as_numpy("probabilities").tolist(),
    }
    default = client.infer(model, [tensor], headers=auth, model_version="1")
    seen["default"] = default.as_numpy("probabilities").tolist()
    words = triton.InferInput("S", [3], "BYTES")
    words.set_data_from_numpy(np.array([b"b", b"a", b"zz"], dtype=object))
    seen["strings"] = client.infer(strings, [words], headers=auth).as_numpy("Y").tolist()
    try:
        client.infer(model, [tensor])
        seen["anonymous"] = None
    except InferenceServerException as exc:
        seen["anonymous"] = [exc.status(), exc.message()]
    client.close()
    return seen


def mixed_session(port: int, token: str, model: str, columns: dict[str, Any]) -> dict[str, Any]:
    """Metadata and one infer of a model with one input per column, strings as BYTES."""
    client = triton.InferenceServerClient(f"127.0.0.1:{port}")
    auth = {"authorization": f"Bearer {token}"}
    inputs = []
    for name, column in columns.items():
        text = column["datatype"] == "BYTES"
        values = (
            np.array([v.encode() for v in column["values"]], dtype=object)
            if text
            else np.array(column["values"], dtype=np.float32)
        ).reshape(-1, 1)
        tensor = triton.InferInput(name, list(values.shape), column["datatype"])
        tensor.set_data_from_numpy(values)
        inputs.append(tensor)
    outputs = [triton.InferRequestedOutput(n) for n in ("label", "probabilities")]
    result = client.infer(model, inputs, outputs=outputs, headers=auth)
    seen = {
        "metadata": client.get_model_metadata(model, headers=auth, as_json=True),
        "model_ready": client.is_model_ready(model, headers=auth),
        "label": result.as_numpy("label").tolist(),
        "probabilities": result.as_numpy("probabilities").tolist(),
    }
    client.close()
    return seen


if __name__ == "__main__":
    port, token, model, strings = sys.argv[1:5]
    given = json.load(sys.stdin)
    seen = session(int(port), token, model, strings, np.asarray(given["X"], dtype=np.float32))
    if "credit" in given:
        credit = given["credit"]
        seen["credit"] = mixed_session(int(port), token, credit["model"], credit["columns"])
    print(json.dumps(seen))
