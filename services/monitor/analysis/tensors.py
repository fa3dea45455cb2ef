"""Turning logged tensors into arrays: features in, predicted values and scores out.

``PredictionLogged.inputs`` is ``{input_name: nested lists}`` (an Open Inference Protocol
``{"data": ...}`` object is accepted too); every input is read as rows x columns and the
inputs are placed side by side in their order (the deployer logs them in the model's
input order), so columns map to the registered feature names by position. A text (BYTES)
element is stored as its category code (:func:`~services.monitor.analysis.reference.category_code`),
so a categorical input's rows are floats like any other; a free-text column of the
model's reference (``words``) is stored as each value's word count instead. Outputs follow skl2onnx names: the predicted value is the first of
:data:`VALUE_OUTPUTS` present (else the first output that is not a probability), and
class scores are the output whose name contains ``prob``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np

from services.monitor.analysis.reference import category_code
from services.monitor.analysis.stats import FloatArray
from shared.text_features import word_count

VALUE_OUTPUTS = (
    "label",
    "output_label",
    "predicted_label",
    "prediction",
    "predictions",
    "variable",
    "output",
    "y",
)


def _data(value: Any) -> Any:
    return value["data"] if isinstance(value, dict) and "data" in value else value


def feature_matrix(
    inputs: dict[str, Any], words: Collection[int] = ()
) -> tuple[FloatArray | None, str | None]:
    """The inputs as one float matrix (rows x columns), or why they cannot be one; the
    columns in ``words`` are free text, each value counted by its words."""
    if not inputs:
        return None, "no inputs"
    parts, width = [], 0
    for name, value in inputs.items():
        data = _data(value)
        try:
            array = _as_floats(data)
        except (TypeError, ValueError) as exc:
            return None, f"input {name!r} is not a numeric or text tensor: {exc}"
        if array.ndim == 0 or array.size == 0:
            return None, f"input {name!r} is empty or a scalar"
        part = array.reshape(1, -1) if array.ndim == 1 else array.reshape(len(array), -1)
        text = [j for j in range(part.shape[1]) if width + j in words]
        if text:
            raw = np.asarray(data, dtype=object).reshape(part.shape)
            for j in text:
                part[:, j] = [word_count(v) for v in raw[:, j]]
        parts.append(part)
        width += part.shape[1]
    if len({p.shape[0] for p in parts}) != 1:
        return None, "inputs disagree on the number of rows"
    return (parts[0] if len(parts) == 1 else np.hstack(parts)), None


def _as_floats(data: Any) -> FloatArray:
    try:
        return np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        raw = np.asarray(data, dtype=object)
        if raw.ndim == 0 or not all(isinstance(e, str) for e in raw.flat):
            raise ValueError("elements are neither all numbers nor all text") from None
        codes = np.fromiter((category_code(e) for e in raw.flat), np.float64, raw.size)
        return codes.reshape(raw.shape)


def _value_output(outputs: dict[str, Any]) -> str | None:
    for name in VALUE_OUTPUTS:
        if name in outputs:
            return name
    return next((n for n in outputs if "prob" not in n.lower()), None)


def predicted_values(outputs: dict[str, Any] | None) -> list[Any]:
    """One predicted value per row (a class label or a number); empty if there is none."""
    name = _value_output(outputs or {})
    if name is None or outputs is None:
        return []
    return list(np.asarray(_data(outputs[name])).ravel().tolist())


def class_scores(outputs: dict[str, Any] | None, rows: int) -> FloatArray | None:
    """Per-class scores (rows x classes, columns in sorted class order), if logged."""
    for name, value in (outputs or {}).items():
        if "prob" in name.lower():
            try:
                scores = np.asarray(_data(value), dtype=np.float64)
            except (TypeError, ValueError):
                return None
            return scores.reshape(rows, -1) if scores.size and scores.size % rows == 0 else None
    return None


def _score_output(outputs: dict[str, Any]) -> str | None:
    return next((n for n in outputs if "prob" in n.lower()), None)


def scored_rows(outputs: list[dict[str, Any]], width: int) -> tuple[FloatArray, list[Any]]:
    """Class scores (rows x ``width``) and predicted values of the requests that logged
    both, one value and one row of ``width`` scores per row. Requests shaped like the first
    are read in one pass; when any is not, each request is read on its own."""
    first = outputs[0] if outputs else {}
    value, score = _value_output(first), _score_output(first)
    if value is not None and score is not None and all(o.keys() == first.keys() for o in outputs):
        try:
            matrix = np.asarray([r for o in outputs for r in _data(o[score])], dtype=np.float64)
            values = [v for o in outputs for v in _data(o[value])]
        except (TypeError, ValueError):
            pass  # irregular: one request at a time below
        else:
            if matrix.ndim == 2 and matrix.shape[1] == width and len(values) == len(matrix):
                return matrix, values
    scores, labels = [], []
    for o in outputs:
        predicted = predicted_values(o)
        s = class_scores(o, len(predicted)) if predicted else None
        if s is not None and s.shape[1] == width:
            scores.append(s)
            labels.extend(predicted)
    return (np.vstack(scores) if scores else np.zeros((0, width))), labels
