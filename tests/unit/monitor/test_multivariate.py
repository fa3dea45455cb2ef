"""Multivariate drift: a correlation that flips is seen by the reconstruction error alone."""

from __future__ import annotations

import numpy as np
import pytest

from services.monitor.analysis.accumulator import WindowAccumulator
from services.monitor.analysis.drift import DriftReport, evaluate
from services.monitor.analysis.multivariate import fit_reconstruction
from services.monitor.analysis.thresholds import Thresholds
from tests.support.shifts import correlated_pair
from tests.unit.monitor.factories import reference

T = Thresholds(min_rows=100)


WINDOWS = 40


@pytest.fixture(scope="module")
def ref_rows() -> np.ndarray:
    return correlated_pair(np.random.default_rng(0), 20_000)


def _reports(ref_rows: np.ndarray, *, flipped: bool) -> list[DriftReport]:
    rng = np.random.default_rng(1)
    ref = reference(ref_rows, sample_rows=5000)
    reports = []
    for _ in range(WINDOWS):
        acc = WindowAccumulator.open(ref)
        acc.add_rows(correlated_pair(rng, 1000, flipped=flipped))
        report = evaluate(acc, T)
        assert report is not None and report.multivariate is not None
        reports.append(report)
    return reports


def test_a_flipped_correlation_is_multivariate_drift_and_no_feature_drifts(
    ref_rows: np.ndarray,
) -> None:
    reports = _reports(ref_rows, flipped=True)
    first = reports[0]
    assert first.drifted and first.multivariate is not None and first.multivariate.drifted
    assert not any(f.drifted for f in first.features) and first.top_features == []
    m = first.multivariate
    assert m.statistic > m.threshold > m.reference and m.p_value < T.significance
    drift = first.multivariate_drift()
    assert drift is not None and drift.method == "pca_reconstruction" and drift.current_n == 1000
    assert first.metrics()["multivariate_drifted"] == 1.0
    # Every flipped window is seen; the marginals raise no more than the per-feature
    # tests' false alarms (at most ``significance`` of windows, Bonferroni).
    assert all(r.multivariate and r.multivariate.drifted for r in reports)
    assert sum(any(f.drifted for f in r.features) for r in reports) <= T.significance * WINDOWS


def test_unshifted_traffic_raises_nothing(ref_rows: np.ndarray) -> None:
    reports = _reports(ref_rows, flipped=False)
    first = reports[0]
    assert not first.drifted and first.multivariate is not None
    assert first.multivariate.statistic == pytest.approx(first.multivariate.reference, rel=0.05)
    assert sum(r.drifted for r in reports) <= T.significance * WINDOWS


def test_window_counts_are_order_free_and_missing_values_are_imputed() -> None:
    rng = np.random.default_rng(4)
    ref_rows = correlated_pair(rng, 5000)
    ref_rows[:, 4] = rng.integers(0, 3, 5000)  # a categorical code column
    ref = reference(ref_rows, sample_rows=5000)
    rows = correlated_pair(rng, 900)
    rows[:, 4] = rng.integers(0, 4, 900)  # code 3 never seen: frequency 0
    rows[::7, 1] = np.nan
    whole, pieces = WindowAccumulator.open(ref), WindowAccumulator.open(ref)
    whole.add_rows(rows)
    for lo in range(0, 900, 250):
        pieces.add_rows(rows[lo : lo + 250])
    whole.fold()
    pieces.fold()
    assert whole.reconstruction is not None and pieces.reconstruction is not None
    assert pieces.reconstruction.rows == 900
    assert pieces.reconstruction.error_sum == pytest.approx(whole.reconstruction.error_sum)
    assert np.isfinite(whole.reconstruction.error_sum)


def test_no_components_without_enough_to_project() -> None:
    rng = np.random.default_rng(5)
    one = reference(rng.normal(size=(500, 1)), sample_rows=500)
    constant = np.column_stack([rng.normal(size=500), np.ones(500)])
    assert one.reconstruction is None
    assert fit_reconstruction(constant, reference(constant).features) is None
    assert reference(rng.normal(size=(500, 3))).reconstruction is None  # no sample
