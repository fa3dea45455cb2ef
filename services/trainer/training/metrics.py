"""Metrics: the one the search optimises; the full set measured on the holdout is
:mod:`shared.evaluation.metrics` (the registry measures submitted models with it too).

The search maximises scikit-learn's scorer, which negates the lower-is-better ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import metrics as skm
from sklearn.metrics import make_scorer

from services.trainer.training.errors import RequestError
from shared.evaluation.metrics import LOWER_IS_BETTER, METRICS, Task

DEFAULT_METRIC: dict[Task, str] = {"classification": "roc_auc", "regression": "rmse"}

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
