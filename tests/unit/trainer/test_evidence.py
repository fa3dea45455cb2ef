"""Reference profile, permutation importance and fairness."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification

from services.trainer.training import explain
from services.trainer.training.candidates import build_pipeline
from services.trainer.training.errors import RequestError
from services.trainer.training.profile import build_profile


def test_profile_has_quantile_bins_categories_and_missing_rates() -> None:
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=200), rng.integers(0, 3, size=200).astype(float)])
    X[:20, 0] = np.nan
    profile = build_profile(
        task="classification",
        target="y",
        feature_names=["x", "colour"],
        X_train=X,
        y_train=np.array([0, 1] * 100),
        holdout_predictions=np.array([0, 0, 1, 1]),
    )
    x, colour = profile["features"]
    assert x["kind"] == "numeric" and x["missing_rate"] == pytest.approx(0.1)
    assert len(x["bin_edges"]) == 11 and sum(x["bin_counts"]) == 180 == x["count"]
    assert x["bin_edges"][0] == x["min"] and x["bin_edges"][-1] == x["max"]
    assert colour["kind"] == "categorical" and set(colour["categories"]) == {"0", "1", "2"}
    assert sum(colour["categories"].values()) == pytest.approx(1.0)
    assert profile["prediction"]["categories"] == {"0": 0.5, "1": 0.5}
    assert profile["target"]["name"] == "y"


def test_regression_predictions_are_profiled_as_numbers() -> None:
    profile = build_profile(
        task="regression",
        target="y",
        feature_names=["c"],
        X_train=np.ones((30, 1)),
        y_train=np.arange(30.0),
        holdout_predictions=np.linspace(0, 1, 50),
    )
    assert profile["prediction"]["kind"] == "numeric"
    assert profile["features"][0]["bin_counts"] == [30]  # a constant feature: one bin


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
    groups = explain.sensitive_groups(np.array([10.0, 20.0, 30.0, 40.0, np.nan]))
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
