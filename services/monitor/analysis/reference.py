"""The reference compiled into the numpy form the windows count against.

Compiled once per version from what the monitor stored at registration (the parsed
profile and, when the trainer provided one, the reference sample); windows never re-read
the artifact. Each numeric feature has two cell layouts:

- the profile's quantile bins (PSI, Jensen-Shannon; numpy.histogram semantics, the outer
  bins open-ended so that out-of-range values land in the first or last bin);
- with a reference sample, a fine layout separating every distinct reference value:
  ``2K+1`` cells (below the first value, at it, between it and the next, ...). KS on
  these counts is exactly ``ks_2samp`` on the samples; Wasserstein is exact for the
  reference and places the current mass between two reference values midway (beyond
  the extreme values: at the mean of what lies beyond), an error of at most half the gap
  between neighbouring reference values.
  Without a sample, KS and Wasserstein fall back to the quantile bins.

Two detectors beyond the features come with it when the profile allows: the principal
components of the reference sample (:mod:`~services.monitor.analysis.multivariate`) and,
for a classifier whose profile carries its holdout scores, the calibration that estimates
performance before labels (:mod:`~services.monitor.analysis.estimation`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from services.monitor.analysis.estimation import Estimator, compile_estimator
from services.monitor.analysis.stats import FloatArray
from shared.errors import InvalidInput
from shared.events.reference_profile import (
    CategoricalColumn,
    ColumnProfile,
    NumericColumn,
    ReferenceProfile,
    canonical_label,
)

if TYPE_CHECKING:
    from services.monitor.analysis.multivariate import ReconstructionModel

UNSEEN_CODE = np.inf  # code of a value that is no category at all


def category_code(value: Any) -> float:
    """The float a category is counted as, the same at ingestion and in the reference:
    a number is itself (``"1"`` and ``1`` are one category, as :func:`canonical_label`
    spells them), a text label 48 bits of its SHA-256, so text inputs can be stored as
    float rows like every other feature; the empty string is a missing value (NaN), as
    the trainer reads an empty cell. Distinct labels of one column that collide are
    refused when the reference is compiled."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if value == "":
        return math.nan
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()
            return float(int.from_bytes(digest[:6], "big"))
        return number if math.isfinite(number) else UNSEEN_CODE
    return _as_float(value)


@dataclass(frozen=True)
class NumericReference:
    name: str
    inner_edges: FloatArray
    bin_counts: FloatArray
    bin_positions: FloatArray  # bin midpoints, for Wasserstein on the bins
    low: float
    high: float
    scale: float  # reference standard deviation: Wasserstein is reported in these units
    grid: FloatArray | None = None  # distinct reference sample values, ascending
    grid_counts: FloatArray | None = None  # reference counts in the 2K+1 fine cells

    @property
    def exact(self) -> bool:
        return self.grid is not None

    @property
    def empty(self) -> bool:
        return not self.bin_counts.sum() > 0

    def encode(self, raw: Sequence[Any]) -> FloatArray:
        return np.array([_as_float(v) for v in raw], dtype=np.float64)


@dataclass(frozen=True)
class CategoricalReference:
    name: str
    values: FloatArray  # category codes (category_code), ascending
    labels: list[str]  # category names, in the order of ``values``
    counts: FloatArray
    numeric: bool  # every category is a number

    @property
    def empty(self) -> bool:
        return not self.counts.sum() > 0

    def encode(self, raw: Sequence[Any]) -> FloatArray:
        """Codes of raw values (labels a model output, say); a label the reference never
        saw gets a code none of its categories has."""
        if self.numeric:
            return np.array([_as_float(v) for v in raw], dtype=np.float64)
        return np.array(
            [UNSEEN_CODE if v is None else category_code(canonical_label(v)) for v in raw],
            np.float64,
        )


FeatureReference = NumericReference | CategoricalReference


@dataclass(frozen=True)
class CompiledReference:
    features: list[FeatureReference]
    prediction: FeatureReference | None
    reconstruction: ReconstructionModel | None = None
    estimator: Estimator | None = None
    words: tuple[int, ...] = ()  # the columns of free text, measured by their word counts

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]


def _is_number(label: str) -> bool:
    try:
        float(label)
    except ValueError:
        return False
    return True


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return UNSEEN_CODE if value is not None else math.nan


def fine_cells(grid: FloatArray, sorted_values: FloatArray) -> NDArray[np.intp]:
    """Cell boundaries of sorted values in the 2K+1 layout of ``grid``: below g0, at g0, ..."""
    left = np.searchsorted(sorted_values, grid, side="left")
    right = np.searchsorted(sorted_values, grid, side="right")
    return np.stack([left, right], axis=1).ravel()


def counts_between(boundaries: Any, n: int) -> FloatArray:
    return np.diff(np.concatenate([[0], boundaries, [n]])).astype(np.float64)


def _numeric(profile: NumericColumn, sample: FloatArray | None) -> NumericReference:
    if profile.count == 0:  # never present in the reference: only its missing rate is watched
        edges, counts, low, high = np.zeros(2), np.zeros(1), -math.inf, math.inf
    else:
        assert profile.min is not None and profile.max is not None  # the contract's rule
        edges = np.asarray(profile.bin_edges, np.float64)
        counts = np.asarray(profile.bin_counts, np.float64)
        low, high = profile.min, profile.max
    grid = grid_counts = None
    values = np.sort(sample[~np.isnan(sample)]) if sample is not None else np.empty(0)
    if values.size:
        grid = np.unique(values)
        grid_counts = counts_between(fine_cells(grid, values), values.size)
    scale = profile.std or 0.0
    if not scale > 0:  # a constant feature: any shift is measured in its own units
        scale = 1.0
    return NumericReference(
        name=profile.name,
        inner_edges=edges[1:-1],
        bin_counts=counts,
        bin_positions=(edges[:-1] + edges[1:]) / 2,
        low=low,
        high=high,
        scale=scale,
        grid=grid,
        grid_counts=grid_counts,
    )


def _categorical(profile: CategoricalColumn) -> CategoricalReference:
    labels = list(profile.categories)  # as the profile spells them (canonical_label)
    codes = [category_code(k) for k in labels]
    if any(math.isnan(c) for c in codes):
        raise InvalidInput(f"reference profile: {profile.name!r} has an empty category label")
    numeric = all(_is_number(k) for k in labels)
    order = np.argsort(codes, kind="stable")
    values = np.asarray(codes, np.float64)[order]
    if np.unique(values).size != values.size:
        raise InvalidInput(f"reference profile: categories of {profile.name!r} collide")
    counts = np.asarray(list(profile.categories.values()), np.float64)[order]
    return CategoricalReference(profile.name, values, [labels[i] for i in order], counts, numeric)


def compile_feature(profile: ColumnProfile, sample: FloatArray | None = None) -> FeatureReference:
    if isinstance(profile, CategoricalColumn):
        return _categorical(profile)
    return _numeric(profile, sample)


def compile_reference(profile: ReferenceProfile, sample: FloatArray | None) -> CompiledReference:
    if sample is not None and sample.shape[1] != len(profile.features):
        raise InvalidInput(
            f"reference sample has {sample.shape[1]} columns, the profile "
            f"{len(profile.features)} features"
        )
    features = [
        compile_feature(f, sample[:, i] if sample is not None else None)
        for i, f in enumerate(profile.features)
    ]
    prediction = compile_feature(profile.prediction) if profile.prediction else None
    # Imported here: the components build on this module's feature references.
    from services.monitor.analysis.multivariate import fit_reconstruction

    return CompiledReference(
        features,
        prediction,
        fit_reconstruction(sample, features) if sample is not None else None,
        compile_estimator(profile.holdout) if profile.holdout is not None else None,
        tuple(i for i, f in enumerate(profile.features) if f.measure == "words"),
    )
