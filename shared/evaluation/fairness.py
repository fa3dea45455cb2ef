"""Fairness gaps across the groups of a sensitive attribute (binary classification).

Groups are the attribute's values when it has at most two, otherwise the attribute is
binarised at its median (``<= median`` and ``> median``). A categorical (text) attribute's
groups are its categories, however many; a row without a value (``None``, NaN or the
empty string) is in no group. Reported:

* ``demographic_parity_difference``: max - min over groups of P(prediction = positive);
* ``equal_opportunity_difference``: max - min over groups of recall, i.e.
  P(prediction = positive | truth = positive), over groups that have positives;
* ``groups`` and ``min_group_size`` so a reader can judge how much the numbers say.
"""

from __future__ import annotations

import numpy as np


def _text(values: np.ndarray) -> np.ndarray | None:
    """The attribute as group labels if it is text (NaN where a row has no value)."""
    if values.dtype.kind not in "OUS":
        return None
    labels = [
        None if v is None or v == "" or (isinstance(v, float) and v != v) else v
        for v in values.tolist()
    ]
    present = [v for v in labels if v is not None]
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return None  # numbers stored as objects: numeric groups
    codes = {v: float(i) for i, v in enumerate(sorted({str(v) for v in present}))}
    return np.asarray([np.nan if v is None else codes[str(v)] for v in labels], dtype=float)


def sensitive_groups(values: np.ndarray) -> np.ndarray:
    """A group label per row (the category, the value itself, or above/below the median)."""
    text = _text(values)
    if text is not None:
        return text
    values = np.asarray(values, dtype=np.float64)
    present = values[~np.isnan(values)]
    if np.unique(present).size <= 2:
        return values
    return np.asarray(values > np.median(present), dtype=float)


def fairness_gaps(
    attribute_values: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, classes: np.ndarray
) -> dict[str, float]:
    """The gaps of :mod:`this module <shared.evaluation.fairness>`; empty unless binary."""
    if len(classes) != 2:
        return {}  # the two differences are defined for a binary decision
    positive = classes[1]
    groups = sensitive_groups(np.asarray(attribute_values))
    selection, recall, sizes = [], [], []
    for group in np.unique(groups[~np.isnan(groups)]):
        rows = groups == group
        sizes.append(int(rows.sum()))
        selection.append(float(np.mean(y_pred[rows] == positive)))
        actual = rows & (y_true == positive)
        if actual.any():
            recall.append(float(np.mean(y_pred[actual] == positive)))
    if not sizes:
        return {}
    return {
        "demographic_parity_difference": max(selection) - min(selection),
        "equal_opportunity_difference": (max(recall) - min(recall)) if recall else 0.0,
        "groups": float(len(sizes)),
        "min_group_size": float(min(sizes)),
    }
