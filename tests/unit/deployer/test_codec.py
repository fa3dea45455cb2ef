"""The Open Inference Protocol bodies, JSON and binary, checked against tritonclient's own codec."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.http._infer_result import InferResult
from tritonclient.http._utils import _get_inference_request

from services.deployer.runtime.codec import encode_response, parse_request
from services.deployer.runtime.feeds import to_feeds
from services.deployer.runtime.onnx_model import TensorInfo
from shared.errors import InvalidInput

X_INFO = {"X": TensorInfo("X", "FP32", (-1, 3))}


def triton_body(
    inputs: list[triton.InferInput], outputs: list[triton.InferRequestedOutput] | None = None
) -> tuple[bytes, int | None]:
    return _get_inference_request(
        inputs=inputs,
        request_id="req-1",
        outputs=outputs,
        sequence_id=0,
        sequence_start=False,
        sequence_end=False,
        priority=0,
        timeout=None,
        custom_parameters=None,
    )


@pytest.mark.parametrize("binary", [False, True])
def test_tritonclient_requests_decode_to_the_same_feeds(binary: bool) -> None:
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    tensor = triton.InferInput("X", [2, 3], "FP32")
    tensor.set_data_from_numpy(x, binary_data=binary)
    body, header_length = triton_body([tensor])
    request = parse_request(body, header_length)
    assert request.id == "req-1"
    assert request.binary_output  # no outputs named: tritonclient asks for binary
    feeds, rows = to_feeds(request.inputs, X_INFO)
    np.testing.assert_array_equal(feeds["X"], x)
    assert rows == 2


def test_bytes_inputs_in_json_and_binary() -> None:
    info = {"S": TensorInfo("S", "BYTES", (-1,))}
    words = np.array([b"a", "bé".encode(), b""], dtype=object)
    for binary in (False, True):
        tensor = triton.InferInput("S", [3], "BYTES")
        tensor.set_data_from_numpy(words, binary_data=binary)
        feeds, _ = to_feeds(parse_request(*triton_body([tensor])).inputs, info)
        assert feeds["S"].tolist() == ["a", "bé", ""]


@pytest.mark.parametrize("binary", [False, True])
def test_responses_read_back_with_tritonclient(binary: bool) -> None:
    labels = np.array([0, 1], dtype=np.int64)
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8]], dtype=np.float32)
    words = np.array(["yes", "no"], dtype=object)
    body, header_length = encode_response(
        "m",
        3,
        "req-1",
        [
            ("label", "INT64", labels, binary),
            ("probabilities", "FP32", probabilities, binary),
            ("words", "BYTES", words, binary),
        ],
    )
    assert (header_length is not None) == binary
    result = InferResult.from_response_body(body, header_length=header_length)
    assert result.get_response()["model_version"] == "3"
    assert result.get_response()["id"] == "req-1"
    np.testing.assert_array_equal(result.as_numpy("label"), labels)
    np.testing.assert_array_equal(result.as_numpy("probabilities"), probabilities)
    assert [w.decode() if isinstance(w, bytes) else w for w in result.as_numpy("words")] == [
        "yes",
        "no",
    ]


def test_requested_outputs_carry_their_own_binary_flag() -> None:
    tensor = triton.InferInput("X", [1, 3], "FP32")
    tensor.set_data_from_numpy(np.zeros((1, 3), np.float32), binary_data=False)
    wanted = [triton.InferRequestedOutput("label", binary_data=False)]
    request = parse_request(*triton_body([tensor], wanted))
    assert [(o.name, o.binary) for o in request.outputs or []] == [("label", False)]


def _json(doc: object) -> bytes:
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("body", "header_length", "message"),
    [
        (b"{not json", None, "not valid JSON"),
        (_json([1, 2]), None, "must be a JSON object"),
        (_json({"inputs": []}), None, "non-empty 'inputs'"),
        (_json({"inputs": [{"name": "X", "shape": [1]}]}), None, "'datatype'"),
        (_json({"inputs": [{"name": "X", "datatype": "FP32", "shape": [-1]}]}), None, "shape"),
        (_json({"inputs": [{"name": "X", "datatype": "FP32", "shape": [1]}]}), None, "neither"),
        # Found by the fuzz tier: a tensor's parameters that are not an object were a 500.
        *(
            (
                _json(
                    {
                        "inputs": [
                            {
                                "name": "X",
                                "datatype": "FP32",
                                "shape": [1],
                                "data": [1],
                                "parameters": parameters,
                            }
                        ]
                    }
                ),
                None,
                "'parameters' must be a JSON object",
            )
            for parameters in ("binary", [4], 4, True)
        ),
        (
            _json(
                {
                    "inputs": [
                        {
                            "name": "X",
                            "datatype": "FP32",
                            "shape": [1],
                            "parameters": {"binary_data_size": 4},
                        }
                    ]
                }
            ),
            None,
            "without binary",
        ),
        (
            _json({"inputs": [{"name": "X", "datatype": "FP32", "shape": [1], "data": [1]}]})
            + b"xx",
            999,
            "does not fit",
        ),
        (
            _json(
                {
                    "inputs": [{"name": "X", "datatype": "FP32", "shape": [1], "data": [1]}],
                    "outputs": [{"name": "y", "parameters": {"classification": 2}}],
                }
            ),
            None,
            "classification",
        ),
    ],
)
def test_malformed_requests_say_what_is_wrong(
    body: bytes, header_length: int | None, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_request(body, header_length)


def test_binary_sections_must_match_what_the_header_announces() -> None:
    header = _json(
        {
            "inputs": [
                {
                    "name": "X",
                    "datatype": "FP32",
                    "shape": [1, 3],
                    "parameters": {"binary_data_size": 12},
                }
            ]
        }
    )
    with pytest.raises(InvalidInput, match="shorter than announced"):
        parse_request(header + b"\0" * 8, len(header))
    with pytest.raises(InvalidInput, match="belong to no input"):
        parse_request(header + b"\0" * 16, len(header))
