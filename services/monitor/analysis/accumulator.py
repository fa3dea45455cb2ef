"""The open window of one model version and arm, updated batch by batch with numpy.

Rows are buffered until :data:`FOLD_VALUES` values are pending (or the window is read),
then folded into counts in one go: the pending block is transposed, every feature column
is sorted in place, and each count the window keeps (quantile bins, fine cells,
categories, out-of-range, missing) is a ``searchsorted`` of the reference boundaries into
the sorted column. Folding large blocks makes the per-fold cost of the reference cells
(thousands, with a reference sample) negligible per row; the buffer bounds a window's
memory (16 MB) and nothing else keeps rows.

Beyond the features, a window keeps two more sets of counts when its reference has them:
the reconstruction error of its rows (:mod:`~services.monitor.analysis.multivariate`,
from the same pending block) and the calibrated confidence of the model's class scores
(:mod:`~services.monitor.analysis.estimation`).

The state is a pure function of the rows added, in any order and any batching (counts
only), which is what lets the worker rebuild a window from its stored rows after a
restart instead of persisting this object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from services.monitor.analysis.estimation import EstimateCounts
from services.monitor.analysis.latency import LatencySketch
from services.monitor.analysis.multivariate import ReconstructionCounts
from services.monitor.analysis.reference import (
    CategoricalReference,
    CompiledReference,
    FeatureReference,
    NumericReference,
    counts_between,
    fine_cells,
)
from services.monitor.analysis.stats import FloatArray

FOLD_VALUES = 2**21  # pending feature values that trigger a fold (16 MB of float64)


@dataclass
class FeatureCounts:
    """What one window saw of one feature (or of the prediction)."""

    reference: FeatureReference
    counts: FloatArray  # per quantile bin (numeric) or per category (categorical)
    fine_counts: FloatArray | None = None  # per fine cell, when the reference has a sample
    below_sum: float = 0.0  # sums of the values below and above every reference value:
    above_sum: float = 0.0  # where the outer fine cells' mass sits, for Wasserstein
    missing: int = 0
    out_of_range: int = 0  # numeric: outside the reference [min, max]
    unseen: int = 0  # categorical: a category the reference never saw

    @classmethod
    def empty(cls, ref: FeatureReference) -> FeatureCounts:
        if isinstance(ref, CategoricalReference):
            return cls(ref, np.zeros(ref.values.size))
        fine = None if ref.grid is None else np.zeros(2 * ref.grid.size + 1)
        return cls(ref, np.zeros(ref.bin_counts.size), fine)

    @property
    def valid(self) -> int:
        return int(self.counts.sum()) + self.unseen

    def add_sorted(self, xs: FloatArray, missing: int) -> None:
        """Count a sorted column whose NaNs (missing values) were already cut off."""
        self.missing += missing
        n = xs.size
        ref = self.reference
        if isinstance(ref, CategoricalReference):
            hits = np.searchsorted(xs, ref.values, side="right") - np.searchsorted(
                xs, ref.values, side="left"
            )
            self.counts += hits
            self.unseen += n - int(hits.sum())
            return
        self.counts += counts_between(np.searchsorted(xs, ref.inner_edges, side="left"), n)
        below = int(np.searchsorted(xs, ref.low, side="left"))
        self.out_of_range += below + n - int(np.searchsorted(xs, ref.high, side="right"))
        if ref.grid is not None and self.fine_counts is not None:
            bounds = fine_cells(ref.grid, xs)
            self.fine_counts += counts_between(bounds, n)
            self.below_sum += float(xs[: bounds[0]].sum())
            self.above_sum += float(xs[bounds[-1] :].sum())


def _sorted_valid(column: FloatArray) -> tuple[FloatArray, int]:
    """The non-missing values of a column sorted in place, and how many were missing."""
    column.sort()  # NaNs sort last
    valid = int(np.searchsorted(column, np.inf, side="right"))
    return column[:valid], column.size - valid


@dataclass
class WindowAccumulator:
    reference: CompiledReference
    features: list[FeatureCounts] = field(default_factory=list)
    prediction: FeatureCounts | None = None
    latency: LatencySketch = field(default_factory=LatencySketch)
    rows: int = 0
    requests: int = 0
    errors: int = 0
    schema_violations: int = 0
    pending: list[FloatArray] = field(default_factory=list)
    pending_predictions: list[FloatArray] = field(default_factory=list)
    pending_values: int = 0
    reconstruction: ReconstructionCounts | None = None
    estimate: EstimateCounts | None = None
    pending_scores: list[tuple[FloatArray, list[Any]]] = field(default_factory=list)

    @classmethod
    def open(cls, reference: CompiledReference) -> WindowAccumulator:
        pred = reference.prediction
        estimator = reference.estimator
        return cls(
            reference,
            [FeatureCounts.empty(f) for f in reference.features],
            FeatureCounts.empty(pred) if pred is not None else None,
            reconstruction=ReconstructionCounts() if reference.reconstruction else None,
            estimate=estimator.empty() if estimator is not None else None,
        )

    def add_rows(self, matrix: FloatArray, predicted: FloatArray | None = None) -> None:
        """Rows of well-formed requests: ``matrix`` is rows x features, NaN = missing.

        The arrays are read at the next fold: the caller must not modify them meanwhile.
        """
        if matrix.shape[0] == 0:
            return
        if matrix.shape[1] != len(self.features):
            raise ValueError(f"{matrix.shape[1]} columns for {len(self.features)} features")
        self.rows += matrix.shape[0]
        self.pending.append(matrix)
        if self.prediction is not None and predicted is not None and predicted.size:
            self.pending_predictions.append(predicted)
        self.pending_values += matrix.size
        if self.pending_values >= FOLD_VALUES:
            self.fold()

    def add_scores(self, scores: FloatArray, predicted: list[Any]) -> None:
        """Class scores (rows x classes) and predicted labels of well-formed requests, for
        the estimate; read at the next fold like the rows."""
        if self.estimate is not None and scores.shape[0]:
            self.pending_scores.append((scores, predicted))
            self.pending_values += scores.size
            if self.pending_values >= FOLD_VALUES:
                self.fold()

    def fold(self) -> None:
        """Count the pending rows (see the module docstring)."""
        estimator = self.reference.estimator
        if self.estimate is not None and estimator is not None:
            for scores, predicted in self.pending_scores:
                estimator.add(self.estimate, scores, predicted)
        self.pending_scores = []
        if self.pending:
            block = np.concatenate(self.pending) if len(self.pending) > 1 else self.pending[0]
            model = self.reference.reconstruction
            if model is not None and self.reconstruction is not None:
                self.reconstruction.add(model.errors(block))
            columns = np.array(block.T, dtype=np.float64, order="C")  # a copy we may sort
            for counts, column in zip(self.features, columns, strict=True):
                counts.add_sorted(*_sorted_valid(column))
        if self.pending_predictions and self.prediction is not None:
            self.prediction.add_sorted(*_sorted_valid(np.concatenate(self.pending_predictions)))
        self.pending, self.pending_predictions, self.pending_values = [], [], 0

    def add_requests(self, latencies_ms: FloatArray, errors: int, schema_violations: int) -> None:
        self.requests += latencies_ms.size
        self.errors += errors
        self.schema_violations += schema_violations
        self.latency.add(latencies_ms)

    def quality(self) -> dict[str, float]:
        """Data quality, latency and error metrics of the window so far."""
        self.fold()
        metrics: dict[str, float] = {
            "rows": float(self.rows),
            "requests": float(self.requests),
            "error_rate": self.errors / self.requests if self.requests else 0.0,
            "schema_violations": float(self.schema_violations),
        }
        for q in (50, 95, 99):
            value = self.latency.quantile(q / 100)
            if value is not None:
                metrics[f"latency_p{q}_ms"] = value
        for counts in self.features:
            seen = counts.valid + counts.missing
            if not seen:
                continue
            name = counts.reference.name
            metrics[f"missing_rate.{name}"] = counts.missing / seen
            if isinstance(counts.reference, NumericReference):
                metrics[f"out_of_range.{name}"] = counts.out_of_range / seen
            else:
                metrics[f"unseen_categories.{name}"] = counts.unseen / seen
        return metrics
