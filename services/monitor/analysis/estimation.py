"""Performance before labels: confidence-based performance estimation (CBPE), as NannyML does it.

*Calibration*, once per version, on the holdout the trainer shipped in the profile
(:class:`~shared.events.reference_profile.HoldoutScores`): per class, one-vs-rest, an
isotonic regression of "the row is of this class" on the model's score for it, kept only
where it lowers the expected calibration error on held-out splits (NannyML's
``needs_calibration``: ten stratified 90/10 splits, ten equal-count bins; never when the
scores already separate the classes, ROC AUC above 0.999). Binary: the score of the
greater class is calibrated and the other class gets its complement; more classes: the
calibrated scores are normalised to sum to one.

*Estimates*, per window, from the logged class scores and predicted labels alone:

- accuracy: the mean calibrated probability of the predicted class;
- ROC AUC: rows ordered by the model's own score, each row counting its calibrated
  probability as an expected positive and the rest as an expected negative; the ROC curve
  traced by those expected counts (binary: of the greater class; more classes: macro
  one-vs-rest).

A window keeps counts, never rows, so its state is order-free and mergeable like the rest
of the accumulator: the sum of the predicted class's calibrated probability, and per class
the number of rows and the sum of calibrated probabilities in each of :data:`SCORE_BINS`
bins of the score's logit. Within a bin the expected ROC curve is taken as a straight line,
which is exact wherever the calibration is constant on the bin (isotonic steps are).

*Threshold*: the reference is the estimate on the holdout itself; an estimate is degraded
below ``reference - max(estimated_performance_drop, 3 x its sampling error at the
window's size)`` (or ``min_estimated_<metric>`` when set). The sampling error is NannyML's
for accuracy (the holdout's per-row correctness spread over the square root of the rows)
and Hanley and McNeil's for ROC AUC, at the holdout's class balance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedShuffleSplit

from services.monitor.analysis.stats import FloatArray
from services.monitor.analysis.thresholds import Thresholds
from shared.events.reference_profile import HoldoutScores, canonical_label

SCORE_BINS = 512
LOGIT_RANGE = 14.0  # bins cover logits in [-14, 14]; scores beyond fall in the outer bins
SAMPLING_ERRORS = 3.0  # the band NannyML draws around an estimate
METRICS = ("accuracy", "roc_auc")


@dataclass(frozen=True)
class Calibration:
    """A class's isotonic map (np.interp between the thresholds), or None: kept as scored."""

    x: FloatArray | None = None
    y: FloatArray | None = None

    def apply(self, scores: FloatArray) -> FloatArray:
        if self.x is None or self.y is None:
            return scores
        result: FloatArray = np.interp(scores, self.x, self.y)
        return result


def _ece(truth: FloatArray, scores: FloatArray, bins: int = 10) -> float:
    order = np.argsort(scores, kind="stable")
    parts = np.array_split(order, min(bins, max(truth.size // 2, 1)))
    return float(
        sum(p.size * abs(scores[p].mean() - truth[p].mean()) for p in parts if p.size) / truth.size
    )


def _calibration(truth: FloatArray, scores: FloatArray) -> Calibration:
    """NannyML's choice: calibrate only where it helps on held-out rows."""
    if np.unique(truth).size < 2 or roc_auc_score(truth, scores) > 0.999:
        return Calibration()
    splits = StratifiedShuffleSplit(n_splits=10, test_size=0.1, random_state=42)
    held, raw, calibrated = [], [], []
    try:
        for train, test in splits.split(scores, truth):
            fitted = IsotonicRegression(out_of_bounds="clip").fit(scores[train], truth[train])
            held.append(truth[test])
            raw.append(scores[test])
            calibrated.append(fitted.predict(scores[test]))
    except ValueError:  # too few rows of a class to split: leave the scores as they are
        return Calibration()
    t, r, c = np.concatenate(held), np.concatenate(raw), np.concatenate(calibrated)
    if not _ece(t, c) < _ece(t, r):
        return Calibration()
    fitted = IsotonicRegression(out_of_bounds="clip").fit(scores, truth)
    return Calibration(
        np.asarray(fitted.X_thresholds_, np.float64), np.asarray(fitted.y_thresholds_, np.float64)
    )


def score_bins(scores: FloatArray) -> NDArray[np.intp]:
    clipped = np.clip(scores, 1e-12, 1 - 1e-12)
    logits = np.log(clipped) - np.log1p(-clipped)
    scaled = (logits + LOGIT_RANGE) / (2 * LOGIT_RANGE) * SCORE_BINS
    return np.clip(scaled.astype(np.intp), 0, SCORE_BINS - 1)


@dataclass
class EstimateCounts:
    """What one window saw of the model's confidence (see the module docstring)."""

    rows: int = 0  # rows with usable scores and a predicted label among the classes
    unusable: int = 0  # rows whose scores or label do not fit the holdout's classes
    confidence_sum: float = 0.0
    bin_rows: FloatArray = field(default_factory=lambda: np.zeros((0, SCORE_BINS)))
    bin_expected: FloatArray = field(default_factory=lambda: np.zeros((0, SCORE_BINS)))


@dataclass(frozen=True)
class Estimator:
    classes: list[str]
    calibrations: list[Calibration]  # binary: one, of the greater class
    reference: dict[str, float]  # the estimate on the holdout, per metric
    accuracy_spread: float  # std of per-row correctness on the holdout
    positive_share: float  # binary: share of the greater class in the holdout
    holdout_rows: int

    @property
    def binary(self) -> bool:
        return len(self.classes) == 2

    @property
    def curves(self) -> int:
        """How many ROC curves a window traces: one for binary, one per class otherwise."""
        return 1 if self.binary else len(self.classes)

    def calibrated(self, scores: FloatArray) -> FloatArray:
        """Calibrated class probabilities (rows x classes) of raw scores (rows x classes)."""
        if self.binary:
            positive = self.calibrations[0].apply(scores[:, 1])
            return np.column_stack([1 - positive, positive])
        columns = np.column_stack([c.apply(scores[:, i]) for i, c in enumerate(self.calibrations)])
        total = columns.sum(axis=1, keepdims=True)
        uniform = np.full_like(columns, 1 / len(self.classes))
        result: FloatArray = np.divide(columns, total, out=uniform, where=total > 0)
        return result

    def empty(self) -> EstimateCounts:
        return EstimateCounts(
            bin_rows=np.zeros((self.curves, SCORE_BINS)),
            bin_expected=np.zeros((self.curves, SCORE_BINS)),
        )

    def add(self, counts: EstimateCounts, scores: FloatArray, predicted: list[Any]) -> None:
        """Count rows of class scores (rows x classes) and their predicted labels."""
        index = {label: i for i, label in enumerate(self.classes)}
        codes = np.array([index.get(canonical_label(v), -1) for v in predicted], np.intp)
        usable = (codes >= 0) & np.isfinite(scores).all(axis=1)
        counts.unusable += int(codes.size - usable.sum())
        if not usable.any():
            return
        raw, codes = np.clip(scores[usable], 0.0, 1.0), codes[usable]
        probability = self.calibrated(raw)
        counts.rows += int(codes.size)
        counts.confidence_sum += float(probability[np.arange(codes.size), codes].sum())
        for curve in range(self.curves):
            column = 1 if self.binary else curve
            bins = score_bins(raw[:, column])
            counts.bin_rows[curve] += np.bincount(bins, minlength=SCORE_BINS)
            counts.bin_expected[curve] += np.bincount(
                bins, weights=probability[:, column], minlength=SCORE_BINS
            )

    def estimates(self, counts: EstimateCounts) -> dict[str, float]:
        """Estimated metrics of a window (a metric it cannot define is left out)."""
        if counts.rows == 0:
            return {}
        out = {"accuracy": counts.confidence_sum / counts.rows}
        aucs = [
            _expected_auc(counts.bin_rows[c], counts.bin_expected[c]) for c in range(self.curves)
        ]
        defined = [a for a in aucs if a is not None]
        if defined and len(defined) == len(aucs):
            out["roc_auc"] = float(np.mean(defined))
        return out

    def sampling_error(self, metric: str, rows: int) -> float:
        if metric == "accuracy":
            return self.accuracy_spread / math.sqrt(rows)
        auc = self.reference.get("roc_auc", 0.5)
        positives = max(rows * self.positive_share, 1.0)
        negatives = max(rows - positives, 1.0)
        q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
        variance = (
            auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)
        ) / (positives * negatives)
        return math.sqrt(max(variance, 0.0))


def _expected_auc(rows: FloatArray, expected: FloatArray) -> float | None:
    """Area under the ROC curve traced by expected counts, highest scores first."""
    positives = np.concatenate([[0.0], np.cumsum(expected[::-1])])
    negatives = np.concatenate([[0.0], np.cumsum((rows - expected)[::-1])])
    if not (positives[-1] > 0 and negatives[-1] > 0):
        return None
    tpr, fpr = positives / positives[-1], negatives / negatives[-1]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def compile_estimator(holdout: HoldoutScores) -> Estimator:
    """Calibrate on the holdout and estimate it, for the reference values and thresholds."""
    classes = list(holdout.classes)
    scores = np.asarray(holdout.scores, np.float64)
    index = {label: i for i, label in enumerate(classes)}
    actual = np.array([index[v] for v in holdout.actual], np.intp)
    predicted = np.array([index[v] for v in holdout.predicted], np.intp)
    if len(classes) == 2:
        calibrations = [_calibration((actual == 1).astype(np.float64), scores[:, 1])]
    else:
        calibrations = [
            _calibration((actual == i).astype(np.float64), scores[:, i])
            for i in range(len(classes))
        ]
    correct = (actual == predicted).astype(np.float64)
    draft = Estimator(
        classes,
        calibrations,
        {},
        float(correct.std()),
        float((actual == 1).mean()) if len(classes) == 2 else 0.5,
        int(actual.size),
    )
    counts = draft.empty()
    draft.add(counts, scores, [classes[i] for i in predicted])
    return Estimator(
        classes,
        calibrations,
        draft.estimates(counts),
        draft.accuracy_spread,
        draft.positive_share,
        draft.holdout_rows,
    )


@dataclass(frozen=True)
class Estimate:
    metric: str
    value: float
    reference: float
    threshold: float
    sampling_error: float

    @property
    def degraded(self) -> bool:
        return self.value < self.threshold


@dataclass(frozen=True)
class EstimateReport:
    rows: int
    estimates: list[Estimate]

    @property
    def degraded(self) -> list[Estimate]:
        return [e for e in self.estimates if e.degraded]

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {"estimated_rows": float(self.rows)}
        for e in self.estimates:
            name = f"estimated_{e.metric}"
            out[name] = e.value
            out[f"{name}_reference"] = e.reference
            out[f"{name}_threshold"] = e.threshold
            out[f"{name}_sampling_error"] = e.sampling_error
        return out


def judge(estimator: Estimator, counts: EstimateCounts, t: Thresholds) -> EstimateReport | None:
    """The window's estimates against their thresholds; None below ``min_rows`` scored rows."""
    if counts.rows < t.min_rows:
        return None
    found = []
    for metric, value in estimator.estimates(counts).items():
        reference = estimator.reference.get(metric)
        if reference is None:
            continue
        error = estimator.sampling_error(metric, counts.rows)
        floor = getattr(t, f"min_estimated_{metric}")
        bound = (
            float(floor)
            if floor is not None
            else reference - max(t.estimated_performance_drop, SAMPLING_ERRORS * error)
        )
        found.append(Estimate(metric, value, reference, bound, error))
    return EstimateReport(counts.rows, found)
