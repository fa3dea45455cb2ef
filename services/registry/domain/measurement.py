"""Measuring a model on evaluation data: its metrics, fairness gaps and parity, computed
by the platform (the same definitions as the trainer's, :mod:`shared.evaluation`).

How columns reach the model's inputs:

* one input of shape ``[batch, width]`` not named like a column: every column but the
  target, in file order (also without the sensitive attribute when the model is one
  column narrower: an attribute kept for fairness need not be a feature);
* otherwise each input is the column of its name, shaped ``[batch]`` or ``[batch, 1]``;
  a BYTES (ONNX string) input takes the column's text as it is, a missing value as the
  empty string.

A sensitive attribute whose values are not all numbers is categorical: its groups are its
categories.

What the outputs mean: for regression the first floating-point output, one value a row.
For classification the label is the output named ``label`` or else the first integer,
string or boolean one; class probabilities are the output named ``probabilities`` or else
the first floating-point one with a column per class (classes sorted, as scikit-learn and
skl2onnx order them); a single probability column is P(second class). Without a label
output the label is the most probable class.

Runs in the sandbox process (:mod:`services.registry.sandbox`), never in the registry's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from services.registry.domain.eval_table import EvalTable, refusal
from services.registry.domain.validation import out_of_memory
from shared.evaluation.fairness import fairness_gaps
from shared.evaluation.metrics import Task, classification_metrics, regression_metrics
from shared.evaluation.parity import TOLERANCE, relative_difference
from shared.events.common import ModelSignature, TensorSpec
from shared.events.registry import MeasuredEvidence

BATCH = 4096
NUMPY_TYPES: dict[str, type[np.generic]] = {
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "BOOL": np.bool_,
}
FLOATS = frozenset({"FP16", "FP32", "FP64"})


class Session(Protocol):
    def run(self, output_names: list[str] | None, feed: dict[str, Any]) -> list[Any]: ...


@dataclass(frozen=True)
class Measuring:
    task: Task
    target: str
    sensitive_attribute: str | None = None


def measure(
    session: Session,
    signature: ModelSignature,
    table: EvalTable,
    how: Measuring,
    *,
    reference: EvalTable | None = None,
    dataset_sha256: str | None = None,
) -> MeasuredEvidence:
    outputs = run(session, signature, inputs(signature, table, how), table.rows)
    if how.task == "regression":
        y_true = table.numbers(how.target)
        if np.isnan(y_true).any():
            raise refusal(f"the target {how.target!r} has missing values")
        values = _regression_values(signature, outputs, table.rows)
        metrics = regression_metrics(y_true, values)
        fairness: dict[str, float] = {}
        parity = _value_parity(values, reference, table.rows) if reference else None
    else:
        y_true = table.labels(how.target)
        labels, proba, classes = _classification(signature, outputs, y_true)
        metrics = classification_metrics(y_true, labels, proba, classes)
        fairness = {}
        if how.sensitive_attribute:
            attribute = table.attribute(how.sensitive_attribute)
            fairness = fairness_gaps(attribute, y_true, labels, classes)
        parity = _label_parity(labels, reference, table.rows) if reference else None
    return MeasuredEvidence(
        by="registry",
        metrics=metrics,
        fairness=fairness,
        parity_passed=None if parity is None else parity[0],
        parity={} if parity is None else parity[1],
        rows=table.rows,
        dataset_sha256=dataset_sha256,
    )


def inputs(signature: ModelSignature, table: EvalTable, how: Measuring) -> dict[str, np.ndarray]:
    """The whole table as the model's input tensors (batch dimension first)."""
    specs = signature.inputs
    if len(specs) == 1 and len(specs[0].shape) == 2 and specs[0].name not in table.columns:
        spec = specs[0]
        features = [name for name in table.names if name != how.target]
        width = spec.shape[1]
        if width not in (-1, len(features)) and how.sensitive_attribute in features:
            features.remove(how.sensitive_attribute)
        if width not in (-1, len(features)):
            raise refusal(
                f"the model's input {spec.name!r} takes {width} columns; the evaluation "
                f"data has {len(features)} besides the target"
            )
        dtype = _dtype(spec)
        return {spec.name: np.column_stack([table.numbers(f, dtype) for f in features])}
    fed = {}
    for spec in specs:
        if spec.name == how.target:
            raise refusal(f"the model's input {spec.name!r} is the target column")
        if len(spec.shape) not in (1, 2) or (len(spec.shape) == 2 and spec.shape[1] not in (1, -1)):
            raise refusal(
                f"the model's input {spec.name!r} has shape {spec.shape}; a column can feed "
                "an input of shape [batch] or [batch, 1]"
            )
        column = (
            table.text(spec.name)
            if spec.datatype == "BYTES"
            else table.numbers(spec.name, _dtype(spec))
        )
        fed[spec.name] = column if len(spec.shape) == 1 else column.reshape(-1, 1)
    return fed


def run(
    session: Session, signature: ModelSignature, feed: dict[str, np.ndarray], rows: int
) -> dict[str, np.ndarray]:
    """Every output for every row, in batches the model's batch dimension allows."""
    batch_dims = {spec.shape[0] if spec.shape else -1 for spec in signature.inputs}
    if batch_dims - {-1, 1}:
        raise refusal(f"the model's inputs have a fixed batch size {sorted(batch_dims)}")
    step = BATCH if batch_dims == {-1} else 1
    names = [spec.name for spec in signature.outputs]
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for start in range(0, rows, step):
        chunk = {name: tensor[start : start + step] for name, tensor in feed.items()}
        for name, value in zip(names, _run_once(session, names, chunk), strict=True):
            parts[name].append(np.asarray(value))
    joined = {}
    for name, pieces in parts.items():
        array = np.concatenate(pieces) if pieces[0].ndim else np.asarray(pieces)
        joined[name] = array
    return joined


def _run_once(session: Session, names: list[str], feed: dict[str, np.ndarray]) -> list[Any]:
    try:
        return session.run(names, feed)
    except MemoryError:
        raise
    except Exception as exc:  # ORT's untyped errors; they name tensors and shapes, not data
        if out_of_memory(exc):
            raise MemoryError from exc
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise refusal(f"the model failed on the evaluation data: {first}") from exc


def _dtype(spec: TensorSpec) -> type[np.generic]:
    dtype = NUMPY_TYPES.get(spec.datatype)
    if dtype is None:
        raise refusal(
            f"the model's input {spec.name!r} is {spec.datatype}; evaluation data feeds "
            "numeric, boolean and BYTES inputs only"
        )
    return dtype


def _per_row(output: np.ndarray, rows: int, name: str) -> np.ndarray:
    if output.shape[:1] != (rows,):
        raise refusal(f"the model's output {name!r} does not have one entry per row")
    return output


def _regression_values(
    signature: ModelSignature, outputs: dict[str, np.ndarray], rows: int
) -> np.ndarray:
    spec = next((s for s in signature.outputs if s.datatype in FLOATS), None)
    if spec is None:
        raise refusal("a regression model needs a floating-point output")
    values = _per_row(outputs[spec.name], rows, spec.name).reshape(rows, -1)
    if values.shape[1] != 1:
        raise refusal(f"the model's output {spec.name!r} has more than one value per row")
    return values[:, 0].astype(np.float64)


def _classification(
    signature: ModelSignature, outputs: dict[str, np.ndarray], y_true: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    rows = len(y_true)
    named = {s.name: s for s in signature.outputs}
    label_spec = named.get("label") or next(
        (s for s in signature.outputs if s.datatype not in FLOATS), None
    )
    proba_spec = named.get("probabilities") or next(
        (s for s in signature.outputs if s.datatype in FLOATS), None
    )
    labels = None
    if label_spec is not None:
        labels = _per_row(outputs[label_spec.name], rows, label_spec.name).reshape(-1)
        labels = _like(labels, y_true)
    proba = None
    if proba_spec is not None:
        proba = _per_row(outputs[proba_spec.name], rows, proba_spec.name).reshape(rows, -1)
        proba = proba.astype(np.float64)
    seen = np.unique(np.concatenate([y_true, labels])) if labels is not None else np.unique(y_true)
    if proba is not None and proba.shape[1] == 1 and len(seen) <= 2:
        proba = np.column_stack([1.0 - proba[:, 0], proba[:, 0]])
    classes = seen
    if proba is not None and proba.shape[1] != len(classes):
        if labels is None:
            raise refusal(
                f"the model's output {proba_spec.name!r} has {proba.shape[1]} columns; "  # type: ignore[union-attr]
                f"the target has {len(classes)} classes"
            )
        proba = None  # probabilities of classes the data does not show: labels only
    if labels is None:
        assert proba is not None
        labels = classes[np.argmax(proba, axis=1)]
    if labels is None:
        raise refusal("a classification model needs a label or probability output")
    return labels, proba, classes


def _like(labels: np.ndarray, y_true: np.ndarray) -> np.ndarray:
    """The model's labels in the target's type, so that equal labels compare equal."""
    if y_true.dtype.kind in "iu":
        if labels.dtype.kind in "iub":
            return labels.astype(np.int64)
        if labels.dtype.kind == "f" and np.all(labels == np.round(labels)):
            return labels.astype(np.int64)
    return np.asarray([str(v.decode() if isinstance(v, bytes) else v) for v in labels], dtype=str)


def _reference_column(reference: EvalTable, rows: int) -> str:
    if len(reference.names) != 1 or reference.rows != rows:
        raise refusal(
            f"reference predictions need one column and {rows} rows, one per evaluation row"
        )
    return reference.names[0]


def _label_parity(
    labels: np.ndarray, reference: EvalTable, rows: int
) -> tuple[bool, dict[str, float]]:
    expected = reference.labels(_reference_column(reference, rows))
    mismatches = int(np.sum(_like(labels, expected) != expected))
    return mismatches == 0, {"label_mismatches": float(mismatches)}


def _value_parity(
    values: np.ndarray, reference: EvalTable, rows: int
) -> tuple[bool, dict[str, float]]:
    expected = reference.numbers(_reference_column(reference, rows))
    relative = relative_difference(values, expected)
    worst = float(np.max(relative, initial=0.0))
    diff = float(np.max(np.abs(values - expected), initial=0.0))
    return bool(worst <= TOLERANCE), {"max_abs_diff": diff, "max_relative_diff": worst}
