"""Permutation importance and fairness (the reference profile: tests/unit/events)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification

from services.trainer.training import explain
from services.trainer.training.candidates import build_pipeline
from services.trainer.training.errors import RequestError
from shared.evaluation.fairness import sensitive_groups


def test_fairness_differences_between_groups() -> None:
    X = np.array([[0.0], [0.0], [0.0], [0.0], [1.0], [1.0], [1.0], [1.0]])
    y_true = np.array([1, 1, 0, 0, 1, 1, 0, 0])
    y_pred = np.array([1, 1, 1, 0, 1, 0, 0, 0])
    result = explain.fairness(
        attribute="group",
        feature_names=["group"],
        X=X,
        y_true=y_true,
        y_pred=y_pred,
        classes=np.array([0, 1]),
    )
    assert result["demographic_parity_difference"] == pytest.approx(0.75 - 0.25)
    assert result["equal_opportunity_difference"] == pytest.approx(1.0 - 0.5)
    assert result["groups"] == 2 and result["min_group_size"] == 4
    with pytest.raises(RequestError, match="not a feature"):
        explain.fairness(
            attribute="age",
            feature_names=["group"],
            X=X,
            y_true=y_true,
            y_pred=y_pred,
            classes=np.array([0, 1]),
        )


def test_numeric_attributes_are_split_at_the_median() -> None:
    groups = sensitive_groups(np.array([10.0, 20.0, 30.0, 40.0, np.nan]))
    assert groups[:4].tolist() == [0.0, 0.0, 1.0, 1.0]


def test_permutation_importance_finds_the_informative_feature() -> None:
    X, y = make_classification(
        n_samples=200,
        n_features=3,
        n_informative=1,
        n_redundant=0,
        n_clusters_per_class=1,
        shuffle=False,
        random_state=0,
    )
    pipeline = build_pipeline(
        "logistic_regression", "classification", seed=0, params={}, impute=False
    ).fit(X, y)
    result = explain.importance(
        pipeline, X, y, feature_names=["a", "b", "c"], scoring="accuracy", seed=0
    )
    assert max(result, key=lambda name: result[name]["mean"]) == "a"
