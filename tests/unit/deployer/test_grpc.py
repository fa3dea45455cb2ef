"""The gRPC transport's own parts: its codec, and a port that is taken."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from services.deployer.api.grpc_codec import infer_response, parse_infer_request
from services.deployer.api.grpc_server import GrpcPortUnavailable, GrpcServer
from services.deployer.api.grpc_service import InferenceService
from services.deployer.api.oip import grpc_predict_v2_pb2 as pb
from services.deployer.runtime.codec import deserialize_bytes
from services.deployer.serving.inference import Answer
from services.deployer.serving.table import ServingTable
from services.deployer.settings import DeployerSettings
from shared.errors import InvalidInput


def test_raw_and_typed_contents_become_the_same_request_tensors() -> None:
    raw = pb.ModelInferRequest(model_name="m", id="r1")
    raw.inputs.add(name="X", datatype="FP32", shape=[1, 2])
    raw.inputs.add(name="S", datatype="BYTES", shape=[1])
    raw.raw_input_contents.extend([np.array([1.5, 2.0], "<f4").tobytes(), b"\x02\x00\x00\x00hi"])
    parsed = parse_infer_request(raw)
    assert parsed.id == "r1" and parsed.outputs is None
    assert [t.raw for t in parsed.inputs] == list(raw.raw_input_contents)

    typed = pb.ModelInferRequest(model_name="m")
    typed.inputs.add(name="X", datatype="FP32", shape=[1, 2]).contents.fp32_contents.extend(
        [1.5, 2.0]
    )
    typed.inputs.add(name="S", datatype="BYTES", shape=[1]).contents.bytes_contents.append(b"hi")
    typed.outputs.add(name="label")
    parsed = parse_infer_request(typed)
    assert parsed.id is None and [o.name for o in parsed.outputs or []] == ["label"]
    assert [t.data for t in parsed.inputs] == [[1.5, 2.0], ["hi"]]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.ClearField("inputs"), "at least one input"),
        (lambda r: r.raw_input_contents.append(b""), "raw_input_contents has 2 entries"),
        (lambda r: r.inputs[0].contents.fp32_contents.append(1.0), "has contents although"),
        (
            lambda r: (r.inputs.add(name="", datatype="FP32"), r.raw_input_contents.append(b"")),
            "needs a 'name'",
        ),
        (lambda r: r.outputs.add(name=""), "needs a 'name'"),
    ],
)
def test_malformed_requests_are_invalid_input(change: object, message: str) -> None:
    request = pb.ModelInferRequest(model_name="m")
    request.inputs.add(name="X", datatype="FP32", shape=[1])
    request.raw_input_contents.append(b"\x00\x00\x80?")
    change(request)  # type: ignore[operator]
    with pytest.raises(InvalidInput, match=message):
        parse_infer_request(request)


def test_fp16_travels_only_raw() -> None:
    request = pb.ModelInferRequest(model_name="m")
    request.inputs.add(name="X", datatype="FP16", shape=[1])
    with pytest.raises(InvalidInput, match="FP16 travels only as raw"):
        parse_infer_request(request)


def test_answers_are_raw_output_contents() -> None:
    labels = np.array([1, 0], dtype=np.int64)
    words = np.array(["a", "bc"], dtype=object)
    response = infer_response(
        Answer("m", 3, "r1", [("label", "INT64", labels, False), ("w", "BYTES", words, True)])
    )
    assert (response.model_name, response.model_version, response.id) == ("m", "3", "r1")
    assert [(o.name, o.datatype, list(o.shape)) for o in response.outputs] == [
        ("label", "INT64", [2]),
        ("w", "BYTES", [2]),
    ]
    assert np.frombuffer(response.raw_output_contents[0], "<i8").tolist() == [1, 0]
    assert deserialize_bytes(response.raw_output_contents[1]) == ["a", "bc"]


async def test_a_taken_port_stops_the_start_saying_which_and_what_to_do() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        service = InferenceService(ServingTable(), None, None)  # type: ignore[arg-type]
        server = GrpcServer(service, DeployerSettings(grpc_port=port), "127.0.0.1")
        with pytest.raises(GrpcPortUnavailable, match=f"127.0.0.1:{port}.*GRPC_PORT"):
            server.bind()
