"""Evaluating a registered version against its policy: every check, with value and threshold.

Pure: the caller supplies the policy and the current champion; nothing here reads state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.governance.policy.rules import Bound, LoadedPolicy, TierRules
from shared.events.common import CheckResult, ModelMetadata
from shared.events.governance import Decision
from shared.events.registry import ModelRegistered


@dataclass(frozen=True)
class Champion:
    """The version governance last approved for the model (and has not suspended)."""

    version: int
    metrics: dict[str, float]


@dataclass(frozen=True)
class Evaluation:
    decision: Decision

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.decision.checks if not c.passed]

    @property
    def required_approvals(self) -> int:
        return self.decision.required_approvals


def evaluate(
    loaded: LoadedPolicy, registered: ModelRegistered, champion: Champion | None
) -> Evaluation:
    policy = loaded.policy
    tier_name = registered.metadata.risk_tier
    tier = policy.tiers[tier_name]
    checks = [
        *_metadata_checks(tier, registered.metadata),
        *_threshold_checks(tier, registered),
        *_parity_checks(tier, registered),
        *_champion_checks(loaded, tier, registered, champion),
        *_fairness_checks(tier, registered),
    ]
    decision = Decision(
        policy=policy.name,
        policy_version=policy.version,
        policy_digest=loaded.digest,
        checks=checks,
        strategy=tier.strategy,
        risk_tier=tier_name,
        required_approvals=tier.approvals,
    )
    return Evaluation(decision)


def _present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | dict):
        return bool(value)
    return True


def _metadata_checks(tier: TierRules, metadata: ModelMetadata) -> list[CheckResult]:
    checks = []
    for field in tier.required_metadata:
        value = getattr(metadata, field)
        present = _present(value)
        checks.append(
            CheckResult(
                name=f"metadata.{field}",
                passed=present,
                value=value,
                threshold="required",
                message="present" if present else f"metadata field {field!r} is required",
            )
        )
    return checks


def _bounded(name: str, value: float | None, bound: Bound, what: str) -> CheckResult:
    if value is None:
        passed, message = False, f"{what} was not reported; required {bound.describe()}"
    else:
        passed = bound.holds(value)
        message = f"{what} {value:g} {'meets' if passed else 'fails'} {bound.describe()}"
    threshold = bound.model_dump(exclude_none=True)
    return CheckResult(name=name, passed=passed, value=value, threshold=threshold, message=message)


def _threshold_checks(tier: TierRules, registered: ModelRegistered) -> list[CheckResult]:
    bounds = tier.thresholds.get(registered.task, {})
    return [
        _bounded(f"metric.{metric}", registered.metrics.get(metric), bound, metric)
        for metric, bound in sorted(bounds.items())
    ]


def _parity_checks(tier: TierRules, registered: ModelRegistered) -> list[CheckResult]:
    if not tier.onnx_parity:
        return []
    passed = registered.parity_passed
    return [
        CheckResult(
            name="onnx_parity",
            passed=passed,
            value=passed,
            threshold=True,
            message="ONNX output matches the trained model"
            if passed
            else "ONNX parity with the trained model was not shown",
        )
    ]


def _champion_checks(
    loaded: LoadedPolicy, tier: TierRules, registered: ModelRegistered, champion: Champion | None
) -> list[CheckResult]:
    if tier.champion_tolerance is None:
        return []
    primary = loaded.policy.primary_metric[registered.task]
    name = f"champion.{primary.name}"
    value = registered.metrics.get(primary.name)
    if champion is None or primary.name not in champion.metrics:
        why = (
            "no champion yet"
            if champion is None
            else (f"champion v{champion.version} has no {primary.name} to compare with")
        )
        return [
            CheckResult(
                name=name,
                passed=value is not None,
                value=value,
                threshold=None,
                message=why if value is not None else f"{primary.name} was not reported",
            )
        ]
    best = champion.metrics[primary.name]
    tolerance = tier.champion_tolerance
    if primary.goal == "maximize":
        bound = Bound(min=round(best - tolerance, 12))
    else:
        bound = Bound(max=round(best + tolerance, 12))
    check = _bounded(name, value, bound, primary.name)
    message = f"{check.message} (champion v{champion.version}: {best:g}, tolerance {tolerance:g})"
    return [check.model_copy(update={"message": message})]


def _fairness_checks(tier: TierRules, registered: ModelRegistered) -> list[CheckResult]:
    attribute = registered.metadata.sensitive_attribute
    if tier.fairness is None or not attribute:
        return []
    limits = tier.fairness.model_dump()
    return [
        _bounded(
            f"fairness.{measure}",
            registered.fairness.get(measure),
            Bound(max=limit),
            f"{measure} across {attribute}",
        )
        for measure, limit in sorted(limits.items())
    ]
