"""Open Inference Protocol gRPC messages to and from what the serving code takes and gives.

A request's tensors become the same :class:`RequestTensor` values the REST codec makes:
``raw_input_contents`` as raw bytes (the binary extension's encoding, BYTES elements each
length-prefixed), typed ``contents`` as element lists; :mod:`services.deployer.runtime.feeds`
then checks them against the model exactly as it checks REST inputs. Answers are always
raw (``raw_output_contents``), as Triton answers and tritonclient reads.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from services.deployer.api.oip import grpc_predict_v2_pb2 as pb
from services.deployer.runtime.codec import (
    InferRequest,
    RequestedOutput,
    RequestTensor,
    serialize_bytes,
)
from services.deployer.runtime.datatypes import NUMPY
from services.deployer.serving.inference import Answer
from shared.errors import InvalidInput

# The typed field of InferTensorContents that carries each datatype (FP16 has none).
CONTENTS_FIELD = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}


def parse_infer_request(message: pb.ModelInferRequest) -> InferRequest:
    if not message.inputs:
        raise InvalidInput("the request needs at least one input")
    raw = message.raw_input_contents
    if raw and len(raw) != len(message.inputs):
        raise InvalidInput(
            f"raw_input_contents has {len(raw)} entries for {len(message.inputs)} inputs: "
            "give one per input, in the order of inputs"
        )
    inputs = []
    for i, tensor in enumerate(message.inputs):
        name, datatype, shape = tensor.name, tensor.datatype, tuple(tensor.shape)
        if not name or not datatype:
            raise InvalidInput("each input needs a 'name' and a 'datatype'")
        if any(d < 0 for d in shape):
            raise InvalidInput(f"input {name!r}: 'shape' must be non-negative integers")
        if raw:
            if tensor.HasField("contents"):
                raise InvalidInput(
                    f"input {name!r} has contents although the request uses raw_input_contents"
                )
            inputs.append(RequestTensor(name, datatype, shape, raw=raw[i]))
        else:
            inputs.append(RequestTensor(name, datatype, shape, data=_contents(tensor)))
    for output in message.outputs:
        if not output.name:
            raise InvalidInput("each requested output needs a 'name'")
        if "classification" in output.parameters:
            raise InvalidInput("the classification extension is not supported")
    return InferRequest(
        id=message.id or None,
        inputs=inputs,
        outputs=[RequestedOutput(o.name, True) for o in message.outputs] or None,
        binary_output=True,
    )


def _contents(tensor: pb.ModelInferRequest.InferInputTensor) -> list[Any]:
    field = CONTENTS_FIELD.get(tensor.datatype)
    if field is None:
        if tensor.datatype == "FP16":
            raise InvalidInput(f"input {tensor.name!r}: FP16 travels only as raw_input_contents")
        return []  # an unknown datatype: the model's signature check names it
    values = getattr(tensor.contents, field)
    if tensor.datatype == "BYTES":
        try:
            return [v.decode() for v in values]
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f"input {tensor.name!r}: BYTES elements must be UTF-8 text for this model"
            ) from exc
    return list(values)


def infer_response(answer: Answer) -> pb.ModelInferResponse:
    response = pb.ModelInferResponse(
        model_name=answer.model_name, model_version=str(answer.version), id=answer.id or ""
    )
    for name, datatype, array, _ in answer.outputs:
        response.outputs.add(name=name, datatype=datatype, shape=array.shape)
        response.raw_output_contents.append(_raw(datatype, array))
    return response


def _raw(datatype: str, array: np.ndarray) -> bytes:
    if datatype == "BYTES":
        return serialize_bytes(array)
    return np.ascontiguousarray(array, dtype=NUMPY[datatype]).tobytes()
