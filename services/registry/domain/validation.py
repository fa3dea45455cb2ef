"""Whether ONNX bytes may become a model version: every acceptance check, in a safe order.

This is CPU and memory work (parsing, the full checker, building an ONNX Runtime
session) on bytes anybody may have written, so it runs only in the sandbox process
(:mod:`services.registry.sandbox`), under a memory and a time limit; the registry's own
process never builds a session. The trial session is built with ONNX Runtime's graph
optimizations capped at the basic level and constant folding off: folding evaluates the
graph's constant subgraphs at load time, and a small file can ask it for gigabytes.

Order matters. The structural checks (operator domains, external data) run first and stop
everything when they fail, because ``onnx.checker`` and ONNX Runtime both *open* an
external-data location, relative to the process' working directory, when given bytes: a
model must never make the registry read a file of its choosing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import onnx
import onnxruntime
from google.protobuf.message import DecodeError
from onnx import AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto

from services.registry.domain.refusal import Check, Refusal
from services.registry.domain.signature import SignatureError, read_signature
from shared.events.common import ModelSignature

STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})


# ONNX Runtime optimizers the trial session never runs (see the module docstring).
DISABLED_OPTIMIZERS = ("ConstantFolding",)


@dataclass(frozen=True)
class Inspected:
    signature: ModelSignature
    session: onnxruntime.InferenceSession


def inspect_model(data: bytes, *, max_bytes: int, threads: int = 1) -> ModelSignature:
    """The model's signature if every check passes, else :class:`Refusal` naming the failures."""
    return load_model(data, max_bytes=max_bytes, threads=threads).signature


def load_model(data: bytes, *, max_bytes: int, threads: int = 1) -> Inspected:
    """:func:`inspect_model`, keeping the trial session to measure the model with."""
    if len(data) > max_bytes:
        raise Refusal.of(Check.SIZE, f"artifact is over the limit of {max_bytes} bytes")
    model = _parse(data)
    failures: dict[Check, str] = {}
    foreign = sorted(_domains(model) - STANDARD_DOMAINS)
    if foreign:
        failures[Check.DOMAINS] = (
            f"operator domains {', '.join(map(repr, foreign))} are not allowed; "
            "only ai.onnx and ai.onnx.ml"
        )
    external = sorted({t.name for t in _tensors(model) if _is_external(t)})
    if external:
        failures[Check.EXTERNAL_DATA] = (
            f"tensors {', '.join(map(repr, external))} keep their data outside the artifact; "
            "only self-contained ONNX files are accepted"
        )
    if failures:
        raise Refusal(failures)
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:  # ValidationError, InferenceError, or worse: all mean "refuse"
        failures[Check.CHECKER] = _first_line(exc)
    try:
        signature = read_signature(model)
    except SignatureError as exc:
        failures[Check.SIGNATURE] = str(exc)
    if failures:
        raise Refusal(failures)
    return Inspected(signature, _load_in_onnxruntime(data, threads))


def _parse(data: bytes) -> ModelProto:
    try:
        model = onnx.load_model_from_string(data)
    except DecodeError as exc:
        raise Refusal.of(Check.PARSE, f"not an ONNX model: {exc}") from exc
    if not model.graph.node:
        # Protobuf reads many byte strings (the empty one included) as an empty message.
        raise Refusal.of(Check.PARSE, "not an ONNX model: no graph with any node")
    return model


def _load_in_onnxruntime(data: bytes, threads: int) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
    try:
        return onnxruntime.InferenceSession(
            data,
            options,
            providers=["CPUExecutionProvider"],
            disabled_optimizers=list(DISABLED_OPTIMIZERS),
        )
    except MemoryError:
        raise
    except Exception as exc:  # ORT raises its own untyped Fail/InvalidGraph/... exceptions
        if out_of_memory(exc):
            raise MemoryError from exc
        raise Refusal.of(Check.SESSION, _first_line(exc)) from exc


def out_of_memory(exc: BaseException) -> bool:
    """Whether ONNX Runtime failed for want of memory (it reports a C++ ``bad_alloc`` or
    its allocator's failure as an ordinary error)."""
    text = str(exc).lower()
    return any(sign in text for sign in ("bad_alloc", "bad allocation", "failed to allocate"))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:1000]


def _domains(model: ModelProto) -> set[str]:
    used = {opset.domain for opset in model.opset_import}
    used.update(node.domain for node in _nodes(model))
    for function in model.functions:
        used.add(function.domain)
        used.update(opset.domain for opset in function.opset_import)
    return used


def _nodes(model: ModelProto) -> Iterator[NodeProto]:
    """Every node: of the main graph, of functions, and of subgraphs (If, Loop, Scan) in them."""
    pending: list[NodeProto] = [*model.graph.node]
    for function in model.functions:
        pending.extend(function.node)
    while pending:
        node = pending.pop()
        yield node
        for graph in _subgraphs(node):
            pending.extend(graph.node)


def _subgraphs(node: NodeProto) -> Iterator[GraphProto]:
    for attribute in node.attribute:
        if attribute.type == AttributeProto.GRAPH:
            yield attribute.g
        elif attribute.type == AttributeProto.GRAPHS:
            yield from attribute.graphs


def _tensors(model: ModelProto) -> Iterator[TensorProto]:
    """Every tensor that can carry data: initializers and tensor-valued attributes, anywhere."""
    graphs = [model.graph]
    graphs.extend(g for node in _nodes(model) for g in _subgraphs(node))
    for graph in graphs:
        yield from graph.initializer
        for sparse in graph.sparse_initializer:
            yield from (sparse.values, sparse.indices)
    for node in _nodes(model):
        for attribute in node.attribute:
            yield attribute.t
            yield from attribute.tensors
            yield from (attribute.sparse_tensor.values, attribute.sparse_tensor.indices)
            for sparse in attribute.sparse_tensors:
                yield from (sparse.values, sparse.indices)


def _is_external(tensor: TensorProto) -> bool:
    return tensor.data_location == TensorProto.EXTERNAL or len(tensor.external_data) > 0
