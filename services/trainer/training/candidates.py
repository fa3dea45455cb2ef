"""The algorithms the trainer fits, the pipeline around each, and the default search.

Every pipeline converts to ONNX with skl2onnx: an optional median imputer (only when the
data has missing values), a StandardScaler for the models that need one (linear models,
MLP), then the model; with categorical features the imputer and scaler are the numeric
half of a column transformer (:mod:`services.trainer.training.mixed`). Search spaces name the model's own hyperparameters (``C``, not
``model__C``); values are JSON lists, so the search is over listed values: ``grid`` tries
every combination (a random sample of ``max_trials`` if there are more), ``random`` tries
a random sample of ``max_trials``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import ParameterGrid
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from services.trainer.training import mixed
from services.trainer.training.errors import RequestError
from shared.events.common import Task
from shared.events.training import CandidateSpec

CLASSIFICATION: Task = "classification"
REGRESSION: Task = "regression"


@dataclass(frozen=True)
class Algorithm:
    tasks: tuple[Task, ...]
    scaled: bool
    make: Callable[[Task, int], BaseEstimator]


def _forest(task: Task, seed: int) -> BaseEstimator:
    if task == CLASSIFICATION:
        return RandomForestClassifier(n_estimators=100, random_state=seed)
    return RandomForestRegressor(n_estimators=100, random_state=seed)


def _boosting(task: Task, seed: int) -> BaseEstimator:
    if task == CLASSIFICATION:
        return HistGradientBoostingClassifier(random_state=seed)
    return HistGradientBoostingRegressor(random_state=seed)


def _mlp(task: Task, seed: int) -> BaseEstimator:
    # Larger steps than the defaults: on small tables adam then converges in a few hundred
    # epochs instead of a thousand (regression targets are not scaled, hence larger still).
    if task == CLASSIFICATION:
        return MLPClassifier(
            hidden_layer_sizes=(32,), learning_rate_init=0.01, max_iter=500, random_state=seed
        )
    return MLPRegressor(
        hidden_layer_sizes=(32,), learning_rate_init=0.05, max_iter=500, random_state=seed
    )


ALGORITHMS: dict[str, Algorithm] = {
    "logistic_regression": Algorithm(
        (CLASSIFICATION,), True, lambda task, seed: LogisticRegression(max_iter=2000)
    ),
    "linear_regression": Algorithm((REGRESSION,), True, lambda task, seed: LinearRegression()),
    "ridge": Algorithm((REGRESSION,), True, lambda task, seed: Ridge(random_state=seed)),
    "random_forest": Algorithm((CLASSIFICATION, REGRESSION), False, _forest),
    "hist_gradient_boosting": Algorithm((CLASSIFICATION, REGRESSION), False, _boosting),
    "mlp": Algorithm((CLASSIFICATION, REGRESSION), True, _mlp),
}

# Small on purpose: a breast_cancer request must train in well under 30 s on 2 cores.
DEFAULT_SEARCH: dict[Task, list[CandidateSpec]] = {
    CLASSIFICATION: [
        CandidateSpec(algorithm="logistic_regression", search_space={"C": [0.1, 1.0, 10.0]}),
        CandidateSpec(algorithm="random_forest", search_space={"max_depth": [None, 8]}),
        CandidateSpec(algorithm="hist_gradient_boosting", search_space={"learning_rate": [0.1]}),
        CandidateSpec(algorithm="mlp", search_space={"alpha": [0.0001, 0.01]}),
    ],
    REGRESSION: [
        CandidateSpec(algorithm="linear_regression"),
        CandidateSpec(algorithm="ridge", search_space={"alpha": [0.1, 1.0, 10.0]}),
        CandidateSpec(algorithm="random_forest", search_space={"max_depth": [None, 8]}),
        CandidateSpec(algorithm="hist_gradient_boosting", search_space={"learning_rate": [0.1]}),
        CandidateSpec(algorithm="mlp", search_space={"alpha": [0.0001, 0.01]}),
    ],
}


def resolve(candidates: list[CandidateSpec], task: Task) -> list[CandidateSpec]:
    """The candidates to search (the default search if none are given), each checked."""
    specs = candidates or DEFAULT_SEARCH[task]
    for spec in specs:
        algorithm = ALGORITHMS[spec.algorithm]
        if task not in algorithm.tasks:
            raise RequestError(f"{spec.algorithm} cannot be used for {task}")
        known = algorithm.make(task, 0).get_params(deep=False)
        unknown = sorted(set(spec.search_space) - set(known))
        if unknown:
            raise RequestError(
                f"{spec.algorithm} has no hyperparameters {unknown}; it has {sorted(known)}"
            )
        empty = sorted(k for k, values in spec.search_space.items() if not values)
        if empty:
            raise RequestError(f"{spec.algorithm}: empty value lists for {empty}")
    return specs


def build_pipeline(
    algorithm: str,
    task: Task,
    *,
    seed: int,
    params: dict[str, Any],
    impute: bool,
    layout: mixed.Layout | None = None,
) -> Pipeline:
    """The pipeline of one trial; with a ``layout`` (categorical features) its first step
    is the column transformer of :mod:`services.trainer.training.mixed`."""
    spec = ALGORITHMS[algorithm]
    steps: list[tuple[str, Any]] = []
    if layout is not None:
        steps.append(("prepare", mixed.preprocessor(layout, scaled=spec.scaled)))
    elif impute:
        steps.append(("impute", SimpleImputer(strategy="median")))
    if spec.scaled and layout is None:
        steps.append(("scale", StandardScaler()))
    steps.append(("model", spec.make(task, seed).set_params(**params)))
    return Pipeline(steps)


def trials(spec: CandidateSpec, *, search: str, max_trials: int, seed: int) -> list[dict[str, Any]]:
    """The hyperparameter sets to try for one candidate, in a deterministic order."""
    grid = ParameterGrid(spec.search_space)
    if search == "grid" and len(grid) <= max_trials:
        return list(grid)
    picks = np.random.default_rng(seed).choice(
        len(grid), size=min(max_trials, len(grid)), replace=False
    )
    return [grid[int(i)] for i in sorted(picks)]
