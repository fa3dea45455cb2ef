"""Every check of the default policy, with its value, threshold and result."""

from __future__ import annotations

import pytest

from services.governance.policy.evaluate import Champion, evaluate
from services.governance.policy.rules import LoadedPolicy, load_policies
from services.governance.settings import SHIPPED_POLICIES
from tests.support.events import HIGH_RISK, registered


@pytest.fixture(scope="module")
def policy() -> LoadedPolicy:
    return load_policies(SHIPPED_POLICIES)["default"]


def checks(result: object) -> dict[str, object]:
    return {c.name: c for c in result.decision.checks}  # type: ignore[attr-defined]


def test_low_risk_version_meeting_thresholds_passes_and_needs_nobody(policy: LoadedPolicy) -> None:
    result = evaluate(policy, registered("m"), champion=None)
    assert result.failed == []
    assert result.required_approvals == 0
    decision = result.decision
    assert (decision.policy, decision.policy_version, decision.policy_digest) == (
        "default",
        "1.0.0",
        policy.digest,
    )
    assert decision.strategy.kind == "replace"
    assert set(checks(result)) == {
        "metadata.owner",
        "metric.accuracy",
        "onnx_parity",
        "champion.accuracy",
    }


def test_a_metric_below_its_threshold_fails_with_value_and_threshold(
    policy: LoadedPolicy,
) -> None:
    result = evaluate(policy, registered("m", accuracy=0.62), champion=None)
    assert result.failed == ["metric.accuracy"]
    check = checks(result)["metric.accuracy"]
    assert (check.value, check.threshold) == (0.62, {"min": 0.7})  # type: ignore[attr-defined]
    assert "0.62 fails >= 0.7" in check.message  # type: ignore[attr-defined]


def test_an_unreported_metric_fails(policy: LoadedPolicy) -> None:
    reg = registered("m").model_copy(update={"metrics": {"f1": 0.9}})
    result = evaluate(policy, reg, champion=None)
    assert "metric.accuracy" in result.failed
    assert "not reported" in checks(result)["metric.accuracy"].message  # type: ignore[attr-defined]


def test_high_risk_needs_full_metadata_two_approvals_and_a_canary(policy: LoadedPolicy) -> None:
    bare = evaluate(policy, registered("m", accuracy=0.9, metadata={"risk_tier": "high"}), None)
    assert sorted(bare.failed) == ["metadata.description", "metadata.intended_use", "metadata.team"]
    full = evaluate(policy, registered("m", accuracy=0.9, metadata=HIGH_RISK), None)
    assert full.failed == []
    assert full.required_approvals == 2
    assert full.decision.strategy.kind == "canary"
    assert full.decision.risk_tier == "high"


def test_fairness_is_checked_only_when_a_sensitive_attribute_is_declared(
    policy: LoadedPolicy,
) -> None:
    unfair = {"demographic_parity_difference": 0.35, "equal_opportunity_difference": 0.05}
    undeclared = evaluate(policy, registered("m", fairness=unfair), None)
    assert undeclared.failed == []
    declared = evaluate(
        policy, registered("m", fairness=unfair, metadata={"sensitive_attribute": "sex"}), None
    )
    assert declared.failed == ["fairness.demographic_parity_difference"]
    gap = checks(declared)["fairness.demographic_parity_difference"]
    assert (gap.value, gap.threshold) == (0.35, {"max": 0.2})  # type: ignore[attr-defined]
    unreported = evaluate(policy, registered("m", metadata={"sensitive_attribute": "sex"}), None)
    assert sorted(unreported.failed) == [
        "fairness.demographic_parity_difference",
        "fairness.equal_opportunity_difference",
    ]


def test_regression_against_the_champion_beyond_tolerance_fails(policy: LoadedPolicy) -> None:
    champion = Champion(version=3, metrics={"accuracy": 0.95})
    within = evaluate(policy, registered("m", 4, accuracy=0.935), champion)
    assert within.failed == []
    worse = evaluate(policy, registered("m", 4, accuracy=0.90), champion)
    assert worse.failed == ["champion.accuracy"]
    check = checks(worse)["champion.accuracy"]
    assert (check.value, check.threshold) == (0.90, {"min": 0.93})  # type: ignore[attr-defined]
    assert "champion v3: 0.95" in check.message  # type: ignore[attr-defined]


def test_missing_onnx_parity_fails(policy: LoadedPolicy) -> None:
    result = evaluate(policy, registered("m", parity=False), None)
    assert result.failed == ["onnx_parity"]
