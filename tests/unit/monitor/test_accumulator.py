"""Window counts equal direct computations on the rows, whatever the batching."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from services.monitor.analysis import stats
from services.monitor.analysis.accumulator import WindowAccumulator
from services.monitor.analysis.reference import CategoricalReference, NumericReference
from tests.unit.monitor.factories import reference

rng = np.random.default_rng(3)


def _rows(n: int) -> np.ndarray:
    X = np.column_stack(
        [rng.normal(size=n), rng.exponential(size=n), rng.integers(0, 4, n).astype(float)]
    )
    return X


def test_bins_match_numpy_histogram_with_open_outer_bins() -> None:
    ref = reference(_rows(5000))
    current = _rows(3000) * np.array([1.5, 1.0, 1.0])
    current[::17, 0] = np.nan
    acc = WindowAccumulator.open(ref)
    acc.add_rows(current)
    acc.fold()
    numeric = ref.features[0]
    assert isinstance(numeric, NumericReference)
    column = current[:, 0][~np.isnan(current[:, 0])]
    expected = np.bincount(
        np.searchsorted(numeric.inner_edges, column, side="right"),
        minlength=numeric.bin_counts.size,
    )
    counts = acc.features[0]
    assert counts.counts.tolist() == expected.tolist()
    assert counts.missing == int(np.isnan(current[:, 0]).sum())
    assert counts.out_of_range == int(np.sum((column < numeric.low) | (column > numeric.high)))


def test_categories_and_unseen_values_are_counted() -> None:
    ref = reference(_rows(2000))
    acc = WindowAccumulator.open(ref)
    current = _rows(500)
    current[:50, 2] = 9.0  # a category the reference never saw
    acc.add_rows(current)
    acc.fold()
    cat = ref.features[2]
    assert isinstance(cat, CategoricalReference)
    counts = acc.features[2]
    assert counts.unseen == 50
    assert counts.counts.tolist() == [float(np.sum(current[:, 2] == v)) for v in cat.values]
    assert acc.quality()["unseen_categories.f2"] == pytest.approx(0.1)


def test_batching_does_not_change_the_counts() -> None:
    ref = reference(_rows(3000), sample_rows=1000)
    rows = _rows(2000)
    whole, pieces = WindowAccumulator.open(ref), WindowAccumulator.open(ref)
    whole.add_rows(rows)
    for chunk in np.array_split(rows, 7):
        pieces.add_rows(chunk)
        pieces.fold()  # folding after every batch or once gives the same counts
    whole.fold()
    for a, b in zip(whole.features, pieces.features, strict=True):
        assert np.array_equal(a.counts, b.counts)
        assert (a.missing, a.out_of_range, a.unseen) == (b.missing, b.out_of_range, b.unseen)
        if a.fine_counts is not None:
            assert np.array_equal(a.fine_counts, b.fine_counts)
            assert a.below_sum == pytest.approx(b.below_sum)
            assert a.above_sum == pytest.approx(b.above_sum)


@pytest.mark.parametrize("integer_valued", [False, True])
def test_ks_on_window_cells_is_exactly_ks_2samp(integer_valued: bool) -> None:
    ref_rows = _rows(4000)
    if integer_valued:
        ref_rows[:, 0] = np.round(ref_rows[:, 0] * 3)
    ref = reference(ref_rows, sample_rows=1500)
    current = _rows(800) + np.array([0.3, 0.0, 0.0])
    if integer_valued:
        current[:, 0] = np.round(current[:, 0] * 3)
    acc = WindowAccumulator.open(ref)
    for chunk in np.array_split(current, 3):
        acc.add_rows(chunk)
    acc.fold()
    numeric = ref.features[0]
    assert isinstance(numeric, NumericReference) and numeric.grid_counts is not None
    statistic, p = stats.ks_from_cells(numeric.grid_counts, acc.features[0].fine_counts)  # type: ignore[arg-type]
    expected = sps.ks_2samp(ref_rows[:1500, 0], current[:, 0], method="asymp")
    assert statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9)


def test_latency_errors_and_schema_violations() -> None:
    acc = WindowAccumulator.open(reference(_rows(500)))
    acc.add_requests(np.array([1.0, 2.0, 3.0, 400.0]), errors=1, schema_violations=1)
    quality = acc.quality()
    assert quality["requests"] == 4
    assert quality["error_rate"] == 0.25
    assert quality["schema_violations"] == 1
    assert quality["latency_p50_ms"] == pytest.approx(2.0, rel=0.01)
    assert quality["latency_p99_ms"] == pytest.approx(400.0, rel=0.01)
