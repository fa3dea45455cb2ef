"""Labelled predictions: the label of each row, scored pairs, and training-ready CSV.

A request with several rows carries a list label (one value per row) or, for a single
row, a scalar. Rows are mappings with the stored prediction's columns (``outputs`` and
``value``, the label, as JSON; ``features`` as float64 bytes) and ``n_rows``/``n_cols``.

The CSV (the closed loop's retraining data) has the training feature columns, in
training order, then the target column named as in training; a missing value is an
empty field. A text feature is stored as category codes: its cells are written back as
the reference's labels, and a category the reference never saw (whose text the monitor
did not keep) as a missing value.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from services.monitor.analysis.tensors import class_scores, predicted_values


def row_labels(value: Any, rows: int) -> list[Any] | None:
    """The label of each row of a request, or None if the label does not fit the rows."""
    if isinstance(value, list):
        return value if len(value) == rows else None
    return [value] if rows == 1 else None


def labelled_pairs(rows: Sequence[Any]) -> tuple[list[Any], list[Any], Any, int]:
    """Predicted values, labels, class scores (or None) and the number of unusable labels."""
    predicted: list[Any] = []
    actual: list[Any] = []
    scores: list[Any] = []
    unusable = 0
    for r in rows:
        outputs = orjson.loads(r["outputs"])
        values = predicted_values(outputs)
        labels = row_labels(orjson.loads(r["value"]), r["n_rows"])
        if labels is None or len(values) != len(labels) or any(v is None for v in labels):
            unusable += 1
            continue
        predicted.extend(values)
        actual.extend(labels)
        scores.append(class_scores(outputs, r["n_rows"]))
    usable = (
        scores and all(s is not None for s in scores) and len({s.shape[1] for s in scores}) == 1
    )
    return predicted, actual, np.vstack(scores) if usable else None, unusable


def _cell(value: float) -> str:
    return "" if math.isnan(value) else repr(float(value))


def render_csv(
    columns: Sequence[str],
    target: str,
    records: Sequence[Any],
    text: Sequence[dict[float, str] | None] = (),
) -> tuple[bytes, int]:
    """CSV bytes and the number of data rows, from records (features, n_rows, n_cols,
    value); ``text`` gives, per column, the labels of a text feature by category code."""
    decoders = list(text) or [None] * len(columns)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*columns, target])
    written = 0
    for r in records:
        if r["n_cols"] != len(columns):
            continue
        labels = row_labels(orjson.loads(r["value"]), r["n_rows"])
        if labels is None:
            continue
        matrix = np.frombuffer(r["features"], dtype="<f8").reshape(r["n_rows"], r["n_cols"])
        for values, label in zip(matrix, labels, strict=True):
            cells = [
                _cell(v) if labels_of is None else labels_of.get(float(v), "")
                for v, labels_of in zip(values, decoders, strict=True)
            ]
            writer.writerow([*cells, "" if label is None else label])
            written += 1
    return out.getvalue().encode(), written
