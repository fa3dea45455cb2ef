"""Evaluating a registered version against its policy: every check, with value and threshold.

Evidence checks (metrics, parity, champion, fairness) read only the *measured* evidence
(``ModelRegistered.measured``: the trainer's holdout, or the registry's sandbox on
evaluation data). What a submitter claims about its own model is never a check's value;
a version with nothing measured fails every evidence check and goes to people
(:func:`services.governance.policy.verdict.verdict`). Each message names the measured
value and who measured it on how many rows.

Pure: the caller supplies the policy and the current champion; nothing here reads state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.governance.policy.rules import Bound, LoadedPolicy, TierRules
from shared.events.common import CheckResult, ModelMetadata, Task
from shared.events.governance import Decision
from shared.events.registry import MeasuredEvidence, ModelRegistered

# The checks that read evidence; without measured evidence they send a version to people.
EVIDENCE_CHECKS = ("evidence.", "metric.", "onnx_parity", "champion.", "fairness.")


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

    @property
    def measured(self) -> bool:
        return any(c.name == "evidence.measured" and c.passed for c in self.decision.checks)

    @property
    def failed_beyond_evidence(self) -> list[str]:
        return [name for name in self.failed if not name.startswith(EVIDENCE_CHECKS)]


def evaluate(
    loaded: LoadedPolicy, registered: ModelRegistered, champion: Champion | None
) -> Evaluation:
    policy = loaded.policy
    tier_name = registered.metadata.risk_tier
    tier = policy.tiers[tier_name]
    measured = registered.measured
    checks = [
        *_metadata_checks(tier, registered.metadata),
        _evidence_check(measured),
        *_threshold_checks(tier, registered.task, measured),
        *_parity_checks(tier, measured),
        *_champion_checks(loaded, tier, registered, champion),
        *_fairness_checks(tier, registered, measured),
    ]
    # Nothing measured: people decide, however few approvals the tier asks for.
    approvals = tier.approvals if measured is not None else max(1, tier.approvals)
    decision = Decision(
        policy=policy.name,
        policy_version=policy.version,
        policy_digest=loaded.digest,
        checks=checks,
        strategy=tier.strategy,
        risk_tier=tier_name,
        required_approvals=approvals,
    )
    return Evaluation(decision)


def _provenance(measured: MeasuredEvidence) -> str:
    where = f" on {measured.rows} rows" if measured.rows is not None else " on its holdout"
    return f"measured by the {measured.by}{where}"


def _evidence_check(measured: MeasuredEvidence | None) -> CheckResult:
    if measured is None:
        return CheckResult(
            name="evidence.measured",
            passed=False,
            value=None,
            threshold="measured by the platform",
            message="no measured evidence: claimed metrics are not decided on; register with "
            "evaluation data to have the platform measure the model, or ask people to review",
        )
    return CheckResult(
        name="evidence.measured",
        passed=True,
        value=measured.by,
        threshold="measured by the platform",
        message=_provenance(measured),
    )


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


def _bounded(
    name: str, value: float | None, bound: Bound, what: str, measured: MeasuredEvidence | None
) -> CheckResult:
    if measured is None:
        passed, message = False, f"{what} was not measured; required {bound.describe()}"
    elif value is None:
        passed = False
        message = f"{what} was not {_provenance(measured)}; required {bound.describe()}"
    else:
        passed = bound.holds(value)
        verdict = "meets" if passed else "fails"
        message = f"{what} {value:g} {verdict} {bound.describe()} ({_provenance(measured)})"
    threshold = bound.model_dump(exclude_none=True)
    return CheckResult(name=name, passed=passed, value=value, threshold=threshold, message=message)


def _metrics(measured: MeasuredEvidence | None) -> dict[str, float]:
    return measured.metrics if measured is not None else {}


def _threshold_checks(
    tier: TierRules, task: Task, measured: MeasuredEvidence | None
) -> list[CheckResult]:
    bounds = tier.thresholds.get(task, {})
    return [
        _bounded(f"metric.{metric}", _metrics(measured).get(metric), bound, metric, measured)
        for metric, bound in sorted(bounds.items())
    ]


def _parity_checks(tier: TierRules, measured: MeasuredEvidence | None) -> list[CheckResult]:
    if not tier.onnx_parity:
        return []
    passed = measured is not None and measured.parity_passed is True
    if passed:
        assert measured is not None
        message = f"ONNX output matches the original model ({_provenance(measured)})"
    elif measured is None or measured.parity_passed is None:
        message = "ONNX parity with the original model was not measured"
    else:
        shown = ", ".join(f"{k} {v:g}" for k, v in sorted(measured.parity.items()))
        message = f"ONNX output differs from the original model ({shown})"
    return [
        CheckResult(
            name="onnx_parity", passed=passed, value=passed, threshold=True, message=message
        )
    ]


def _champion_checks(
    loaded: LoadedPolicy, tier: TierRules, registered: ModelRegistered, champion: Champion | None
) -> list[CheckResult]:
    if tier.champion_tolerance is None:
        return []
    primary = loaded.policy.primary_metric[registered.task]
    name = f"champion.{primary.name}"
    measured = registered.measured
    value = _metrics(measured).get(primary.name)
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
                message=why if value is not None else f"{primary.name} was not measured",
            )
        ]
    best = champion.metrics[primary.name]
    tolerance = tier.champion_tolerance
    if primary.goal == "maximize":
        bound = Bound(min=round(best - tolerance, 12))
    else:
        bound = Bound(max=round(best + tolerance, 12))
    check = _bounded(name, value, bound, primary.name, measured)
    message = f"{check.message} (champion v{champion.version}: {best:g}, tolerance {tolerance:g})"
    return [check.model_copy(update={"message": message})]


def _fairness_checks(
    tier: TierRules, registered: ModelRegistered, measured: MeasuredEvidence | None
) -> list[CheckResult]:
    attribute = registered.metadata.sensitive_attribute
    if tier.fairness is None or not attribute:
        return []
    limits = tier.fairness.model_dump()
    gaps = measured.fairness if measured is not None else {}
    return [
        _bounded(
            f"fairness.{measure}",
            gaps.get(measure),
            Bound(max=limit),
            f"{measure} across {attribute}",
            measured,
        )
        for measure, limit in sorted(limits.items())
    ]
