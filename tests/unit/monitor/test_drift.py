"""The drift decision: calibrated tests, Bonferroni across features, shifts found by name."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from services.monitor.analysis.accumulator import WindowAccumulator
from services.monitor.analysis.drift import evaluate
from services.monitor.analysis.reference import CompiledReference
from services.monitor.analysis.thresholds import Thresholds
from tests.unit.monitor.factories import reference

FEATURES = 10
rng = np.random.default_rng(11)


def _population(n: int) -> np.ndarray:
    """Ten features: normal, lognormal, uniform, and two categorical (integer codes)."""
    return np.column_stack(
        [
            *(rng.normal(i, 1 + i / 5, n) for i in range(4)),
            *(rng.lognormal(0, 0.5, n) for _ in range(2)),
            *(rng.uniform(-2, 2, n) for _ in range(2)),
            rng.choice(4, n, p=[0.4, 0.3, 0.2, 0.1]).astype(float),
            rng.integers(0, 3, n).astype(float),
        ]
    )


def _window(ref: CompiledReference, rows: np.ndarray) -> WindowAccumulator:
    acc = WindowAccumulator.open(ref)
    acc.add_rows(rows)
    return acc


@pytest.mark.parametrize("sample_rows", [2000, None], ids=["reference-sample", "bins-only"])
def test_false_alarms_on_undrifted_data_stay_within_significance(
    sample_rows: int | None,
) -> None:
    """Many windows drawn from the reference distribution: the fraction of windows that
    raise drift stays at or below the significance, thanks to the Bonferroni correction."""
    t = Thresholds(significance=0.05, min_rows=50)
    ref = reference(_population(20_000), sample_rows=sample_rows)
    windows = 300
    alarms = 0
    raw_rejections = []
    for _ in range(windows):
        report = evaluate(_window(ref, _population(500)), t)
        assert report is not None
        alarms += report.drifted
        raw_rejections.extend(f.test.p_value < 0.05 for f in report.features)  # type: ignore[operator]
    assert alarms / windows <= t.significance
    if sample_rows is not None:
        # Uncorrected, each test rejects about 5% of the time: the p-values are calibrated,
        # not just conservative. (99.9% binomial interval for 3000 tests.)
        assert 0.03 <= np.mean(raw_rejections) <= 0.075


def test_shifted_features_are_named_and_others_are_not() -> None:
    t = Thresholds(min_rows=50)
    ref = reference(_population(20_000), sample_rows=2000)
    rows = _population(1000)
    rows[:, 1] += 1.0 * 1.2  # one standard deviation of f1
    rows[:, 6] = rng.uniform(-1, 3, len(rows))  # f6: shifted uniform
    rows[:, 8] = rng.choice(4, len(rows), p=[0.1, 0.2, 0.3, 0.4]).astype(float)
    report = evaluate(_window(ref, rows), t)
    assert report is not None and report.drifted
    assert set(report.top_features) == {"f1", "f6", "f8"}
    by_name = {f.name: f for f in report.features}
    assert by_name["f8"].test.method == "chi2"
    assert by_name["f1"].test.method == "ks"
    # One test per feature and one for the features together (the reference has a sample).
    assert by_name["f1"].test.threshold == pytest.approx(0.05 / (FEATURES + 1))
    methods = {e.method for e in by_name["f1"].entries}
    assert methods == {"psi", "ks", "jensen_shannon", "wasserstein"}


def test_window_statistics_match_scipy_on_the_window_rows() -> None:
    t = Thresholds(min_rows=50)
    ref_rows = _population(3000)
    ref = reference(ref_rows, sample_rows=3000)
    rows = _population(700) + 0.2
    report = evaluate(_window(ref, rows), t)
    assert report is not None
    f0 = {e.method: e for e in report.features[0].entries}
    expected = sps.ks_2samp(ref_rows[:, 0], rows[:, 0], method="asymp")
    assert f0["ks"].statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert f0["ks"].p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert f0["ks"].reference_n == 3000 and f0["ks"].current_n == 700
    # Wasserstein on the reference grid, current mass at each cell's mean: close to exact.
    scale = ref_rows[:, 0].std()
    exact = sps.wasserstein_distance(ref_rows[:, 0], rows[:, 0]) / scale
    assert f0["wasserstein"].statistic == pytest.approx(exact, rel=0.02)


def test_small_windows_are_not_tested() -> None:
    ref = reference(_population(2000))
    assert evaluate(_window(ref, _population(20)), Thresholds(min_rows=50)) is None


def test_significant_but_negligible_shift_is_not_drift() -> None:
    """A huge window makes a 0.03 sd shift significant; the effect-size gate ignores it."""
    ref = reference(_population(50_000), sample_rows=5000)
    rows = _population(200_000)
    rows[:, 0] += 0.03
    report = evaluate(_window(ref, rows), Thresholds())
    assert report is not None and not report.drifted
