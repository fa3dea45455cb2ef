"""Explainability and fairness evidence, measured on the holdout.

Permutation importance: how much the chosen metric drops when one feature's values are
shuffled (``sklearn.inspection.permutation_importance``, a few repeats, the request's seed).

Fairness (binary classification, when ``metadata.sensitive_attribute`` names a feature):
the gaps of :mod:`shared.evaluation.fairness`, on the holdout; a categorical attribute's
groups are its categories.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.inspection import permutation_importance
from sklearn.pipeline import Pipeline

from services.trainer.training import mixed
from services.trainer.training.errors import RequestError
from shared.evaluation.fairness import fairness_gaps

IMPORTANCE_REPEATS = 5


def importance(
    pipeline: Pipeline,
    X: Any,
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


def fairness(
    *,
    attribute: str,
    feature_names: list[str],
    X: Any,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    classes: np.ndarray,
    text: frozenset[str] = frozenset(),
) -> dict[str, float]:
    if attribute not in feature_names:
        raise RequestError(
            f"sensitive_attribute {attribute!r} is not a feature (features: {feature_names})"
        )
    if attribute in text:
        raise RequestError(
            f"sensitive_attribute {attribute!r} is free text; fairness compares the groups of a "
            "categorical or numeric feature"
        )
    return fairness_gaps(mixed.column(X, feature_names.index(attribute)), y_true, y_pred, classes)
