"""Every check of the default policy, with its value, threshold and result."""

from __future__ import annotations

import pytest

from services.governance.policy.evaluate import Champion, evaluate
from services.governance.policy.rules import LoadedPolicy, load_policies
from services.governance.policy.verdict import verdict
from services.governance.settings import SHIPPED_POLICIES
from shared.events.governance import ModelApproved, ModelRejected, ReviewRequested
from shared.events.registry import ClaimedEvidence, MeasuredEvidence
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
        "evidence.measured",
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


def test_an_unmeasured_metric_fails(policy: LoadedPolicy) -> None:
    reg = registered("m", measured=MeasuredEvidence(by="trainer", metrics={"f1": 0.9}))
    result = evaluate(policy, reg, champion=None)
    assert "metric.accuracy" in result.failed
    message = checks(result)["metric.accuracy"].message  # type: ignore[attr-defined]
    assert "accuracy was not measured by the trainer" in message


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


def claimed_only(**extra: object) -> object:
    """A submission that reports excellent numbers about itself and measured nothing."""
    said = ClaimedEvidence(metrics={"accuracy": 0.99}, parity_passed=True)
    return registered(
        "m", source="upload", measured=None, claimed=said, metrics={}, parity=False, **extra
    )


def test_claimed_evidence_is_never_a_value_and_goes_to_people(policy: LoadedPolicy) -> None:
    reg = claimed_only()
    result = evaluate(policy, reg, None)  # type: ignore[arg-type]
    found = checks(result)
    assert not found["evidence.measured"].passed  # type: ignore[attr-defined]
    accuracy = found["metric.accuracy"]
    assert (accuracy.passed, accuracy.value) == (False, None)  # type: ignore[attr-defined]
    assert "not measured" in accuracy.message  # type: ignore[attr-defined]
    assert not found["onnx_parity"].passed  # type: ignore[attr-defined]
    # Tier low needs nobody when evidence is measured; with none, one person at least.
    answer = verdict(result, reg)  # type: ignore[arg-type]
    assert isinstance(answer, ReviewRequested) and answer.required_approvals == 1


def test_unmeasured_and_failing_what_evidence_cannot_fix_is_rejected(
    policy: LoadedPolicy,
) -> None:
    reg = claimed_only(metadata={"owner": None})
    answer = verdict(evaluate(policy, reg, None), reg)  # type: ignore[arg-type]
    assert isinstance(answer, ModelRejected) and "metadata.owner" in answer.failed_checks


def test_measured_by_the_registry_approves_and_names_the_values(policy: LoadedPolicy) -> None:
    measured = MeasuredEvidence(
        by="registry", metrics={"accuracy": 0.912}, parity_passed=True, rows=114
    )
    reg = registered("m", source="upload", measured=measured)
    result = evaluate(policy, reg, None)
    answer = verdict(result, reg)
    assert isinstance(answer, ModelApproved)
    message = checks(result)["metric.accuracy"].message  # type: ignore[attr-defined]
    assert message == "accuracy 0.912 meets >= 0.7 (measured by the registry on 114 rows)"
    assert checks(result)["metric.accuracy"].value == 0.912  # type: ignore[attr-defined]


def test_measured_parity_that_failed_says_by_how_much(policy: LoadedPolicy) -> None:
    measured = MeasuredEvidence(
        by="registry",
        metrics={"accuracy": 0.9},
        parity_passed=False,
        parity={"label_mismatches": 3.0},
        rows=50,
    )
    result = evaluate(policy, registered("m", source="upload", measured=measured), None)
    assert result.failed == ["onnx_parity"]
    assert "label_mismatches 3" in checks(result)["onnx_parity"].message  # type: ignore[attr-defined]
