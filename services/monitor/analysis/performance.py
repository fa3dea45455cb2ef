"""Performance on labelled predictions, and whether it fell below what was registered.

Classification: accuracy; F1 (binary: of the greater class label, else macro); ROC-AUC
when class scores were logged (binary: score of the greater class; else one-vs-rest
macro), columns in sorted class order as skl2onnx writes them. Regression: RMSE, MAE.
A metric that a window cannot define (one class only, no scores) is left out.

The baseline is the metric the version was registered with (``ModelRegistered.metrics``,
under the names in :data:`BASELINE_KEYS`). A classification metric degrades below
``baseline - performance_drop`` (or ``min_<metric>`` when set); an error metric above
``baseline * (1 + error_increase)`` (or ``max_<metric>``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn import metrics as skm

from services.monitor.analysis.stats import FloatArray
from services.monitor.analysis.thresholds import Thresholds
from shared.events.common import Task
from shared.events.reference_profile import canonical_label

BASELINE_KEYS: dict[str, tuple[str, ...]] = {
    name: (name, f"test_{name}", f"holdout_{name}", *extra)
    for name, extra in {
        "accuracy": (),
        "f1": ("f1_macro", "f1_weighted"),
        "roc_auc": ("auc",),
        "rmse": (),
        "mae": (),
    }.items()
}
HIGHER_IS_BETTER = ("accuracy", "f1", "roc_auc")


def _class_order(labels: list[str]) -> list[str]:
    try:
        return sorted(labels, key=float)
    except ValueError:
        return sorted(labels)


def classification(
    predicted: Sequence[Any], actual: Sequence[Any], scores: FloatArray | None
) -> dict[str, float]:
    y_pred = [canonical_label(v) for v in predicted]
    y_true = [canonical_label(v) for v in actual]
    classes = _class_order(sorted(set(y_true) | set(y_pred)))
    out = {"accuracy": float(skm.accuracy_score(y_true, y_pred))}
    if len(classes) == 2:
        out["f1"] = float(skm.f1_score(y_true, y_pred, pos_label=classes[1], average="binary"))
    else:
        out["f1"] = float(skm.f1_score(y_true, y_pred, average="macro", zero_division=0))
    present = _class_order(sorted(set(y_true)))
    if scores is not None and len(present) >= 2 and scores.shape[1] >= 2:
        score_classes = classes if scores.shape[1] == len(classes) else None
        if scores.shape[1] == 2 and len(present) == 2:
            score_classes = present
        if score_classes is not None:
            if len(score_classes) == 2:
                positive = np.array([y == score_classes[1] for y in y_true])
                out["roc_auc"] = float(skm.roc_auc_score(positive, scores[:, 1]))
            elif set(present) == set(score_classes):
                out["roc_auc"] = float(
                    skm.roc_auc_score(y_true, scores, multi_class="ovr", labels=score_classes)
                )
    return out


def regression(predicted: Sequence[Any], actual: Sequence[Any]) -> dict[str, float]:
    p = np.asarray(predicted, np.float64)
    y = np.asarray(actual, np.float64)
    return {"rmse": float(np.sqrt(np.mean((p - y) ** 2))), "mae": float(np.mean(np.abs(p - y)))}


def evaluate(
    task: Task, predicted: Sequence[Any], actual: Sequence[Any], scores: FloatArray | None
) -> dict[str, float]:
    if not predicted:
        return {}
    if task == "regression":
        return regression(predicted, actual)
    return classification(predicted, actual, scores)


@dataclass(frozen=True)
class Violation:
    metric: str
    value: float
    baseline: float
    threshold: float


def baseline_of(metric: str, registered: dict[str, float]) -> float | None:
    return next((registered[k] for k in BASELINE_KEYS[metric] if k in registered), None)


def violations(
    values: dict[str, float],
    registered: dict[str, float],
    t: Thresholds,
    *,
    recovering: bool = False,
) -> tuple[list[Violation], bool]:
    """The metrics past their bounds, and whether any metric had a bound to be judged by.

    With ``recovering``, bounds relative to the baseline are halfway between the alert
    bound and the baseline: the bar an open episode must clear to count as recovered.
    """
    share = 0.5 if recovering else 1.0
    found: list[Violation] = []
    judged = False
    for metric, value in values.items():
        if metric not in BASELINE_KEYS:
            continue
        baseline = baseline_of(metric, registered)
        absolute = getattr(t, ("min_" if metric in HIGHER_IS_BETTER else "max_") + metric)
        if absolute is not None:
            bound = float(absolute)
        elif baseline is None:
            continue
        elif metric in HIGHER_IS_BETTER:
            bound = baseline - t.performance_drop * share
        else:
            bound = baseline * (1 + t.error_increase * share)
        judged = True
        worse = value < bound if metric in HIGHER_IS_BETTER else value > bound
        if worse:
            found.append(
                Violation(metric, value, baseline if baseline is not None else bound, bound)
            )
    return found, judged
