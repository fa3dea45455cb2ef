"""Request tensors against a model's signature: every mismatch is a 400 naming the input."""

from __future__ import annotations

import numpy as np
import pytest

from services.deployer.runtime.codec import RequestTensor
from services.deployer.runtime.feeds import to_feeds
from services.deployer.runtime.onnx_model import TensorInfo
from shared.errors import InvalidInput

SIGNATURE = {
    "X": TensorInfo("X", "FP32", (-1, 3)),
    "flag": TensorInfo("flag", "BOOL", (-1,)),
}


def tensor(
    name: str = "X",
    datatype: str = "FP32",
    shape: tuple[int, ...] = (2, 3),
    data: object = None,
    raw: bytes | None = None,
) -> RequestTensor:
    if data is None and raw is None:
        data = list(range(6))
    return RequestTensor(name, datatype, shape, data=data, raw=raw)


def flags(rows: int = 2) -> RequestTensor:
    return RequestTensor("flag", "BOOL", (rows,), data=[True] * rows)


def test_flat_and_nested_json_give_the_same_array() -> None:
    flat, rows = to_feeds([tensor(), flags()], SIGNATURE)
    nested, _ = to_feeds([tensor(data=[[0, 1, 2], [3, 4, 5]]), flags()], SIGNATURE)
    np.testing.assert_array_equal(flat["X"], nested["X"])
    assert flat["X"].dtype == np.float32 and flat["flag"].dtype == np.bool_
    assert rows == 2


def test_feeds_follow_the_models_input_order_whatever_the_requests() -> None:
    feeds, _ = to_feeds([flags(), tensor()], SIGNATURE)
    assert list(feeds) == ["X", "flag"]


def test_binary_data_is_little_endian_raw() -> None:
    raw = np.arange(6, dtype="<f4").tobytes()
    feeds, _ = to_feeds([tensor(data=None, raw=raw), flags()], SIGNATURE)
    np.testing.assert_array_equal(feeds["X"], np.arange(6, dtype=np.float32).reshape(2, 3))


def test_inputs_with_different_row_counts_are_not_batched() -> None:
    _, rows = to_feeds([tensor(), flags(rows=5)], SIGNATURE)
    assert rows is None


@pytest.mark.parametrize(
    ("tensors", "message"),
    [
        ([tensor(datatype="FP64"), flags()], "datatype FP64; the model expects FP32"),
        ([tensor(shape=(2, 4), data=list(range(8))), flags()], r"shape \[2, 4\]"),
        ([tensor(shape=(6,)), flags()], r"shape \[6\]"),
        ([tensor(shape=(3, 3)), flags()], "needs 9 elements, got 6"),
        ([tensor(data=["a", "b", "c", "d", "e", "f"]), flags()], "data is not FP32"),
        ([tensor(data=[[1, 2, 3], [4, 5]]), flags()], "data is not FP32"),
        ([tensor(raw=b"\0" * 7, data=None), flags()], "whole number"),
        ([tensor()], "missing input"),
        ([tensor(), flags(), tensor(name="Z")], "unknown input 'Z'"),
        ([tensor(), flags(), flags()], "given twice"),
    ],
)
def test_mismatches_are_invalid_input(tensors: list[RequestTensor], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        to_feeds(tensors, SIGNATURE)


def test_bytes_inputs_must_be_strings() -> None:
    signature = {"S": TensorInfo("S", "BYTES", (-1,))}
    feeds, _ = to_feeds([RequestTensor("S", "BYTES", (2,), data=["a", "b"])], signature)
    assert feeds["S"].dtype == object
    with pytest.raises(InvalidInput, match="must be strings"):
        to_feeds([RequestTensor("S", "BYTES", (2,), data=["a", 3])], signature)
