"""Turning request tensors into session feeds, checked against the model's signature.

Every mismatch (unknown or missing input, datatype, rank, fixed dimension, element count,
unparsable data) is an :class:`InvalidInput` naming the input: the caller gets a 400.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from services.deployer.runtime.codec import RequestTensor, deserialize_bytes
from services.deployer.runtime.onnx_model import TensorInfo
from shared.errors import InvalidInput


def to_feeds(
    tensors: list[RequestTensor], inputs: Mapping[str, TensorInfo]
) -> tuple[dict[str, np.ndarray], int | None]:
    """The feeds, in the model's input order whatever the request's (the prediction log
    keeps them so, and the monitor maps them to features by position), and the number of
    rows they share along the first axis (None if they disagree, so the request runs on
    its own rather than in a batch)."""
    feeds: dict[str, np.ndarray] = {}
    for tensor in tensors:
        info = inputs.get(tensor.name)
        if info is None:
            raise InvalidInput(
                f"unknown input {tensor.name!r}; the model takes {', '.join(sorted(inputs))}"
            )
        if tensor.name in feeds:
            raise InvalidInput(f"input {tensor.name!r} is given twice")
        feeds[tensor.name] = _array(tensor, info)
    missing = [name for name in inputs if name not in feeds]
    if missing:
        raise InvalidInput(f"missing input(s) {', '.join(missing)}")
    if len(feeds) > 1 and list(feeds) != list(inputs):
        feeds = {name: feeds[name] for name in inputs}
    rows = {a.shape[0] if a.ndim else None for a in feeds.values()}
    return feeds, rows.pop() if len(rows) == 1 else None


def _array(tensor: RequestTensor, info: TensorInfo) -> np.ndarray:
    name = tensor.name
    if tensor.datatype != info.datatype:
        raise InvalidInput(
            f"input {name!r} has datatype {tensor.datatype}; the model expects {info.datatype}"
        )
    shape = tensor.shape
    if not info.accepts(shape):
        raise InvalidInput(
            f"input {name!r} has shape {list(shape)}; the model expects "
            f"{list(info.shape)} (-1: any size)"
        )
    count = math.prod(shape)
    try:
        array = (
            _from_raw(tensor.raw, info) if tensor.raw is not None else _from_json(tensor.data, info)
        )
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidInput(f"input {name!r}: data is not {info.datatype}: {exc}") from exc
    if array.size != count:
        raise InvalidInput(
            f"input {name!r}: shape {list(shape)} needs {count} elements, got {array.size}"
        )
    return array.reshape(shape)


def _from_json(data: object, info: TensorInfo) -> np.ndarray:
    if not isinstance(data, list):
        data = [data]
    if info.datatype == "BYTES":
        array = np.array(data, dtype=object)
        if not all(isinstance(e, str) for e in array.flat):
            raise ValueError("BYTES elements must be strings")
        return array
    return np.asarray(data, dtype=info.dtype)


def _from_raw(raw: bytes, info: TensorInfo) -> np.ndarray:
    if info.datatype == "BYTES":
        return np.array(deserialize_bytes(raw), dtype=object)
    if len(raw) % info.dtype.itemsize:
        raise ValueError(f"{len(raw)} bytes is not a whole number of {info.datatype} elements")
    return np.frombuffer(raw, dtype=info.dtype)
