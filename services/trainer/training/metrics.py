"""Metrics: the one the search optimises, and the full set measured on the holdout.

Scores are reported in their natural orientation (RMSE and log loss: lower is better);
the search maximises scikit-learn's scorer, which negates the lower-is-better ones.
For a binary task the positive class is the second of the sorted class labels; with more
classes precision, recall and F1 are macro averages and ROC-AUC is one-vs-rest.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import metrics as skm
from sklearn.metrics import make_scorer

from services.trainer.training.errors import RequestError
from shared.events.common import Task

METRICS: dict[Task, tuple[str, ...]] = {
    "classification": ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}
DEFAULT_METRIC: dict[Task, str] = {"classification": "roc_auc", "regression": "rmse"}
LOWER_IS_BETTER = frozenset({"log_loss", "rmse", "mae"})

_BUILTIN_SCORERS = {
    "accuracy": "accuracy",
    "log_loss": "neg_log_loss",
    "rmse": "neg_root_mean_squared_error",
    "mae": "neg_mean_absolute_error",
    "r2": "r2",
}
_LABEL_METRICS = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}


def resolve_metric(metric: str | None, task: Task) -> str:
    chosen = metric or DEFAULT_METRIC[task]
    if chosen not in METRICS[task]:
        raise RequestError(
            f"metric {chosen!r} is not available for {task}; choose one of {list(METRICS[task])}"
        )
    return chosen


def scorer(metric: str, classes: np.ndarray | None) -> Any:
    """A scikit-learn scorer (higher is better) for ``metric``."""
    if metric in _BUILTIN_SCORERS:
        return _BUILTIN_SCORERS[metric]
    binary = classes is not None and len(classes) == 2
    if metric == "roc_auc":
        return "roc_auc" if binary else "roc_auc_ovr"
    assert classes is not None
    options: dict[str, Any] = {"zero_division": 0}
    options.update({"pos_label": classes[1]} if binary else {"average": "macro"})
    return make_scorer(_LABEL_METRICS[metric], **options)


def natural(metric: str, score: float) -> float:
    """A scorer's value back in the metric's own orientation."""
    return -score if metric in LOWER_IS_BETTER else score


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray, classes: np.ndarray
) -> dict[str, float]:
    binary = len(classes) == 2
    averaging: dict[str, Any] = {"pos_label": classes[1]} if binary else {"average": "macro"}
    result = {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "precision": skm.precision_score(y_true, y_pred, zero_division=0, **averaging),
        "recall": skm.recall_score(y_true, y_pred, zero_division=0, **averaging),
        "f1": skm.f1_score(y_true, y_pred, zero_division=0, **averaging),
        "log_loss": skm.log_loss(y_true, proba, labels=classes),
    }
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
