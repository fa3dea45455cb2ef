"""Signatures in KServe V2 terms, read from the ONNX graph."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from onnx import ModelProto, TensorProto, ValueInfoProto, helper

from services.registry.domain.signature import SignatureError, read_signature


def model_with(
    inputs: list[ValueInfoProto],
    outputs: list[ValueInfoProto],
    initializers: Sequence[TensorProto] = (),
) -> ModelProto:
    node = helper.make_node("Identity", ["a"], ["out"])
    graph = helper.make_graph([node], "g", inputs, outputs, initializer=list(initializers))
    return helper.make_model(graph)


def test_datatypes_and_dynamic_dimensions() -> None:
    model = model_with(
        [helper.make_tensor_value_info("a", TensorProto.INT64, ["batch", 3]),
         helper.make_tensor_value_info("b", TensorProto.STRING, [None]),
         helper.make_tensor_value_info("c", TensorProto.DOUBLE, None),
         helper.make_tensor_value_info("w", TensorProto.FLOAT16, [2])],
        [helper.make_tensor_value_info("out", TensorProto.BOOL, [1, 2])],
        [helper.make_tensor("w", TensorProto.FLOAT16, [2], [0, 0])],
    )  # fmt: skip
    signature = read_signature(model)
    # "w" is an initializer listed as an input (older exporters do that): not an input.
    assert [(t.name, t.datatype, t.shape) for t in signature.inputs] == [
        ("a", "INT64", [-1, 3]),
        ("b", "BYTES", [-1]),
        ("c", "FP64", [-1]),
    ]
    assert [(t.name, t.datatype, t.shape) for t in signature.outputs] == [("out", "BOOL", [1, 2])]


def test_element_types_without_a_v2_datatype_are_refused() -> None:
    model = model_with(
        [helper.make_tensor_value_info("a", TensorProto.BFLOAT16, [1])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1])],
    )
    with pytest.raises(SignatureError, match="BFLOAT16"):
        read_signature(model)


def test_non_tensor_outputs_are_refused() -> None:
    sequence = helper.make_tensor_sequence_value_info("out", TensorProto.FLOAT, None)
    model = model_with([helper.make_tensor_value_info("a", TensorProto.FLOAT, [1])], [sequence])
    with pytest.raises(SignatureError, match="'out' is a sequence_type, not a tensor"):
        read_signature(model)
