"""The reference profile: what the training data and the model's predictions looked like.

The monitor compares live traffic with it (``services/monitor/profile.py`` reads it).
Format ``modelbus.reference-profile/1``::

    {"format": ..., "task": ..., "rows": <training rows>,
     "target": {"name": ..., "distribution": <entry>},
     "features": [                                   # in the model's input column order
        {"name", "kind": "numeric" | "categorical", "count": <non-missing values>,
         "missing_rate", "min", "max", "mean", "std",
         "bin_edges": [<= 11 decile edges, ascending, duplicates removed],
         "bin_counts": [one count per bin, numpy.histogram semantics],
         "categories": {value: frequency}}           # only when categorical
     ],
     "prediction": <entry named "prediction">,
     "reference_sample": <claim check, added by the service once the sample is stored>}

Features are profiled on the training split; predictions on the holdout, which the model
has not seen (predictions on training rows are overconfident, unlike live ones). A
feature with at most 10 distinct values is categorical (its numeric statistics are kept
too); class predictions are always categorical.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np

FORMAT = "modelbus.reference-profile/1"
BINS = 10
MAX_CATEGORIES = 10
REFERENCE_SAMPLE_ROWS = 5_000


def summary(name: str, values: np.ndarray) -> dict[str, Any]:
    """A feature entry for a numeric column (NaN = missing)."""
    present = values[~np.isnan(values)]
    entry: dict[str, Any] = {
        "name": name,
        "kind": "numeric",
        "count": int(present.size),
        "missing_rate": float(1 - present.size / values.size) if values.size else 0.0,
    }
    if present.size == 0:
        return entry
    edges = np.unique(np.quantile(present, np.linspace(0, 1, BINS + 1)))
    if edges.size == 1:  # a constant: one degenerate bin holding everything
        counts = np.array([present.size])
        edges = np.array([edges[0], edges[0]])
    else:
        counts, _ = np.histogram(present, bins=edges)
    entry.update(
        min=float(present.min()),
        max=float(present.max()),
        mean=float(present.mean()),
        std=float(present.std()),
        bin_edges=[float(e) for e in edges],
        bin_counts=[int(c) for c in counts],
    )
    distinct, freq = np.unique(present, return_counts=True)
    if distinct.size <= MAX_CATEGORIES:
        entry["kind"] = "categorical"
        entry["categories"] = {
            _label(v): float(n / present.size) for v, n in zip(distinct, freq, strict=True)
        }
    return entry


def label_summary(name: str, labels: np.ndarray) -> dict[str, Any]:
    """A categorical entry for class labels (no missing values)."""
    values, counts = np.unique(labels, return_counts=True)
    return {
        "name": name,
        "kind": "categorical",
        "count": int(labels.size),
        "missing_rate": 0.0,
        "categories": {
            _label(v): float(c / labels.size) for v, c in zip(values, counts, strict=True)
        },
    }


def build_profile(
    *,
    task: str,
    target: str,
    feature_names: list[str],
    X_train: np.ndarray,
    y_train: np.ndarray,
    holdout_predictions: np.ndarray,
) -> dict[str, Any]:
    describe = (
        label_summary
        if task == "classification"
        else (lambda name, values: summary(name, values.astype(float)))
    )
    return {
        "format": FORMAT,
        "task": task,
        "rows": int(X_train.shape[0]),
        "target": {"name": target, "distribution": describe(target, y_train)},
        "features": [summary(name, X_train[:, i]) for i, name in enumerate(feature_names)],
        "prediction": describe("prediction", holdout_predictions),
    }


def _label(value: Any) -> str:
    """Category keys as text: 1.0 -> "1", so float-coded and int-coded categories agree."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def reference_sample_csv(
    feature_names: list[str], target: str, X: np.ndarray, y: np.ndarray, seed: int
) -> bytes:
    """A uniform sample (at most 5,000 rows) of the training split as CSV, features then
    target: the rows the profile describes, for tests that need samples (KS)."""
    rows = np.arange(X.shape[0])
    if rows.size > REFERENCE_SAMPLE_ROWS:
        rows = np.sort(
            np.random.default_rng(seed).choice(rows, REFERENCE_SAMPLE_ROWS, replace=False)
        )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*feature_names, target])
    for i in rows:
        features = ["" if np.isnan(v) else repr(float(v)) for v in X[i]]
        label = y[i]
        writer.writerow(
            [*features, repr(float(label)) if isinstance(label, np.floating) else str(label)]
        )
    return out.getvalue().encode()
