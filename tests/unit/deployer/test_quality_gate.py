"""The labelled-evidence rules of a rollout, on their own."""

from __future__ import annotations

import math

import pytest

from services.deployer.serving.quality_gate import ArmQuality, judge, measured
from shared.events.common import DeploymentStrategy

GATED = DeploymentStrategy(kind="canary", min_labelled=100, max_quality_drop=0.02)


def test_a_performance_window_is_measured_on_accuracy_or_else_mean_absolute_error() -> None:
    assert measured({"accuracy": 0.9, "f1": 0.8, "labelled": 120.0}) == (
        measured({"labelled": 120, "accuracy": 0.9})
    )
    scored = measured({"mae": 3.5, "rmse": 4.0, "labelled": 80.0})
    assert scored is not None and (scored.metric, scored.value, scored.labelled) == (
        "mae",
        3.5,
        80,
    )


@pytest.mark.parametrize(
    "metrics",
    [{"psi_max": 0.1, "rows": 500.0}, {"labelled": 0.0, "accuracy": 1.0},
     {"labelled": 50.0, "accuracy": math.nan}, {"labelled": 50.0, "r2": 0.4},
     {"labelled": math.nan, "accuracy": 0.9}, {"labelled": 1e12, "accuracy": 0.9},
     {"labelled": 50.0, "accuracy": 1.5}, {"labelled": 50.0, "mae": -1.0},
     {"labelled": 50.0, "mae": math.inf}],
)  # fmt: skip
def test_windows_without_a_comparable_labelled_metric_are_no_evidence(
    metrics: dict[str, float],
) -> None:
    assert measured(metrics) is None


def test_either_arm_short_of_labels_waits() -> None:
    for candidate, stable in [(99, 500), (500, 99), (0, 0)]:
        verdict = judge(
            GATED,
            "accuracy" if candidate else "",
            ArmQuality(candidate, 0.5 if candidate else None),
            ArmQuality(stable, 0.9 if stable else None),
        )
        assert verdict.kind == "wait", (candidate, stable)
        assert f"candidate {candidate}, stable {stable}" in verdict.reason


def test_accuracy_within_the_drop_promotes_and_beyond_it_rolls_back() -> None:
    stable = ArmQuality(200, 0.90)
    assert judge(GATED, "accuracy", ArmQuality(100, 0.881), stable).kind == "promote"
    assert judge(GATED, "accuracy", ArmQuality(100, 0.95), stable).kind == "promote"
    worse = judge(GATED, "accuracy", ArmQuality(100, 0.87), stable)
    assert worse.kind == "rollback"
    assert worse.evidence == {
        "candidate_labelled": 100.0,
        "stable_labelled": 200.0,
        "candidate_accuracy": 0.87,
        "stable_accuracy": 0.90,
    }


def test_a_regressor_may_err_more_only_by_the_drop_as_a_fraction() -> None:
    stable = ArmQuality(200, 10.0)
    assert judge(GATED, "mae", ArmQuality(100, 10.19), stable).kind == "promote"
    assert judge(GATED, "mae", ArmQuality(100, 9.0), stable).kind == "promote"
    verdict = judge(GATED, "mae", ArmQuality(100, 10.3), stable)
    assert verdict.kind == "rollback" and "more than 2% above" in verdict.reason
