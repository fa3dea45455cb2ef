"""Drift of one closed window against its reference, and the decision to call it drift.

Every feature gets every statistic its kind allows (numeric: PSI, KS, Jensen-Shannon,
Wasserstein; categorical: PSI, chi-square, Jensen-Shannon). A feature *drifts* when

1. its hypothesis test (KS, or chi-square) rejects at ``significance / m``, ``m`` being
   the number of tests in the window (features plus the prediction). Bonferroni keeps the
   chance of one or more false alarms in a window of undrifted data at most
   ``significance``, whatever the dependence between features; and
2. the shift is large enough to matter: PSI, Jensen-Shannon or Wasserstein (in reference
   standard deviations) reaches its threshold. Large windows make tiny, harmless shifts
   statistically significant; this keeps them from paging anyone.

With a reference sample, the window's rows are also judged together, by their PCA
reconstruction error (:mod:`~services.monitor.analysis.multivariate`): one more test in the
same Bonferroni family, and drift of its own (``multivariate``) that no feature need share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.monitor.analysis import multivariate, stats
from services.monitor.analysis.accumulator import FeatureCounts, WindowAccumulator
from services.monitor.analysis.multivariate import MultivariateResult
from services.monitor.analysis.reference import CategoricalReference, NumericReference
from services.monitor.analysis.stats import FloatArray
from services.monitor.analysis.thresholds import Thresholds
from shared.events.monitoring import FeatureDrift, MultivariateDrift

TOP_FEATURES = 10


@dataclass(frozen=True)
class FeatureResult:
    name: str
    entries: list[FeatureDrift]  # one per statistic
    drifted: bool
    psi: float

    @property
    def test(self) -> FeatureDrift:
        return next(e for e in self.entries if e.method in ("ks", "chi2"))


@dataclass(frozen=True)
class DriftReport:
    features: list[FeatureResult]
    prediction: FeatureResult | None
    multivariate: MultivariateResult | None = None

    @property
    def drifted(self) -> bool:
        return (
            any(f.drifted for f in self.features)
            or bool(self.prediction and self.prediction.drifted)
            or bool(self.multivariate and self.multivariate.drifted)
        )

    def multivariate_drift(self) -> MultivariateDrift | None:
        m = self.multivariate
        if m is None:
            return None
        return MultivariateDrift(
            statistic=m.statistic,
            reference=m.reference,
            threshold=m.threshold,
            p_value=m.p_value,
            drifted=m.drifted,
            components=m.components,
            columns=m.columns,
            reference_n=m.reference_n,
            current_n=m.current_n,
        )

    @property
    def top_features(self) -> list[str]:
        ranked = sorted((f for f in self.features if f.drifted), key=lambda f: -f.psi)
        return [f.name for f in ranked[:TOP_FEATURES]]

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {"drifted_features": float(sum(f.drifted for f in self.features))}
        for result in [*self.features, *([self.prediction] if self.prediction else [])]:
            for e in result.entries:
                out[f"{e.method}.{result.name}"] = e.statistic
                if e.p_value is not None:
                    out[f"{e.method}_p.{result.name}"] = e.p_value
        if (m := self.multivariate) is not None:
            out["reconstruction_error"] = m.statistic
            out["reconstruction_error_reference"] = m.reference
            out["reconstruction_error_threshold"] = m.threshold
            out["reconstruction_error_p"] = m.p_value
            out["multivariate_drifted"] = float(m.drifted)
        return out


def _entry(
    name: str,
    method: str,
    value: float,
    threshold: float,
    ref_n: int,
    cur_n: int,
    *,
    p: float | None = None,
) -> FeatureDrift:
    drifted = p < threshold if p is not None else value >= threshold
    return FeatureDrift(
        feature=name,
        method=method,
        statistic=value,
        threshold=threshold,
        p_value=p,
        drifted=drifted,
        reference_n=ref_n,
        current_n=cur_n,
    )


def _fine_positions(c: FeatureCounts, grid: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Where the current mass of each fine cell sits: on a reference value, midway between
    two of them, or (outer cells) at the mean of the values beyond the reference."""
    assert c.fine_counts is not None
    counts = c.fine_counts
    positions = np.empty(counts.size)
    positions[1::2] = grid
    positions[2:-1:2] = (grid[:-1] + grid[1:]) / 2
    positions[0] = c.below_sum / counts[0] if counts[0] else grid[0]
    positions[-1] = c.above_sum / counts[-1] if counts[-1] else grid[-1]
    filled = counts > 0
    return positions[filled], counts[filled]


def _ks_cells(c: FeatureCounts, ref: NumericReference) -> tuple[FloatArray, FloatArray]:
    """The cells KS and Wasserstein compare: the reference sample's fine grid when there is
    one, else the quantile bins."""
    if ref.grid is not None and ref.grid_counts is not None and c.fine_counts is not None:
        return ref.grid_counts, c.fine_counts
    return ref.bin_counts, c.counts


def _ks_tests(counts: list[FeatureCounts]) -> dict[int, tuple[float, float]]:
    """KS statistic and p-value of each numeric feature among ``counts`` (by ``id``), the
    p-values computed in one call."""
    numeric = [c for c in counts if isinstance(c.reference, NumericReference)]
    tests = [stats.ks_statistic_from_cells(*_ks_cells(c, c.reference)) for c in numeric]  # type: ignore[arg-type]
    if not tests:
        return {}
    d, n_ref, n_cur = (np.array(column) for column in zip(*tests, strict=True))
    p = stats.ks_pvalues(d, n_ref, n_cur)
    return {id(c): (float(d[i]), float(p[i])) for i, c in enumerate(numeric)}


def _numeric(
    c: FeatureCounts, ref: NumericReference, t: Thresholds, alpha: float, ks: tuple[float, float]
) -> list[FeatureDrift]:
    n, name = int(c.counts.sum()), ref.name
    bins_n = int(ref.bin_counts.sum())
    d, p = ks
    ref_cells, _ = _ks_cells(c, ref)
    ks_n = int(ref_cells.sum())
    if ref_cells is ref.grid_counts:
        assert ref.grid is not None
        w = stats.wasserstein_weighted(
            ref.grid, ref.grid_counts[1::2], *_fine_positions(c, ref.grid)
        )
    else:
        w = stats.wasserstein_weighted(
            ref.bin_positions, ref.bin_counts, ref.bin_positions, c.counts
        )
    return [
        _entry(name, "psi", stats.psi(ref.bin_counts, c.counts), t.psi, bins_n, n),
        _entry(name, "ks", d, alpha, ks_n, n, p=p),
        _entry(
            name,
            "jensen_shannon",
            stats.jensen_shannon(ref.bin_counts, c.counts),
            t.jensen_shannon,
            bins_n,
            n,
        ),
        _entry(name, "wasserstein", w / ref.scale, t.wasserstein, ks_n, n),
    ]


def _categorical(
    c: FeatureCounts, ref: CategoricalReference, t: Thresholds, alpha: float
) -> list[FeatureDrift]:
    # Unseen categories are one more cell the reference never filled.
    r = np.append(ref.counts, 0.0)
    k = np.append(c.counts, float(c.unseen))
    ref_n, n = int(r.sum()), int(k.sum())
    statistic, p = stats.chi2_homogeneity(r, k)
    return [
        _entry(ref.name, "psi", stats.psi(r, k), t.psi, ref_n, n),
        _entry(ref.name, "chi2", statistic, alpha, ref_n, n, p=p),
        _entry(ref.name, "jensen_shannon", stats.jensen_shannon(r, k), t.jensen_shannon, ref_n, n),
    ]


def _judge(
    c: FeatureCounts, t: Thresholds, alpha: float, ks: dict[int, tuple[float, float]]
) -> FeatureResult:
    ref = c.reference
    if isinstance(ref, CategoricalReference):
        entries = _categorical(c, ref, t, alpha)
    else:
        entries = _numeric(c, ref, t, alpha, ks[id(c)])
    test = next(e for e in entries if e.method in ("ks", "chi2"))
    shift = any(e.drifted for e in entries if e is not test)
    psi_value = next(e.statistic for e in entries if e.method == "psi")
    return FeatureResult(ref.name, entries, test.drifted and shift, psi_value)


def evaluate(window: WindowAccumulator, t: Thresholds) -> DriftReport | None:
    """The drift report of a window, or None if it is too small to test."""
    window.fold()

    def testable(c: FeatureCounts | None) -> bool:
        return c is not None and c.valid >= t.min_rows and not c.reference.empty

    candidates = [c for c in window.features if testable(c)]
    pred = window.prediction if testable(window.prediction) else None
    model, counts = window.reference.reconstruction, window.reconstruction
    together = model is not None and counts is not None and counts.rows >= t.min_rows
    tests = len(candidates) + (1 if pred else 0) + (1 if together else 0)
    if tests == 0:
        return None
    alpha = t.significance / tests
    ks = _ks_tests([*candidates, *([pred] if pred is not None else [])])
    return DriftReport(
        [_judge(c, t, alpha, ks) for c in candidates],
        _judge(pred, t, alpha, ks) if pred is not None else None,
        multivariate.judge(model, counts, t, alpha)
        if together and model is not None and counts is not None
        else None,
    )
