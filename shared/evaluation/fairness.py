"""Fairness gaps across the groups of a sensitive attribute (binary classification).

Groups are the attribute's values when it has at most two, otherwise the attribute is
binarised at its median (``<= median`` and ``> median``). Reported:

* ``demographic_parity_difference``: max - min over groups of P(prediction = positive);
* ``equal_opportunity_difference``: max - min over groups of recall, i.e.
  P(prediction = positive | truth = positive), over groups that have positives;
* ``groups`` and ``min_group_size`` so a reader can judge how much the numbers say.
"""

from __future__ import annotations

import numpy as np


def sensitive_groups(values: np.ndarray) -> np.ndarray:
    """A group label per row (the value itself, or above/below the median)."""
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
    groups = sensitive_groups(np.asarray(attribute_values, dtype=np.float64))
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
