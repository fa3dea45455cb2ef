"""A dataset ready for training, from scikit-learn's bundled data or from a file, and its checks.

The digest that identifies a dataset in ``training.completed``:

* a file: the SHA-256 of its bytes (the claim check the request announced);
* a bundled dataset: the SHA-256 of a canonical serialisation of X and y
  (:func:`canonical_digest`), so it does not depend on how scikit-learn stores it;
* with ``extra_data``: the SHA-256 of ``"<dataset digest>+<extra digest>"``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from services.trainer.training import mixed
from services.trainer.training.errors import DataError
from services.trainer.training.tables import (
    ColumnType,
    category_column,
    is_categorical,
    is_text,
    label_column,
    numeric_column,
    read_columns,
    value_column,
)
from shared.events.common import Task
from shared.events.training import BUILTIN_TASKS, BuiltinDataset, DatasetSpec
from shared.text_features import word_count

BUILTIN_TARGET = "target"


@dataclass(frozen=True)
class Dataset:
    # Numeric features only: float64, shape (rows, features), NaN where missing. With a
    # categorical feature: a pandas DataFrame (:mod:`services.trainer.training.mixed`).
    X: Any
    y: np.ndarray  # int64 or str labels (classification), float64 (regression)
    feature_names: list[str]
    target: str
    digest: str
    # How errors name each feature column (see load_file); empty: by its name.
    labels: tuple[str, ...] = ()
    categorical: frozenset[str] = frozenset()
    text: frozenset[str] = frozenset()  # the categorical features that are free text

    @property
    def rows(self) -> int:
        return int(self.X.shape[0])

    @property
    def layout(self) -> mixed.Layout | None:
        """How the features split into kinds; None when all are numeric."""
        if not self.categorical:
            return None
        return mixed.Layout(tuple(self.feature_names), self.categorical, self.text)

    def missing(self, i: int) -> np.ndarray:
        """Where feature ``i`` has no value."""
        values = mixed.column(self.X, i)
        if self.feature_names[i] in self.categorical:
            return np.asarray(values == mixed.MISSING_CATEGORY)
        return np.isnan(values.astype(np.float64))

    def label(self, i: int) -> str:
        return self.labels[i] if self.labels else f"column {self.feature_names[i]!r}"


def canonical_digest(X: np.ndarray, y: np.ndarray, feature_names: list[str], target: str) -> str:
    """SHA-256 of a header (names, shape, label kind) then X and y as little-endian arrays."""
    labels_are_text = y.dtype.kind in "US"
    header = {
        "features": feature_names,
        "target": target,
        "shape": list(X.shape),
        "labels": "text" if labels_are_text else "number",
    }
    digest = hashlib.sha256(b"modelbus-dataset-v1\n" + orjson.dumps(header) + b"\n")
    digest.update(np.ascontiguousarray(X, dtype="<f8").tobytes())
    if labels_are_text:
        digest.update("\n".join(y.tolist()).encode())
    else:
        digest.update(np.ascontiguousarray(y, dtype="<f8").tobytes())
    return digest.hexdigest()


def load_builtin(name: BuiltinDataset, task: Task) -> Dataset:
    from sklearn import datasets

    if BUILTIN_TASKS[name] != task:
        raise DataError(f"the bundled dataset {name!r} is for {BUILTIN_TASKS[name]}, not {task}")
    bunch: Any = getattr(datasets, f"load_{name}")()
    X = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.int64 if task == "classification" else np.float64)
    names = [str(n) for n in getattr(bunch, "feature_names", [])] or [
        f"x{i}" for i in range(X.shape[1])
    ]
    return Dataset(X, y, names, BUILTIN_TARGET, canonical_digest(X, y, names, BUILTIN_TARGET))


def load_file(
    path: Path,
    spec: DatasetSpec,
    *,
    target: str,
    task: Task,
    digest: str,
    features: list[str] | None = None,
    categorical: frozenset[str] | None = None,
    text: frozenset[str] | None = None,
    max_cells: int | None = None,
) -> Dataset:
    """Read a CSV/Parquet file; ``features`` (else the declared schema, else every column but
    the target) fixes which columns are features and in which order, ``categorical`` (else
    the schema, else the values: :func:`~services.trainer.training.tables.is_categorical`)
    which of them are categorical, and ``text`` (else the schema, else the values:
    :func:`~services.trainer.training.tables.is_text`) which of those are free text. A file
    of more than ``max_cells`` cells is refused while it is read."""
    fmt = spec.format or ("parquet" if path.suffix == ".parquet" else "csv")
    columns = read_columns(path, fmt, max_cells=max_cells)
    schema: dict[str, ColumnType] = dict(spec.schema_ or {})
    if schema:
        undeclared = [name for name in schema if name not in columns]
        if undeclared:
            raise DataError(f"declared columns missing from the dataset: {undeclared}")
    if target not in columns:
        raise DataError(f"target column {target!r} is not in the dataset")
    named = {*schema, target, *(features or ())}  # names the caller gave: safe to repeat
    if features is None:
        features = [n for n in (schema or columns) if n != target]
    absent = [n for n in features if n not in columns]
    if absent:
        raise DataError(f"feature columns missing from the dataset: {absent}")
    if not features:
        raise DataError("the dataset has no feature columns besides the target")
    labels = {n: _label(n, i, named) for i, n in enumerate(columns, start=1)}
    if categorical is None:
        categorical = frozenset(n for n in features if is_categorical(columns[n], schema.get(n)))
    if text is None:
        text = frozenset(n for n in categorical if is_text(columns[n], schema.get(n)))
    make_target = label_column if task == "classification" else value_column
    y = make_target(labels[target], columns[target], schema.get(target))
    shown = tuple(labels[n] for n in features)
    if not categorical:
        X = np.column_stack(
            [numeric_column(labels[n], columns[n], schema.get(n)) for n in features]
        )
        return Dataset(X.reshape(len(y), len(features)), y, list(features), target, digest, shown)
    typed = {
        n: category_column(columns[n], mixed.MISSING_CATEGORY)
        if n in categorical
        else numeric_column(labels[n], columns[n], schema.get(n))
        for n in features
    }
    layout = mixed.Layout(tuple(features), categorical, text)
    return Dataset(
        mixed.frame(typed, layout), y, list(features), target, digest, shown, categorical, text
    )


def _label(name: str, position: int, named: set[str]) -> str:
    """How an error names a column: by name if the request named it, else by position (a
    header read from the file is data too, and is never repeated back)."""
    return f"column {name!r}" if name in named else f"column {position}"


def check(data: Dataset, task: Task, *, cv_folds: int, holdout_fraction: float) -> None:
    """Refuse data no model should be trained on, with a reason a person can act on."""
    if data.rows == 0:
        raise DataError("the dataset has no rows")
    all_missing = [data.label(i) for i in range(len(data.feature_names)) if data.missing(i).all()]
    if all_missing:
        raise DataError(f"feature columns with no values at all: {', '.join(all_missing)}")
    wordless = [
        data.label(i)
        for i, name in enumerate(data.feature_names)
        if name in data.text and not any(word_count(v) > 0 for v in mixed.column(data.X, i))
    ]
    if wordless:
        # TF-IDF would have nothing to weigh: say so before a model is tried.
        raise DataError(
            f"free-text columns with no word (two or more letters or digits) in any value: "
            f"{', '.join(wordless)}"
        )
    holdout_rows = int(np.ceil(data.rows * holdout_fraction))
    if data.rows - holdout_rows < 2 * cv_folds or holdout_rows < 2:
        raise DataError(
            f"the dataset has too few rows for a {holdout_fraction:.0%} holdout and "
            f"{cv_folds}-fold cross-validation"
        )
    if task == "classification":
        classes, counts = np.unique(data.y, return_counts=True)
        if len(classes) < 2:
            raise DataError("the target has a single class; need at least two")
        rare = int((counts < cv_folds + 1).sum())
        if rare:
            raise DataError(
                f"{rare} target classes have too few rows for {cv_folds}-fold CV plus a "
                f"holdout (at least {cv_folds + 1} each)"
            )
    elif np.ptp(data.y) == 0:
        raise DataError("the target is constant; there is nothing to learn")


def combined_digest(*digests: str) -> str:
    return hashlib.sha256("+".join(digests).encode()).hexdigest()
