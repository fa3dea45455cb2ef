"""Multivariate drift: how well the reference's principal components still describe the rows.

NannyML's data reconstruction drift, fitted once per version on the reference sample:
missing values imputed (numeric: the sample's mean; categorical: its most frequent code),
categorical codes replaced by their frequency in the profile (an unseen code by 0), every
column standardised, then PCA with the fewest components that explain
:data:`EXPLAINED_VARIANCE` of the variance. A row's *reconstruction error* is the distance
between the standardised row and its projection onto those components. A change in how
features move together (a correlation that flips while every marginal stays the same)
moves rows off the reference's components, which no per-feature test can see.

The threshold comes from the reference: the errors of reference rows the components were
not fitted on (five folds, each scored by the components of the other four) give the mean
``mu`` and spread ``sigma`` of the error of an unchanged row. A window of ``n`` rows with
mean error ``m`` drifts when ``z = (m - mu) / (sigma * sqrt(1/n + 1/N))`` rejects at the
window's Bonferroni level (one more test in the family of the per-feature tests) and
``m`` exceeds ``mu`` by at least ``multivariate_increase`` of it: like the per-feature
rule, a significant but negligible change does not page anyone.

A window keeps the number of rows scored and the sum of their errors: order-free counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats as sps

from services.monitor.analysis.reference import (
    CategoricalReference,
    FeatureReference,
    NumericReference,
)
from services.monitor.analysis.stats import FloatArray
from services.monitor.analysis.thresholds import Thresholds

EXPLAINED_VARIANCE = 0.65  # NannyML's default n_components
FOLDS = 5
MIN_SAMPLE_ROWS = 50
MAX_COLUMNS = 512  # beyond, fitting (an SVD of the sample, five times) costs too much


@dataclass(frozen=True)
class Encoding:
    """Columns the components use, and how a raw row becomes a standardised one."""

    columns: NDArray[np.intp]  # positions in the input row
    fill: FloatArray  # the raw value a missing one takes
    categories: list[tuple[FloatArray, FloatArray] | None]  # (codes, frequencies) or numeric
    center: FloatArray
    scale: FloatArray

    def encoded(self, rows: FloatArray) -> FloatArray:
        block = np.array(rows[:, self.columns], dtype=np.float64)
        missing = np.isnan(block)
        if missing.any():
            block[missing] = np.broadcast_to(self.fill, block.shape)[missing]
        for j, frequencies in enumerate(self.categories):
            if frequencies is not None:
                codes, shares = frequencies
                at = np.clip(np.searchsorted(codes, block[:, j]), 0, codes.size - 1)
                block[:, j] = np.where(codes[at] == block[:, j], shares[at], 0.0)
        return block

    def standardised(self, rows: FloatArray) -> FloatArray:
        result: FloatArray = (self.encoded(rows) - self.center) / self.scale
        return result


@dataclass(frozen=True)
class ReconstructionModel:
    encoding: Encoding
    components: FloatArray  # k x d, orthonormal rows
    reference_mean: float  # of held-out reference rows' errors
    reference_std: float
    reference_n: int

    @property
    def dimensions(self) -> tuple[int, int]:
        return int(self.components.shape[0]), int(self.components.shape[1])

    def errors(self, rows: FloatArray) -> FloatArray:
        return _errors(self.encoding.standardised(rows), self.components)


def _errors(standardised: FloatArray, components: FloatArray) -> FloatArray:
    residual = standardised - (standardised @ components.T) @ components
    result: FloatArray = np.linalg.norm(residual, axis=1)
    return result


def _components(standardised: FloatArray) -> FloatArray:
    centred = standardised - standardised.mean(axis=0)
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    variance = singular**2
    ratio = np.cumsum(variance) / variance.sum()
    k = int(np.searchsorted(ratio, EXPLAINED_VARIANCE, side="right")) + 1
    k = min(k, standardised.shape[1] - 1)  # leave a residual to measure
    result: FloatArray = vt[:k]
    return result


def _encoding(sample: FloatArray, features: list[FeatureReference]) -> Encoding | None:
    columns: list[int] = []
    fill: list[float] = []
    categories: list[tuple[FloatArray, FloatArray] | None] = []
    for i, ref in enumerate(features):
        values = sample[:, i][~np.isnan(sample[:, i])]
        if values.size < MIN_SAMPLE_ROWS or np.unique(values).size < 2 or ref.empty:
            continue  # a column the sample cannot describe, or a constant: nothing to project
        if isinstance(ref, CategoricalReference):
            if not ref.numeric:
                continue  # live rows carry codes the sample cannot spell
            distinct, counts = np.unique(values, return_counts=True)
            shares = ref.counts / ref.counts.sum()
            categories.append((ref.values, shares))
            fill.append(float(distinct[np.argmax(counts)]))
        elif isinstance(ref, NumericReference):
            categories.append(None)
            fill.append(float(values.mean()))
        columns.append(i)
    if not 2 <= len(columns) <= MAX_COLUMNS:
        return None
    draft = Encoding(
        np.asarray(columns, np.intp), np.asarray(fill), categories, np.zeros(0), np.ones(0)
    )
    encoded = draft.encoded(sample)
    scale = encoded.std(axis=0)
    keep = scale > 0
    if keep.sum() < 2:
        return None
    return Encoding(
        draft.columns[keep],
        draft.fill[keep],
        [c for c, k in zip(categories, keep, strict=True) if k],
        encoded[:, keep].mean(axis=0),
        scale[keep],
    )


def fit_reconstruction(
    sample: FloatArray, features: list[FeatureReference]
) -> ReconstructionModel | None:
    """The components and the reference's error, or None when the sample cannot carry them."""
    if sample.shape[0] < max(MIN_SAMPLE_ROWS, FOLDS * 2) or sample.shape[1] < 2:
        return None
    encoding = _encoding(sample, features)
    if encoding is None:
        return None
    standardised = encoding.standardised(sample)
    folds = np.arange(standardised.shape[0]) % FOLDS
    held = np.concatenate(
        [
            _errors(standardised[folds == f], _components(standardised[folds != f]))
            for f in range(FOLDS)
        ]
    )
    return ReconstructionModel(
        encoding,
        _components(standardised),
        float(held.mean()),
        float(held.std(ddof=1)),
        int(held.size),
    )


@dataclass
class ReconstructionCounts:
    rows: int = 0
    error_sum: float = 0.0

    def add(self, errors: FloatArray) -> None:
        self.rows += int(errors.size)
        self.error_sum += float(errors.sum())


@dataclass(frozen=True)
class MultivariateResult:
    statistic: float  # the window's mean reconstruction error
    reference: float
    threshold: float  # the mean error above which the window drifts
    p_value: float
    drifted: bool
    components: int
    columns: int
    reference_n: int
    current_n: int


def judge(
    model: ReconstructionModel, counts: ReconstructionCounts, t: Thresholds, alpha: float
) -> MultivariateResult:
    """The window's mean error against the reference's, at Bonferroni level ``alpha``."""
    n = counts.rows
    mean = counts.error_sum / n
    spread = model.reference_std * math.sqrt(1 / n + 1 / model.reference_n)
    if spread > 0:
        p = float(sps.norm.sf((mean - model.reference_mean) / spread))
        significant_above = model.reference_mean + float(sps.norm.isf(alpha)) * spread
    else:
        p = 0.0 if mean > model.reference_mean else 1.0
        significant_above = model.reference_mean
    material = model.reference_mean * (1 + t.multivariate_increase)
    k, d = model.dimensions
    return MultivariateResult(
        statistic=mean,
        reference=model.reference_mean,
        threshold=max(significant_above, material),
        p_value=p,
        drifted=p < alpha and mean >= material,
        components=k,
        columns=d,
        reference_n=model.reference_n,
        current_n=n,
    )
