"""Explainability and fairness evidence, measured on the holdout.

Permutation importance: how much the chosen metric drops when one feature's values are
shuffled (``sklearn.inspection.permutation_importance``, a few repeats, the request's seed).

Fairness (binary classification, when ``metadata.sensitive_attribute`` names a feature):
groups are the attribute's values when it has at most two, otherwise the attribute is
binarised at its holdout median (``<= median`` and ``> median``). Reported:

* ``demographic_parity_difference``: max - min over groups of P(prediction = positive);
* ``equal_opportunity_difference``: max - min over groups of recall, i.e.
  P(prediction = positive | truth = positive), over groups that have positives;
* ``groups`` and ``min_group_size`` so a reader can judge how much the numbers say.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline

from services.trainer.training.errors import RequestError

IMPORTANCE_REPEATS = 5


def importance(
    pipeline: Pipeline,
    X: np.ndarray,
    y: np.ndarray,
    *,
    feature_names: list[str],
    scoring: Any,
    seed: int,
) -> dict[str, dict[str, float]]:
    result: Any = permutation_importance(
        pipeline, X, y, scoring=scoring, n_repeats=IMPORTANCE_REPEATS, random_state=seed
    )
    return {
        name: {"mean": float(mean), "std": float(std)}
        for name, mean, std in zip(
            feature_names, result.importances_mean, result.importances_std, strict=True
        )
    }


def sensitive_groups(values: np.ndarray) -> np.ndarray:
    """A group label per row (the value itself, or above/below the median)."""
    present = values[~np.isnan(values)]
    if np.unique(present).size <= 2:
        return values
    return np.asarray(values > np.median(present), dtype=float)


def fairness(
    *,
    attribute: str,
    feature_names: list[str],
    X: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    classes: np.ndarray,
) -> dict[str, float]:
    if attribute not in feature_names:
        raise RequestError(
            f"sensitive_attribute {attribute!r} is not a feature (features: {feature_names})"
        )
    if len(classes) != 2:
        return {}  # the two differences are defined for a binary decision
    positive = classes[1]
    groups = sensitive_groups(X[:, feature_names.index(attribute)])
    selection, recall, sizes = [], [], []
    for group in np.unique(groups[~np.isnan(groups)]):
        rows = groups == group
        sizes.append(int(rows.sum()))
        selection.append(float(np.mean(y_pred[rows] == positive)))
        actual = rows & (y_true == positive)
        if actual.any():
            recall.append(float(np.mean(y_pred[actual] == positive)))
    return {
        "demographic_parity_difference": max(selection) - min(selection),
        "equal_opportunity_difference": (max(recall) - min(recall)) if recall else 0.0,
        "groups": float(len(sizes)),
        "min_group_size": float(min(sizes)),
    }
