"""Model selection: k-fold cross-validation of every trial, best by the chosen metric.

Folds are shuffled with the request's seed (stratified for classification), so the same
request on the same data gives the same trials and the same winner. A trial that cannot
be trained (hyperparameters scikit-learn refuses, a metric undefined on a fold) fails the
request with the reason: a search that silently skipped it would not be the one asked for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, cross_validate

from services.trainer.training import mixed
from services.trainer.training.candidates import build_pipeline, trials
from services.trainer.training.errors import RequestError
from services.trainer.training.metrics import natural
from shared.events.common import Task
from shared.events.training import CandidateSpec

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class Trial:
    algorithm: str
    params: dict[str, Any]
    objective: float  # the scorer's mean over folds: higher is better
    cv_score: float  # the same, in the metric's natural orientation
    cv_std: float
    fit_time_s: float


@dataclass(frozen=True)
class SearchSettings:
    task: Task
    metric: str
    scoring: Any
    folds: int
    search: str
    max_trials: int
    seed: int
    impute: bool
    layout: mixed.Layout | None = None


def search(
    specs: list[CandidateSpec],
    X: Any,
    y: np.ndarray,
    settings: SearchSettings,
    progress: Progress,
) -> tuple[Trial, list[Trial]]:
    """Cross-validate every trial of every candidate; return the best and all of them."""
    plan = [
        (spec.algorithm, params)
        for spec in specs
        for params in trials(
            spec, search=settings.search, max_trials=settings.max_trials, seed=settings.seed
        )
    ]
    splitter_type = StratifiedKFold if settings.task == "classification" else KFold
    splitter = splitter_type(n_splits=settings.folds, shuffle=True, random_state=settings.seed)
    done: list[Trial] = []
    for i, (algorithm, params) in enumerate(plan):
        progress(
            f"cross-validating {algorithm} {params} (trial {i + 1}/{len(plan)})", i / len(plan)
        )
        done.append(_run_trial(algorithm, params, X, y, splitter, settings))
    best = max(done, key=lambda t: t.objective)  # the first of equals: deterministic
    return best, done


def _run_trial(
    algorithm: str,
    params: dict[str, Any],
    X: Any,
    y: np.ndarray,
    splitter: KFold | StratifiedKFold,
    settings: SearchSettings,
) -> Trial:
    pipeline = build_pipeline(
        algorithm,
        settings.task,
        seed=settings.seed,
        params=params,
        impute=settings.impute,
        layout=settings.layout,
    )
    started = time.perf_counter()
    try:
        result = cross_validate(
            pipeline, X, y, cv=splitter, scoring=settings.scoring, error_score="raise"
        )
    except (ValueError, TypeError) as exc:  # scikit-learn's verdict on bad hyperparameters
        raise RequestError(f"{algorithm} with {params} cannot be trained: {exc}") from exc
    scores = np.asarray(result["test_score"], dtype=float)
    objective = float(np.mean(scores))
    if not np.isfinite(objective):
        raise RequestError(f"{algorithm} with {params} has no finite {settings.metric} score")
    return Trial(
        algorithm=algorithm,
        params=params,
        objective=objective,
        cv_score=natural(settings.metric, objective),
        cv_std=float(np.std(scores)),
        fit_time_s=round(time.perf_counter() - started, 4),
    )
