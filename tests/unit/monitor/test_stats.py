"""The statistics equal scipy's on identical inputs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from services.monitor.analysis import stats

rng = np.random.default_rng(7)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (rng.normal(size=300), rng.normal(0.2, 1.1, size=200)),
        (rng.normal(size=2000), rng.normal(size=2000)),
        (rng.integers(0, 5, 400).astype(float), rng.integers(0, 6, 350).astype(float)),  # ties
        (rng.exponential(size=50), rng.exponential(2.0, size=1000)),
    ],
)
def test_ks_equals_scipy(a: np.ndarray, b: np.ndarray) -> None:
    statistic, p = stats.ks(a, b)
    expected = sps.ks_2samp(a, b, method="asymp")
    assert statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert statistic == pytest.approx(sps.ks_2samp(a, b).statistic, abs=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)


def test_ks_from_cells_on_separating_cells_is_ks() -> None:
    a = rng.integers(0, 8, 500).astype(float)
    b = rng.integers(1, 9, 300).astype(float)
    cells = np.arange(0, 9)
    ref = np.array([np.sum(a == c) for c in cells])
    cur = np.array([np.sum(b == c) for c in cells])
    statistic, p = stats.ks_from_cells(ref, cur)
    expected = sps.ks_2samp(a, b, method="asymp")
    assert statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9)


@pytest.mark.parametrize(
    ("ref", "cur"),
    [
        ([30, 70], [45, 55]),
        ([10, 20, 30, 40, 50], [12, 25, 20, 44, 60]),
        ([5, 0, 9, 14], [3, 0, 11, 2]),
        ([100, 50, 0], [80, 40, 7]),
    ],
)
def test_chi2_equals_scipy(ref: list[int], cur: list[int]) -> None:
    statistic, p = stats.chi2_homogeneity(ref, cur)
    table = np.array([ref, cur])
    table = table[:, table.sum(axis=0) > 0]
    expected = sps.chi2_contingency(table, correction=False)
    assert statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9)


def test_chi2_without_two_categories_is_no_evidence() -> None:
    assert stats.chi2_homogeneity([10, 0], [5, 0]) == (0.0, 1.0)


def test_psi_is_the_direct_formula() -> None:
    ref = np.array([10.0, 20.0, 30.0, 40.0])
    cur = np.array([25.0, 25.0, 25.0, 25.0])
    r, c = ref / ref.sum(), cur / cur.sum()
    assert stats.psi(ref, cur) == pytest.approx(float(np.sum((c - r) * np.log(c / r))), rel=1e-12)
    assert stats.psi(ref, ref * 3) == pytest.approx(0.0, abs=1e-15)


def test_psi_floors_empty_bins() -> None:
    value = stats.psi([50, 50, 0], [40, 40, 20])
    r = np.array([0.5, 0.5, stats.PSI_FLOOR])
    c = np.array([0.4, 0.4, 0.2])
    assert value == pytest.approx(float(np.sum((c - r) * np.log(c / r))))


@pytest.mark.parametrize(
    ("ref", "cur"), [([1, 2, 3, 4], [4, 3, 2, 1]), ([10, 0, 5], [0, 10, 5]), ([7, 7], [7, 7])]
)
def test_jensen_shannon_equals_scipy(ref: list[int], cur: list[int]) -> None:
    expected = jensenshannon(np.array(ref, float), np.array(cur, float), base=2)
    assert stats.jensen_shannon(ref, cur) == pytest.approx(expected, abs=1e-12)


def test_wasserstein_equals_scipy() -> None:
    a = rng.normal(size=700)
    b = rng.normal(0.4, 1.3, size=300)
    assert stats.wasserstein(a, b) == pytest.approx(sps.wasserstein_distance(a, b), rel=1e-10)
    u, v = rng.normal(size=20), rng.normal(size=30)
    uw, vw = rng.random(20), rng.random(30)
    assert stats.wasserstein_weighted(u, uw, v, vw) == pytest.approx(
        sps.wasserstein_distance(u, v, uw, vw), rel=1e-10
    )


def test_ks_pvalues_are_scipys_whether_remembered_or_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stats, "KS_MEMO_SIZE", 8)
    monkeypatch.setattr(stats, "_KS_MEMO", {})
    d = np.array([0.004, 0.01, 0.03, 0.08, 0.3, 0.01])
    n_ref, n_cur = np.full(6, 5000), np.array([1000, 1000, 1000, 800, 50, 1000])
    expected = sps.kstwo.sf(d, np.round(n_ref * n_cur / (n_ref + n_cur)))

    first, again = stats.ks_pvalues(d, n_ref, n_cur), stats.ks_pvalues(d, n_ref, n_cur)

    np.testing.assert_array_equal(first, expected)
    np.testing.assert_array_equal(again, expected)
    assert len(stats._KS_MEMO) == 5  # the repeated (0.01, 833) once
    more = np.linspace(0.02, 0.2, 6)
    np.testing.assert_array_equal(
        stats.ks_pvalues(more, np.full(6, 5000), np.full(6, 1000)), sps.kstwo.sf(more, 833)
    )
    assert len(stats._KS_MEMO) <= 8  # full: started again
