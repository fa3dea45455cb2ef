"""Writing a reference profile in the format :mod:`services.monitor.profile` reads.

The reference implementation of that format, from a training matrix: quantile bin edges
and numpy.histogram counts per numeric feature, category counts per categorical feature,
the same for the model's predictions, and an optional uniform sample of the rows.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from services.monitor.stats import FloatArray


def describe(column: FloatArray, categorical: bool, bins: int, name: str) -> dict[str, Any]:
    present = column[~np.isnan(column)]
    entry: dict[str, Any] = {
        "name": name,
        "count": int(present.size),
        "missing_rate": float(1 - present.size / column.size) if column.size else 0.0,
    }
    if categorical:
        values, counts = np.unique(present, return_counts=True)
        keys = [str(int(v)) if float(v).is_integer() else repr(float(v)) for v in values]
        return {
            **entry,
            "kind": "categorical",
            "categories": dict(zip(keys, counts.astype(int).tolist(), strict=True)),
        }
    edges = np.quantile(present, np.linspace(0, 1, bins + 1))
    counts, _ = np.histogram(present, bins=edges)
    return {
        **entry,
        "kind": "numeric",
        "min": float(present.min()),
        "max": float(present.max()),
        "mean": float(present.mean()),
        "std": float(present.std()),
        "bin_edges": edges.tolist(),
        "bin_counts": counts.tolist(),
    }


def build_profile(
    matrix: FloatArray,
    names: Sequence[str],
    *,
    categorical: Sequence[str] = (),
    predictions: FloatArray | None = None,
    predictions_categorical: bool = True,
    target_name: str | None = None,
    bins: int = 10,
) -> dict[str, Any]:
    profile: dict[str, Any] = {
        "format": "modelbus.reference-profile/1",
        "features": [
            describe(matrix[:, j], name in categorical, bins, name) for j, name in enumerate(names)
        ],
    }
    if predictions is not None:
        profile["prediction"] = describe(
            np.asarray(predictions, np.float64), predictions_categorical, bins, "prediction"
        )
    if target_name:
        profile["target"] = {"name": target_name}
    return profile


def sample_npy(matrix: FloatArray, rows: int, seed: int = 0) -> bytes:
    """A uniform sample of ``rows`` rows as .npy bytes (the ``reference_sample`` artifact)."""
    rng = np.random.default_rng(seed)
    chosen = matrix if len(matrix) <= rows else matrix[rng.choice(len(matrix), rows, False)]
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(chosen, dtype=np.float64), allow_pickle=False)
    return buffer.getvalue()
