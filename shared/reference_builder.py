"""Building a reference profile (:mod:`shared.events.reference_profile`) from arrays.

The one writer of that format, for the trainer and for tests and benchmarks. Its choices:
a column with at most :data:`MAX_CATEGORIES` distinct values is categorical (a constant
column is one category), any other is numeric with :data:`BINS` quantile bins (decile
edges, duplicates removed); class labels (a classification target and its predictions)
are always categorical. NaN is a missing value. A text column (an object array of
strings, ``None`` or the empty string where missing) is categorical however many
categories it has. A classifier's holdout scores
(:func:`holdout_scores`) are a uniform sample of at most ``HOLDOUT_ROWS`` rows (fewer for
many classes, within ``HOLDOUT_CELLS``), scores rounded to 1e-6 (an ONNX model's float32
scores carry no more).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from shared.events.common import Task
from shared.events.reference_profile import (
    FORMAT,
    HOLDOUT_CELLS,
    HOLDOUT_ROWS,
    CategoricalColumn,
    ColumnProfile,
    HoldoutScores,
    NumericColumn,
    ReferenceProfile,
    TargetProfile,
    canonical_label,
)

BINS = 10
MAX_CATEGORIES = 10


def _categories(values: NDArray[np.generic]) -> dict[str, int]:
    distinct, counts = np.unique(values, return_counts=True)
    return {
        canonical_label(v): int(n) for v, n in zip(distinct.tolist(), counts.tolist(), strict=True)
    }


def describe_column(name: str, values: NDArray[np.float64]) -> ColumnProfile:
    """The entry of one numeric-coded column (NaN = missing)."""
    present = values[~np.isnan(values)]
    count = int(present.size)
    missing = float(1 - present.size / values.size) if values.size else 0.0
    if count == 0:
        return NumericColumn(name=name, count=0, missing_rate=missing)
    if np.unique(present).size <= MAX_CATEGORIES:
        return CategoricalColumn(
            name=name, count=count, missing_rate=missing, categories=_categories(present)
        )
    edges = np.unique(np.quantile(present, np.linspace(0, 1, BINS + 1)))
    counts, _ = np.histogram(present, bins=edges)
    return NumericColumn(
        name=name,
        count=count,
        missing_rate=missing,
        min=float(present.min()),
        max=float(present.max()),
        mean=float(present.mean()),
        std=float(present.std()),
        bin_edges=tuple(float(e) for e in edges),
        bin_counts=tuple(int(c) for c in counts),
    )


def _missing_text(value: object) -> bool:
    return value is None or value == "" or (isinstance(value, float) and value != value)


def describe_values(name: str, values: NDArray[Any]) -> ColumnProfile:
    """The entry of one column of any kind: numbers as :func:`describe_column`, text as
    category counts."""
    if values.dtype.kind not in "OUS":
        return describe_column(name, np.asarray(values, np.float64))
    present = [v for v in values.tolist() if not _missing_text(v)]
    if not any(isinstance(v, str) for v in present):
        numbers = [np.nan if _missing_text(v) else v for v in values.tolist()]
        return describe_column(name, np.asarray(numbers, np.float64))
    missing = float(1 - len(present) / values.size) if values.size else 0.0
    if not present:
        return NumericColumn(name=name, count=0, missing_rate=missing)
    return CategoricalColumn(
        name=name,
        count=len(present),
        missing_rate=missing,
        categories=_categories(np.asarray([str(v) for v in present], dtype=object)),
    )


def _words(entry: ColumnProfile) -> ColumnProfile:
    """The entry of a column of word counts, marked so."""
    return entry.model_copy(update={"measure": "words"})


def describe_labels(name: str, labels: ArrayLike) -> ColumnProfile:
    """A categorical entry for class labels, of any type (none missing)."""
    values = np.asarray(labels)
    return CategoricalColumn(
        name=name, count=int(values.size), missing_rate=0.0, categories=_categories(values)
    )


def holdout_scores(
    scores: ArrayLike,
    predicted: ArrayLike,
    actual: ArrayLike,
    classes: ArrayLike,
    *,
    rows: int = HOLDOUT_ROWS,
    seed: int = 0,
) -> HoldoutScores:
    """A classifier's holdout outputs (``scores``: rows x classes, columns in ``classes``
    order) with the true labels, sampled uniformly by ``seed`` down to the contract's bound."""
    matrix = np.clip(np.asarray(scores, np.float64), 0.0, 1.0)
    labels = [canonical_label(c) for c in np.asarray(classes).tolist()]
    limit = max(1, min(rows, HOLDOUT_CELLS // max(len(labels), 1)))
    chosen = np.arange(matrix.shape[0])
    if chosen.size > limit:
        chosen = np.sort(np.random.default_rng(seed).choice(chosen, limit, replace=False))
    pred = np.asarray(predicted).tolist()
    true = np.asarray(actual).tolist()
    return HoldoutScores(
        classes=tuple(labels),
        scores=tuple(tuple(round(float(v), 6) for v in matrix[i]) for i in chosen),
        predicted=tuple(canonical_label(pred[i]) for i in chosen),
        actual=tuple(canonical_label(true[i]) for i in chosen),
    )


def build_reference_profile(
    features: NDArray[Any],
    feature_names: Sequence[str],
    *,
    task: Task,
    predictions: ArrayLike | None = None,
    target_name: str | None = None,
    target: ArrayLike | None = None,
    holdout: HoldoutScores | None = None,
    words: Collection[str] = (),
) -> ReferenceProfile:
    """The profile of ``features`` (rows x columns, in input order; an object array may mix
    text and numeric columns); the columns named in ``words`` hold the word counts of free
    text and are marked so; ``predictions`` should
    come from rows the model was not fit on (on its own training rows a model is
    overconfident, unlike on live traffic)."""

    def numeric(name: str, values: ArrayLike) -> ColumnProfile:
        return describe_column(name, np.asarray(values, np.float64))

    describe: Callable[[str, ArrayLike], ColumnProfile] = (
        describe_labels if task == "classification" else numeric
    )
    entries = (describe_values(n, features[:, j]) for j, n in enumerate(feature_names))
    return ReferenceProfile(
        format=FORMAT,
        task=task,
        rows=int(features.shape[0]),
        features=tuple(_words(e) if e.name in words else e for e in entries),
        target=None
        if target_name is None
        else TargetProfile(
            name=target_name,
            distribution=describe(target_name, target) if target is not None else None,
        ),
        prediction=describe("prediction", predictions) if predictions is not None else None,
        holdout=holdout,
    )
