"""ONNX models the deployer's tests need beyond tests/support/onnx_models.py."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def failing_for_large_first_feature(onnx_bytes: bytes, *, limit: int = 1) -> bytes:
    """The same classifier, except that its session raises at run time for any row whose
    first feature is ``limit`` or more (warm-up's zeros pass).

    The first feature indexes a ``limit``-long table through ``Gather``; an index out of
    range is a run-time error in ONNX Runtime. The gathered zeros are added to the
    probabilities, so the check cannot be pruned and the answers are otherwise unchanged.
    """
    model = onnx.load_from_string(onnx_bytes)
    graph = model.graph
    inputs = graph.input[0].name
    probabilities = graph.output[1].name
    raw = f"{probabilities}__raw"
    for node in graph.node:
        node.output[:] = [raw if o == probabilities else o for o in node.output]
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.zeros(limit, dtype=np.float32), "fail__table"),
            numpy_helper.from_array(np.array([0], dtype=np.int64), "fail__start"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "fail__end"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "fail__axis"),
            numpy_helper.from_array(np.array(0.0, dtype=np.float32), "fail__zero"),
        ]
    )
    graph.node.extend(
        [
            helper.make_node(
                "Slice", [inputs, "fail__start", "fail__end", "fail__axis"], ["fail__first"]
            ),
            helper.make_node("Cast", ["fail__first"], ["fail__index"], to=TensorProto.INT64),
            helper.make_node("Gather", ["fail__table", "fail__index"], ["fail__picked"]),
            helper.make_node("ReduceSum", ["fail__picked"], ["fail__sum"], keepdims=0),
            helper.make_node("Mul", ["fail__sum", "fail__zero"], ["fail__nothing"]),
            helper.make_node("Add", [raw, "fail__nothing"], [probabilities]),
        ]
    )
    return model.SerializeToString()


def string_lookup_onnx() -> bytes:
    """A model that takes strings (BYTES): ``S`` [-1] -> ``Y`` INT64 [-1] (a=1, b=2, else -1)."""
    node = helper.make_node(
        "LabelEncoder",
        ["S"],
        ["Y"],
        domain="ai.onnx.ml",
        keys_strings=["a", "b"],
        values_int64s=[1, 2],
        default_int64=-1,
    )
    graph = helper.make_graph(
        [node],
        "lookup",
        [helper.make_tensor_value_info("S", TensorProto.STRING, [None])],
        [helper.make_tensor_value_info("Y", TensorProto.INT64, [None])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 2)]
    )
    return model.SerializeToString()


def zipmap_classifier_onnx() -> bytes:
    """A classifier exported with ZipMap: its output is a sequence of maps, not a tensor."""
    from skl2onnx import to_onnx
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    X, y = load_breast_cancer(return_X_y=True)
    X = X.astype(np.float32)
    model = LogisticRegression(max_iter=200).fit(X[:100], y[:100])
    return to_onnx(model, X[:1], target_opset=17).SerializeToString()
