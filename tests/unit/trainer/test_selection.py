"""Candidates, search plans, metrics and the choice of the best trial."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification

from services.trainer.training.candidates import DEFAULT_SEARCH, build_pipeline, resolve, trials
from services.trainer.training.errors import RequestError
from services.trainer.training.metrics import natural, resolve_metric, scorer
from services.trainer.training.selection import SearchSettings, search
from shared.events.training import CandidateSpec


def test_default_search_covers_the_required_algorithms() -> None:
    for task in ("classification", "regression"):
        names = {c.algorithm for c in resolve([], task)}
        assert {"random_forest", "hist_gradient_boosting", "mlp"} <= names
    assert "logistic_regression" in {c.algorithm for c in DEFAULT_SEARCH["classification"]}
    assert "linear_regression" in {c.algorithm for c in DEFAULT_SEARCH["regression"]}


@pytest.mark.parametrize(
    ("spec", "task", "message"),
    [
        (CandidateSpec(algorithm="logistic_regression"), "regression", "cannot be used"),
        (
            CandidateSpec(algorithm="random_forest", search_space={"depth": [1]}),
            "classification",
            "no hyperparameters",
        ),
        (CandidateSpec(algorithm="mlp", search_space={"alpha": []}), "classification", "empty"),
    ],
)
def test_impossible_candidates_are_refused(spec: CandidateSpec, task: str, message: str) -> None:
    with pytest.raises(RequestError, match=message):
        resolve([spec], task)  # type: ignore[arg-type]


def test_grid_is_complete_until_it_exceeds_the_trial_budget() -> None:
    spec = CandidateSpec(
        algorithm="random_forest", search_space={"max_depth": [2, 4, 8], "n_estimators": [10, 20]}
    )
    assert len(trials(spec, search="grid", max_trials=6, seed=0)) == 6
    sampled = trials(spec, search="grid", max_trials=4, seed=0)
    assert len(sampled) == 4 and sampled == trials(spec, search="grid", max_trials=4, seed=0)
    assert len(trials(spec, search="random", max_trials=2, seed=1)) == 2
    assert trials(
        CandidateSpec(algorithm="linear_regression"), search="grid", max_trials=3, seed=0
    ) == [{}]


def test_metrics_are_checked_and_reported_in_their_own_orientation() -> None:
    assert resolve_metric(None, "classification") == "roc_auc"
    assert resolve_metric(None, "regression") == "rmse"
    with pytest.raises(RequestError, match="not available for regression"):
        resolve_metric("accuracy", "regression")
    assert natural("rmse", -3.0) == 3.0 and natural("r2", 0.5) == 0.5


def test_search_picks_the_best_trial_and_reports_all_of_them() -> None:
    X, y = make_classification(n_samples=120, n_features=5, random_state=0)
    labels = np.where(y == 1, "spam", "ham")  # text labels: the positive class is "spam"
    specs = [
        CandidateSpec(algorithm="logistic_regression", search_space={"C": [0.001, 1.0]}),
        CandidateSpec(algorithm="random_forest", search_space={"n_estimators": [5]}),
    ]
    settings = SearchSettings(
        "classification", "f1", scorer("f1", np.unique(labels)), 3, "grid", 8, 0, impute=False
    )
    seen: list[float] = []
    best, done = search(specs, X, labels, settings, lambda _, fraction: seen.append(fraction))
    assert [t.algorithm for t in done] == ["logistic_regression"] * 2 + ["random_forest"]
    assert best.objective == max(t.objective for t in done)
    assert seen == sorted(seen) and len(seen) == 3


def test_a_trial_scikit_learn_refuses_fails_the_search() -> None:
    X, y = make_classification(n_samples=60, n_features=4, random_state=0)
    settings = SearchSettings("classification", "accuracy", "accuracy", 3, "grid", 8, 0, False)
    with pytest.raises(RequestError, match="cannot be trained"):
        search(
            [CandidateSpec(algorithm="logistic_regression", search_space={"C": [-1.0]})],
            X,
            y,
            settings,
            lambda *_: None,
        )


def test_pipelines_scale_and_impute_only_where_needed() -> None:
    assert [
        n
        for n, _ in build_pipeline(
            "random_forest", "regression", seed=0, params={}, impute=False
        ).steps
    ] == ["model"]
    assert [
        n
        for n, _ in build_pipeline(
            "mlp", "regression", seed=0, params={"alpha": 0.1}, impute=True
        ).steps
    ] == ["impute", "scale", "model"]
