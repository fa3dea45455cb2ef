"""A scorecard compiled to an ONNX graph of standard operators, and its plain evaluation.

The graph has one input per field, named like it, of shape ``[-1, 1]``: FP32 for a number
field, STRING (BYTES) for a string field. Each rule is a boolean column (``Less``,
``LessOrEqual``, ``Greater``, ``GreaterOrEqual``, ``Equal`` on FP32 constants; string
equality and set membership through ``ai.onnx.ml`` ``LabelEncoder`` mapping the rule's
values to 1 and everything else to 0; ``Not`` for the negations), cast to INT64 and
multiplied by its points; the sum plus ``base_points`` is the output ``score`` (INT64,
``[-1, 1]``), and ``Where`` over the bands from the lowest to the highest turns it into
the output ``label`` (STRING, ``[-1, 1]``), the decision.

:func:`evaluate` is the same scorecard read as plain Python (numbers rounded to FP32, as
the graph sees them): the platform compares the two on the test cases, and tests compare
them on generated rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from services.registry.rules.scorecard import Rule, Scorecard

OPSET = 19
ML_OPSET = 3
LABEL = "label"
SCORE = "score"

_COMPARE = {"<": "Less", "<=": "LessOrEqual", ">": "Greater", ">=": "GreaterOrEqual", "==": "Equal"}


class _Graph:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.constants: list[onnx.TensorProto] = []
        self.count = 0

    def name(self, hint: str) -> str:
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, hint: str, value: np.ndarray) -> str:
        name = self.name(hint)
        self.constants.append(numpy_helper.from_array(value, name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str, **attrs: Any) -> str:
        out = self.name(hint)
        domain = "ai.onnx.ml" if op_type == "LabelEncoder" else ""
        self.nodes.append(helper.make_node(op_type, inputs, [out], domain=domain, **attrs))
        return out


def _condition(graph: _Graph, rule: Rule, kind: str) -> str:
    """A BOOL ``[-1, 1]`` column: where the rule holds."""
    if kind == "number":
        assert isinstance(rule.value, float | int)
        constant = graph.const(f"{rule.name}_value", np.array(rule.value, dtype=np.float32))
        if rule.op == "!=":
            equal = graph.op("Equal", [rule.field, constant], f"{rule.name}_eq")
            return graph.op("Not", [equal], rule.name)
        return graph.op(_COMPARE[rule.op], [rule.field, constant], rule.name)
    members = rule.values if rule.values is not None else [str(rule.value)]
    hit = graph.op(
        "LabelEncoder",
        [rule.field],
        f"{rule.name}_member",
        keys_strings=list(dict.fromkeys(members)),
        values_int64s=[1] * len(dict.fromkeys(members)),
        default_int64=0,
    )
    one = graph.const(f"{rule.name}_one", np.array(1, dtype=np.int64))
    holds = graph.op("Equal", [hit, one], f"{rule.name}_in")
    return graph.op("Not", [holds], rule.name) if rule.op in ("!=", "not_in") else holds


def compile_scorecard(card: Scorecard, model_name: str = "scorecard") -> bytes:
    graph = _Graph()
    first = next(iter(card.inputs))
    # A zero per row, so that the score has the batch's shape even before any rule.
    zero_rows = graph.op("Cast", [graph.op("Shape", [first], "rows")], "shape_i64", to=7)
    base = graph.op(
        "ConstantOfShape",
        [zero_rows],
        "base",
        value=numpy_helper.from_array(np.array([card.base_points], dtype=np.int64)),
    )
    score = base
    for rule in card.rules:
        holds = graph.op("Cast", [_condition(graph, rule, card.inputs[rule.field])], "hit", to=7)
        points = graph.const(f"{rule.name}_points", np.array(rule.points, dtype=np.int64))
        score = graph.op("Add", [score, graph.op("Mul", [holds, points], "points")], "sum")
    graph.nodes.append(helper.make_node("Identity", [score], [SCORE]))
    decision = graph.op(
        "ConstantOfShape",
        [zero_rows],
        "default",
        value=numpy_helper.from_array(np.array([0], dtype=np.int64)),
    )
    labels = graph.const("labels", np.array([card.default, *(b.decision for b in card.bands)],
                                            dtype=object))  # fmt: skip
    for i, band in reversed(list(enumerate(card.bands, start=1))):
        threshold = graph.const("min_score", np.array(band.min_score, dtype=np.int64))
        reached = graph.op("GreaterOrEqual", [score, threshold], "reached")
        index = graph.const("band", np.array(i, dtype=np.int64))
        decision = graph.op("Where", [reached, index, decision], "decision")
    graph.nodes.append(helper.make_node("Gather", [labels, decision], [LABEL], axis=0))
    inputs = [
        helper.make_tensor_value_info(
            name, TensorProto.FLOAT if kind == "number" else TensorProto.STRING, [None, 1]
        )
        for name, kind in card.inputs.items()
    ]
    outputs = [
        helper.make_tensor_value_info(LABEL, TensorProto.STRING, [None, 1]),
        helper.make_tensor_value_info(SCORE, TensorProto.INT64, [None, 1]),
    ]
    model = helper.make_model(
        helper.make_graph(graph.nodes, model_name, inputs, outputs, graph.constants),
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", ML_OPSET)],
        producer_name="modelbus-rules",
    )
    model.ir_version = 9
    onnx.checker.check_model(model, full_check=True)
    return bytes(model.SerializeToString())


def _holds(rule: Rule, value: Any) -> bool:
    if isinstance(value, str):
        members = set(rule.values) if rule.values is not None else {str(rule.value)}
        inside = value in members
        return not inside if rule.op in ("!=", "not_in") else inside
    x, v = np.float32(value), np.float32(rule.value)  # as the graph compares
    return bool({"<": x < v, "<=": x <= v, ">": x > v, ">=": x >= v, "==": x == v,
                 "!=": x != v}[rule.op])  # fmt: skip


def evaluate(card: Scorecard, row: Mapping[str, Any]) -> tuple[str, int]:
    """The decision and score of one row, by reading the rules in plain Python."""
    score = card.base_points + sum(r.points for r in card.rules if _holds(r, row[r.field]))
    decision = next((b.decision for b in card.bands if score >= b.min_score), card.default)
    return decision, score
