"""Performance estimated before labels (CBPE): calibrated on the holdout, judged per window."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import auc, roc_auc_score

from services.monitor.analysis.accumulator import WindowAccumulator
from services.monitor.analysis.estimation import Estimator, compile_estimator, judge
from services.monitor.analysis.performance import classification
from services.monitor.analysis.thresholds import Thresholds
from shared.events.reference_profile import HoldoutScores
from shared.reference_builder import holdout_scores
from tests.support.shifts import sized_population
from tests.unit.monitor.factories import reference

T = Thresholds(min_rows=100)


@pytest.fixture(scope="module")
def world() -> tuple[LogisticRegression, Estimator, HoldoutScores, np.ndarray]:
    rng = np.random.default_rng(1)
    x, y = sized_population(rng, 4000)
    model = LogisticRegression(max_iter=1000).fit(x[:2000], y[:2000])
    holdout = holdout_scores(
        model.predict_proba(x[2000:]), model.predict(x[2000:]), y[2000:], model.classes_
    )
    return model, compile_estimator(holdout), holdout, x[:2000]


def _window(model: LogisticRegression, estimator: Estimator, x: np.ndarray) -> object:
    counts = estimator.empty()
    estimator.add(counts, model.predict_proba(x), list(model.predict(x)))
    return counts


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_a_covariate_shift_shows_as_an_estimated_drop_close_to_the_measured_one(
    world: tuple[LogisticRegression, Estimator, HoldoutScores, np.ndarray], seed: int
) -> None:
    model, estimator, _, _ = world
    rng = np.random.default_rng(seed)
    plain, _ = sized_population(rng, 2000)
    shifted, shifted_y = sized_population(rng, 2000, shifted=True)

    quiet = judge(estimator, _window(model, estimator, plain), T)  # type: ignore[arg-type]
    assert quiet is not None and quiet.degraded == []
    accuracy = next(e for e in quiet.estimates if e.metric == "accuracy")
    assert abs(accuracy.value - accuracy.reference) <= 0.02

    report = judge(estimator, _window(model, estimator, shifted), T)  # type: ignore[arg-type]
    assert report is not None
    estimated = {e.metric: e for e in report.estimates}
    assert "accuracy" in {e.metric for e in report.degraded}, "the drop is visible unlabelled"
    measured = classification(
        list(model.predict(shifted)), list(shifted_y), model.predict_proba(shifted)
    )
    assert abs(estimated["accuracy"].value - measured["accuracy"]) <= 0.03
    assert estimated["accuracy"].value < accuracy.reference - T.estimated_performance_drop
    # ROC AUC measured on 2,000 labels has a sampling error of about 0.013 by itself.
    assert abs(estimated["roc_auc"].value - measured["roc_auc"]) <= 0.04


def test_the_reference_is_the_holdout_estimate_and_the_threshold_widens_for_small_windows(
    world: tuple[LogisticRegression, Estimator, HoldoutScores, np.ndarray],
) -> None:
    model, estimator, holdout, train = world
    truth = np.array(holdout.actual) == "1"
    scores = np.array(holdout.scores)[:, 1]
    # Calibrated on the holdout, the estimate there is its measured accuracy.
    assert estimator.reference["accuracy"] == pytest.approx(
        np.mean(np.array(holdout.predicted) == np.array(holdout.actual)), abs=0.005
    )
    assert estimator.reference["roc_auc"] == pytest.approx(roc_auc_score(truth, scores), abs=0.02)
    small = judge(estimator, _window(model, estimator, train[:100]), T)  # type: ignore[arg-type]
    large = judge(estimator, _window(model, estimator, train), T)  # type: ignore[arg-type]
    assert small is not None and large is not None
    small_bound = {e.metric: e.threshold for e in small.estimates}
    large_bound = {e.metric: e.threshold for e in large.estimates}
    assert small_bound["roc_auc"] < large_bound["roc_auc"]
    assert large_bound["accuracy"] == pytest.approx(
        estimator.reference["accuracy"] - T.estimated_performance_drop
    )
    assert judge(estimator, _window(model, estimator, train[:99]), T) is None  # type: ignore[arg-type]
    floor = Thresholds(min_rows=100, min_estimated_accuracy=0.99)
    floored = judge(estimator, _window(model, estimator, train), floor)  # type: ignore[arg-type]
    assert floored is not None and [e.metric for e in floored.degraded] == ["accuracy"]


def test_binned_roc_auc_follows_nannyml_on_the_rows() -> None:
    """NannyML's estimate_roc_auc on the rows themselves, against the window's bins."""
    rng = np.random.default_rng(5)
    scores = rng.beta(0.7, 0.7, 3000)
    truth = rng.random(3000) < scores
    holdout = holdout_scores(
        np.column_stack([1 - scores, scores]), (scores > 0.5).astype(int), truth.astype(int), [0, 1]
    )
    estimator = compile_estimator(holdout)
    live = rng.beta(1.5, 0.8, 2000)
    counts = estimator.empty()
    estimator.add(counts, np.column_stack([1 - live, live]), list((live > 0.5).astype(int)))
    calibrated = estimator.calibrated(np.column_stack([1 - live, live]))[:, 1]
    order = np.argsort(live)[::-1]
    tps = np.r_[0, np.cumsum(calibrated[order])]
    fps = np.r_[0, np.arange(1, live.size + 1) - tps[1:]]
    expected = auc(fps / fps[-1], tps / tps[-1])
    assert estimator.estimates(counts)["roc_auc"] == pytest.approx(expected, abs=2e-3)
    predicted = live > 0.5
    accuracy = np.mean(np.where(predicted, calibrated, 1 - calibrated))
    assert estimator.estimates(counts)["accuracy"] == pytest.approx(accuracy)


def test_overconfident_scores_are_calibrated_and_calibrated_ones_left_alone() -> None:
    rng = np.random.default_rng(6)
    truth_p = rng.uniform(0.05, 0.95, 4000)
    y = (rng.random(4000) < truth_p).astype(int)
    sharp = 1 / (1 + np.exp(-3 * np.log(truth_p / (1 - truth_p))))  # overconfident
    for scores, calibrates in ((sharp, True), (truth_p, False)):
        predicted = (scores > 0.5).astype(int)
        estimator = compile_estimator(
            holdout_scores(np.column_stack([1 - scores, scores]), predicted, y, [0, 1])
        )
        assert (estimator.calibrations[0].x is not None) is calibrates
        live = rng.uniform(0.05, 0.95, 3000)
        live_scores = 1 / (1 + np.exp(-3 * np.log(live / (1 - live)))) if calibrates else live
        counts = estimator.empty()
        estimator.add(
            counts,
            np.column_stack([1 - live_scores, live_scores]),
            list((live_scores > 0.5).astype(int)),
        )
        true_accuracy = np.mean(np.where(live > 0.5, live, 1 - live))
        assert estimator.estimates(counts)["accuracy"] == pytest.approx(true_accuracy, abs=0.02)


def test_multiclass_estimates_are_normalised_and_macro() -> None:
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(3000, 3)) * 2
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=row) for row in p])
    estimator = compile_estimator(holdout_scores(p[:1500], p[:1500].argmax(1), y[:1500], [0, 1, 2]))
    counts = estimator.empty()
    estimator.add(counts, p[1500:], list(p[1500:].argmax(1)))
    found = estimator.estimates(counts)
    measured = classification(list(p[1500:].argmax(1)), list(y[1500:]), p[1500:])
    assert found["accuracy"] == pytest.approx(measured["accuracy"], abs=0.03)
    assert found["roc_auc"] == pytest.approx(measured["roc_auc"], abs=0.03)
    assert np.allclose(estimator.calibrated(p[:10]).sum(axis=1), 1)


def test_the_window_counts_scores_in_any_batching_and_skips_unknown_labels(
    world: tuple[LogisticRegression, Estimator, HoldoutScores, np.ndarray],
) -> None:
    model, _, holdout, train = world
    ref = reference(train, holdout=holdout)
    assert ref.estimator is not None
    scores, labels = model.predict_proba(train), list(model.predict(train))
    whole, pieces = WindowAccumulator.open(ref), WindowAccumulator.open(ref)
    whole.add_scores(scores, labels)
    for lo in range(0, len(labels), 333):
        pieces.add_scores(scores[lo : lo + 333], labels[lo : lo + 333])
    pieces.add_scores(np.array([[0.5, 0.5]]), ["cat"])
    whole.fold()
    pieces.fold()
    assert whole.estimate is not None and pieces.estimate is not None
    assert pieces.estimate.rows == whole.estimate.rows == len(labels)
    assert pieces.estimate.unusable == 1
    assert ref.estimator.estimates(pieces.estimate) == pytest.approx(
        ref.estimator.estimates(whole.estimate)
    )


def test_the_holdout_contract_is_bounded_and_consistent() -> None:
    good = {"classes": ["0", "1"], "scores": [[0.2, 0.8]], "predicted": ["1"], "actual": ["0"]}
    HoldoutScores(**good)
    for bad in (
        {**good, "predicted": ["2"]},
        {**good, "scores": [[0.2, 0.8, 0.0]]},
        {**good, "scores": [[0.2, 1.5]]},
        {**good, "actual": []},
        {**good, "classes": ["1", "1"]},
    ):
        with pytest.raises(ValidationError):
            HoldoutScores(**bad)
    many = holdout_scores(np.full((3000, 40), 1 / 40), np.zeros(3000), np.zeros(3000), range(40))
    assert len(many.scores) == 2500  # within the contract's 100,000 scores
