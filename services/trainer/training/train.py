"""One training run, start to finish: data, checks, search, holdout, export, evidence.

:func:`train` is deterministic for a given request and data (the seed drives the split,
the folds, the search sample and the models) and raises
:class:`~services.trainer.training.errors.TrainingRejected` with a reason when the job
must fail. It runs in a worker process, never in the service's event loop.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from sklearn.pipeline import Pipeline

from services.trainer.training import explain, mixed
from services.trainer.training.candidates import build_pipeline, resolve
from services.trainer.training.metrics import resolve_metric, scorer
from services.trainer.training.onnx_export import INPUT_NAME, check_parity, to_onnx
from services.trainer.training.selection import Progress, SearchSettings, Trial, search
from services.trainer.training.splits import Split, prepare
from shared.evaluation.metrics import classification_metrics, regression_metrics
from shared.events.reference_sample import reference_sample_csv
from shared.events.training import TrainingRequested
from shared.reference_builder import build_reference_profile, holdout_scores


@dataclass(frozen=True)
class Inputs:
    request: TrainingRequested
    dataset_path: Path | None = None  # None for a bundled dataset
    extra_path: Path | None = None
    max_cells: int | None = None  # rows x columns a dataset file may have


@dataclass(frozen=True)
class Outputs:
    summary: dict[str, Any]  # JSON-safe: algorithm, metrics, params, candidates, evidence
    model: bytes
    profile: bytes
    importance: bytes
    reference_sample: bytes


def train(inputs: Inputs, progress: Progress) -> Outputs:
    started = time.perf_counter()
    request = inputs.request
    classifier = request.task == "classification"
    metric = resolve_metric(request.metric, request.task)
    specs = resolve(request.candidates, request.task)
    progress("loading and checking the dataset", 0.0)
    split = prepare(request, inputs.dataset_path, inputs.extra_path, max_cells=inputs.max_cells)
    scoring = scorer(metric, np.unique(split.y_train) if classifier else None)
    settings = SearchSettings(
        request.task,
        metric,
        scoring,
        request.cv_folds,
        request.search,
        request.max_trials_per_candidate,
        request.seed,
        impute=split.has_missing,
        layout=split.data.layout,
    )
    best, trials = search(
        specs,
        split.X_train,
        split.y_train,
        settings,
        lambda message, done: progress(message, 0.05 + 0.6 * done),
    )

    progress(f"fitting {best.algorithm} on the training split", 0.7)
    pipeline = build_pipeline(
        best.algorithm,
        request.task,
        seed=request.seed,
        params=best.params,
        impute=split.has_missing,
        layout=split.data.layout,
    )
    pipeline.fit(split.X_train, split.y_train)
    predictions = pipeline.predict(split.X_hold)
    probabilities = pipeline.predict_proba(split.X_hold) if classifier else None
    metrics = (
        classification_metrics(split.y_hold, predictions, probabilities, pipeline.classes_)
        if classifier
        else regression_metrics(split.y_hold, predictions)
    )
    progress("exporting to ONNX and checking parity", 0.8)
    layout = split.data.layout
    model = to_onnx(pipeline, split.X_hold.shape[1], classifier=classifier, layout=layout)
    metrics["onnx_max_abs_diff"] = check_parity(
        model, pipeline, split.X_hold, classifier=classifier, layout=layout
    ).max_abs_diff

    progress("measuring permutation importance and fairness", 0.85)
    names = split.data.feature_names
    importance = explain.importance(
        pipeline,
        split.X_hold,
        split.y_hold,
        feature_names=names,
        scoring=scoring,
        seed=request.seed,
    )
    fairness: dict[str, float] = {}
    if request.metadata.sensitive_attribute:
        fairness = explain.fairness(
            attribute=request.metadata.sensitive_attribute,
            feature_names=names,
            X=split.X_hold,
            y_true=split.y_hold,
            y_pred=predictions,
            classes=pipeline.classes_ if classifier else np.array([]),
            text=split.data.text,
        )
    # Features as trained on; predictions on the holdout, which the model has not seen,
    # and for a classifier its holdout scores with the truth, to calibrate estimates on.
    trained_on = split.X_train if layout is None else mixed.as_objects(split.X_train, layout)
    profile = build_reference_profile(
        trained_on,
        names,
        task=request.task,
        predictions=predictions,
        target_name=split.data.target,
        target=split.y_train,
        words=split.data.text,
        holdout=None
        if probabilities is None
        else holdout_scores(
            probabilities, predictions, split.y_hold, pipeline.classes_, seed=request.seed
        ),
    )
    progress("done", 1.0)
    summary = {
        "algorithm": best.algorithm,
        "metrics": metrics,
        "params": describe(request, split, pipeline, best, metric),
        "candidates": [_candidate(t) for t in trials],
        "dataset_sha256": split.digest,
        "feature_importance": {name: v["mean"] for name, v in importance.items()},
        "fairness": fairness,
        "training_s": round(time.perf_counter() - started, 3),
    }
    return Outputs(
        summary=summary,
        model=model,
        profile=profile.to_json(),
        importance=orjson.dumps(
            {"metric": metric, "repeats": explain.IMPORTANCE_REPEATS, "features": importance}
        ),
        reference_sample=reference_sample_csv(
            trained_on,
            names,
            target_name=split.data.target,
            target=split.y_train,
            seed=request.seed,
        ),
    )


def describe(
    request: TrainingRequested, split: Split, pipeline: Pipeline, best: Trial, metric: str
) -> dict[str, Any]:
    """``params`` of the event: how to call the model, and how it was chosen."""
    classifier = request.task == "classification"
    layout = split.data.layout
    # How the features reach the graph: the columns of one "input" tensor, or one input each.
    inputs = (
        {"input": INPUT_NAME}
        if layout is None
        else {"inputs": {n: layout.kind(n) for n in split.data.feature_names}}
    )
    return {
        "hyperparameters": best.params,
        "feature_names": split.data.feature_names,
        "target": split.data.target,
        **inputs,
        "outputs": ["label", "probabilities"] if classifier else ["variable"],
        "pipeline": [name for name, _ in pipeline.steps[:-1]] + [type(pipeline[-1]).__name__],
        "metric": metric,
        "cv_folds": request.cv_folds,
        "holdout_fraction": request.holdout_fraction,
        "seed": request.seed,
        "training_rows": int(split.X_train.shape[0]),
        "holdout_rows": int(split.X_hold.shape[0]),
    } | ({"classes": pipeline.classes_.tolist()} if classifier else {})


def _candidate(trial: Trial) -> dict[str, Any]:
    return {
        "algorithm": trial.algorithm,
        "params": trial.params,
        "cv_score": trial.cv_score,
        "cv_std": trial.cv_std,
        "fit_time_s": trial.fit_time_s,
    }
