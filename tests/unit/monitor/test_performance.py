"""Performance metrics equal scikit-learn's; degradation is judged against the baseline."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from services.monitor.analysis import performance
from services.monitor.analysis.thresholds import Thresholds

rng = np.random.default_rng(5)


def test_binary_classification_metrics() -> None:
    y = rng.integers(0, 2, 300)
    scores = np.clip(y * 0.6 + rng.random(300) * 0.5, 0, 1)
    predicted = (scores > 0.5).astype(int)
    proba = np.column_stack([1 - scores, scores])
    result = performance.evaluate(
        "classification", predicted.tolist(), y.astype(float).tolist(), proba
    )
    assert result["accuracy"] == pytest.approx(skm.accuracy_score(y, predicted))
    assert result["f1"] == pytest.approx(skm.f1_score(y, predicted))
    assert result["roc_auc"] == pytest.approx(skm.roc_auc_score(y, scores))


def test_multiclass_metrics_with_string_labels() -> None:
    classes = np.array(["a", "b", "c"])
    y = classes[rng.integers(0, 3, 200)]
    proba = rng.dirichlet([1, 1, 1], 200)
    predicted = classes[proba.argmax(axis=1)]
    result = performance.evaluate("classification", list(predicted), list(y), proba)
    assert result["f1"] == pytest.approx(skm.f1_score(y, predicted, average="macro"))
    assert result["roc_auc"] == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr", labels=list(classes))
    )


def test_regression_metrics() -> None:
    y = rng.normal(size=100)
    p = y + rng.normal(0, 0.3, 100)
    result = performance.evaluate("regression", p.tolist(), y.tolist(), None)
    assert result["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(y, p)))
    assert result["mae"] == pytest.approx(skm.mean_absolute_error(y, p))


def test_violations_against_baseline_and_absolute_bounds() -> None:
    t = Thresholds(performance_drop=0.05, error_increase=0.25)
    found, judged = performance.violations(
        {"accuracy": 0.80, "f1": 0.9}, {"accuracy": 0.9, "f1": 0.92}, t
    )
    assert judged and [v.metric for v in found] == ["accuracy"]
    assert found[0].threshold == pytest.approx(0.85) and found[0].baseline == 0.9
    found, judged = performance.violations({"rmse": 1.3}, {"test_rmse": 1.0}, t)
    assert [v.metric for v in found] == ["rmse"]
    found, judged = performance.violations({"accuracy": 0.7}, {}, Thresholds(min_accuracy=0.75))
    assert found[0].threshold == 0.75
    assert performance.violations({"accuracy": 0.7}, {}, t) == ([], False)  # nothing to judge by


def test_recovery_needs_half_the_allowed_drop_back() -> None:
    t = Thresholds(performance_drop=0.06, error_increase=0.2)
    baseline = {"accuracy": 0.9}
    assert performance.violations({"accuracy": 0.86}, baseline, t)[0] == []  # not an alert
    [short], _ = performance.violations({"accuracy": 0.86}, baseline, t, recovering=True)
    assert short.threshold == pytest.approx(0.87)  # nor a recovery
    assert performance.violations({"accuracy": 0.88}, baseline, t, recovering=True)[0] == []
    [rmse], _ = performance.violations({"rmse": 1.15}, {"test_rmse": 1.0}, t, recovering=True)
    assert rmse.threshold == pytest.approx(1.1)
