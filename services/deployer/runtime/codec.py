"""Open Inference Protocol (KServe V2) request and response bodies, JSON and binary.

The binary tensor data extension: with an ``Inference-Header-Content-Length: N`` header the
first N bytes are the JSON header and the rest are raw tensors, in the order of the inputs
that carry ``parameters.binary_data_size``; numbers little-endian, BYTES elements each
prefixed by a 4-byte little-endian length. Responses use the same framing for outputs
asked for as binary (per output ``binary_data``, or ``binary_data_output`` for all).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from shared.errors import InvalidInput

_LENGTH = struct.Struct("<I")


@dataclass(slots=True)
class RequestTensor:
    name: str
    datatype: str
    shape: tuple[int, ...]
    data: Any = None  # the JSON ``data`` ...
    raw: bytes | None = None  # ... or its binary section


@dataclass(slots=True)
class RequestedOutput:
    name: str
    binary: bool


@dataclass(slots=True)
class InferRequest:
    id: str | None
    inputs: list[RequestTensor]
    outputs: list[RequestedOutput] | None  # None: every output
    binary_output: bool


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be a JSON object")
    return value


def parse_request(body: bytes, header_length: int | None = None) -> InferRequest:
    if header_length is not None and not 0 < header_length <= len(body):
        raise InvalidInput(
            f"Inference-Header-Content-Length {header_length} does not fit a body of "
            f"{len(body)} bytes"
        )
    split = header_length if header_length is not None else len(body)
    try:
        doc = _object(orjson.loads(body[:split]), "the request")
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the request is not valid JSON: {exc}") from exc
    params = _object(doc.get("parameters") or {}, "parameters")
    binary = memoryview(body)[split:] if split < len(body) else b""
    offset = 0
    inputs: list[RequestTensor] = []
    items = doc.get("inputs")
    if not isinstance(items, list) or not items:
        raise InvalidInput("the request needs a non-empty 'inputs' list")
    for item in items:
        item = _object(item, "each input")
        name, datatype, shape = item.get("name"), item.get("datatype"), item.get("shape")
        if not isinstance(name, str) or not isinstance(datatype, str):
            raise InvalidInput("each input needs a 'name' and a 'datatype'")
        if type(shape) is not list or not all(type(d) is int and d >= 0 for d in shape):
            raise InvalidInput(f"input {name!r}: 'shape' must be a list of non-negative integers")
        tensor_params = _object(item.get("parameters") or {}, f"input {name!r}: 'parameters'")
        size = tensor_params.get("binary_data_size")
        if size is not None:
            if header_length is None or not isinstance(size, int) or size < 0:
                raise InvalidInput(f"input {name!r}: binary_data_size without binary data")
            if offset + size > len(binary):
                raise InvalidInput(f"input {name!r}: binary data is shorter than announced")
            inputs.append(
                RequestTensor(
                    name, datatype, tuple(shape), raw=bytes(binary[offset : offset + size])
                )
            )
            offset += size
        elif "data" in item:
            inputs.append(RequestTensor(name, datatype, tuple(shape), data=item["data"]))
        else:
            raise InvalidInput(f"input {name!r} has neither 'data' nor binary data")
    if offset != len(binary):
        raise InvalidInput(f"{len(binary) - offset} bytes of binary data belong to no input")
    binary_output = bool(params.get("binary_data_output", False))
    request_id = doc.get("id")
    return InferRequest(
        id=str(request_id) if request_id is not None else None,
        inputs=inputs,
        outputs=_requested_outputs(doc.get("outputs"), binary_output),
        binary_output=binary_output,
    )


def _requested_outputs(items: Any, binary_default: bool) -> list[RequestedOutput] | None:
    if items is None:
        return None
    if not isinstance(items, list):
        raise InvalidInput("'outputs' must be a list")
    outputs = []
    for item in items:
        item = _object(item, "each requested output")
        params = _object(item.get("parameters") or {}, "output parameters")
        if params.get("classification"):
            raise InvalidInput("the classification extension is not supported")
        if not isinstance(item.get("name"), str):
            raise InvalidInput("each requested output needs a 'name'")
        outputs.append(
            RequestedOutput(item["name"], bool(params.get("binary_data", binary_default)))
        )
    return outputs


def serialize_bytes(array: np.ndarray) -> bytes:
    parts = []
    for element in array.flat:
        raw = element if isinstance(element, bytes) else str(element).encode()
        parts.append(_LENGTH.pack(len(raw)))
        parts.append(raw)
    return b"".join(parts)


def deserialize_bytes(raw: bytes) -> list[str]:
    items, offset = [], 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise InvalidInput("BYTES binary data is truncated")
        (length,) = _LENGTH.unpack_from(raw, offset)
        offset += 4
        if offset + length > len(raw):
            raise InvalidInput("BYTES binary data is truncated")
        try:
            items.append(raw[offset : offset + length].decode())
        except UnicodeDecodeError as exc:
            raise InvalidInput("BYTES elements must be UTF-8 text for this model") from exc
        offset += length
    return items


def encode_response(
    model_name: str,
    version: int,
    request_id: str | None,
    outputs: list[tuple[str, str, np.ndarray, bool]],
) -> tuple[bytes, int | None]:
    """``outputs`` are (name, datatype, array, binary); returns the body and, when any output
    is binary, the length of its JSON header."""
    described: list[dict[str, Any]] = []
    sections: list[bytes] = []
    for name, datatype, array, binary in outputs:
        entry: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(array.shape)}
        if binary:
            raw = (
                serialize_bytes(array)
                if datatype == "BYTES"
                else np.ascontiguousarray(array).tobytes()
            )
            entry["parameters"] = {"binary_data_size": len(raw)}
            sections.append(raw)
        elif datatype == "BYTES":
            entry["data"] = [e.decode() if isinstance(e, bytes) else str(e) for e in array.flat]
        else:
            entry["data"] = np.ascontiguousarray(array).reshape(-1)
        described.append(entry)
    header: dict[str, Any] = {"model_name": model_name, "model_version": str(version)}
    if request_id is not None:
        header["id"] = request_id
    header["outputs"] = described
    body = orjson.dumps(header, option=orjson.OPT_SERIALIZE_NUMPY)
    if not sections:
        return body, None
    return body + b"".join(sections), len(body)
