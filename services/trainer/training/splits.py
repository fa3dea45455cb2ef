"""The data of one run: the dataset loaded and checked, split into training and holdout.

The holdout is drawn from ``dataset`` alone (stratified for classification, the request's
seed); ``extra_data`` rows (recent labelled production data, same columns) join the
training split only, so holdout metrics stay comparable between a model and its retraining.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from services.trainer.training import datasets
from services.trainer.training.errors import DataError
from shared.events.training import DatasetSpec, TrainingRequested


@dataclass(frozen=True)
class Split:
    data: datasets.Dataset
    X_train: Any  # as datasets.Dataset.X: a float matrix, or a DataFrame
    X_hold: Any
    y_train: np.ndarray
    y_hold: np.ndarray
    digest: str  # of everything trained on: dataset, plus extra_data if any

    @property
    def has_missing(self) -> bool:
        if self.data.categorical:  # the mixed pipeline always imputes
            return True
        return bool(np.isnan(self.X_train).any() or np.isnan(self.X_hold).any())


def load(
    request: TrainingRequested, path: Path | None, *, max_cells: int | None = None
) -> datasets.Dataset:
    spec = request.dataset
    if spec.builtin is not None:
        return datasets.load_builtin(spec.builtin, request.task)
    assert path is not None and spec.artifact is not None
    return datasets.load_file(
        path,
        spec,
        target=request.target or "target",
        task=request.task,
        digest=spec.artifact.sha256,
        max_cells=max_cells,
    )


def prepare(
    request: TrainingRequested,
    path: Path | None,
    extra_path: Path | None,
    *,
    max_cells: int | None = None,
) -> Split:
    """Load, check and split the data; each file may have at most ``max_cells`` cells."""
    data = load(request, path, max_cells=max_cells)
    datasets.check(
        data, request.task, cv_folds=request.cv_folds, holdout_fraction=request.holdout_fraction
    )
    X_train, X_hold, y_train, y_hold = train_test_split(
        data.X,
        data.y,
        test_size=request.holdout_fraction,
        random_state=request.seed,
        stratify=data.y if request.task == "classification" else None,
    )
    if extra_path is None or request.extra_data is None:
        return Split(data, X_train, X_hold, y_train, y_hold, data.digest)
    extra = datasets.load_file(
        extra_path,
        DatasetSpec(artifact=request.extra_data, format="csv"),
        target=data.target,
        task=request.task,
        digest=request.extra_data.sha256,
        features=data.feature_names,
        categorical=data.categorical,
        text=data.text,
        max_cells=max_cells,
    )
    if extra.y.dtype.kind != y_train.dtype.kind:
        raise DataError("extra_data labels are not of the same kind as the dataset's labels")
    stacked = (
        pd.concat([X_train, extra.X], ignore_index=True)
        if data.categorical
        else np.vstack([X_train, extra.X])
    )
    return Split(
        data,
        stacked,
        X_hold,
        np.concatenate([y_train, extra.y]),
        y_hold,
        datasets.combined_digest(data.digest, extra.digest),
    )
