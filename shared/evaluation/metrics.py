"""The metrics measured on held-out data, by task.

Scores are reported in their natural orientation (RMSE and log loss: lower is better).
For a binary task the positive class is the second of the sorted class labels; with more
classes precision, recall and F1 are macro averages and ROC-AUC is one-vs-rest.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from sklearn import metrics as skm

Task = Literal["classification", "regression"]

METRICS: dict[Task, tuple[str, ...]] = {
    "classification": ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}
LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae"})


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray | None, classes: np.ndarray
) -> dict[str, float]:
    """Label metrics always; ROC AUC and log loss when class probabilities are known
    (``proba`` has one column per class, in the order of ``classes``)."""
    binary = len(classes) == 2
    averaging: dict[str, Any] = {"pos_label": classes[1]} if binary else {"average": "macro"}
    result = {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "precision": skm.precision_score(y_true, y_pred, zero_division=0, **averaging),
        "recall": skm.recall_score(y_true, y_pred, zero_division=0, **averaging),
        "f1": skm.f1_score(y_true, y_pred, zero_division=0, **averaging),
    }
    if proba is not None:
        result["log_loss"] = skm.log_loss(y_true, proba, labels=classes)
        if len(np.unique(y_true)) == len(classes):  # AUC needs every class in the holdout
            result["roc_auc"] = (
                skm.roc_auc_score(y_true == classes[1], proba[:, 1])
                if binary
                else skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=classes)
            )
    return {k: float(v) for k, v in result.items()}


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    return {
        "rmse": float(np.sqrt(skm.mean_squared_error(y_true, y_pred))),
        "mae": float(skm.mean_absolute_error(y_true, y_pred)),
        "r2": float(skm.r2_score(y_true, y_pred)),
    }
