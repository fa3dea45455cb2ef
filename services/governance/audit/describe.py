"""What an audit record says about an event: who did what to which version, in brief.

The summary keeps what an auditor asks first (reason, artifact digest, policy verdict,
approvers, arm); the full payload is pinned by its digest. Pure and deterministic: the
same event always gives the same description, so replays rebuild identical records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.events.common import Payload
from shared.events.deployment import (
    DeploymentFailed,
    ModelDeployed,
    ModelPromoted,
    ModelRolledBack,
)
from shared.events.envelope import Event
from shared.events.governance import (
    ModelApproved,
    ModelRejected,
    ModelRetired,
    ModelSuspended,
    ReviewRequested,
)
from shared.events.identity import TokenIssued, TokenRevoked
from shared.events.monitoring import (
    AlertResolved,
    DriftDetected,
    MultivariateDrift,
    PerformanceDegraded,
)
from shared.events.registry import ModelRegistered, ModelRegistrationFailed, RiskTierLowered
from shared.events.topics import BY_EVENT_TYPE
from shared.events.training import TrainingCompleted, TrainingFailed


@dataclass(frozen=True)
class Description:
    actor: str
    action: str
    version: int | None
    summary: dict[str, Any]


def describe(event: Event[Payload]) -> Description:
    data = event.data
    service = event.source.rsplit("/", 1)[-1]
    actor = _actor(data) or service
    version = getattr(data, "version", None)
    summary = {k: v for k, v in _summary(data).items() if v is not None}
    return Description(actor, BY_EVENT_TYPE[event.type].name, version, summary)


def _actor(data: Any) -> str | None:
    if isinstance(data, ModelRegistered):
        return data.registered_by
    if isinstance(data, TokenIssued):
        return data.created_by
    if isinstance(data, TokenRevoked):
        return data.revoked_by
    if isinstance(data, ReviewRequested):
        return "policy"
    if isinstance(data, ModelApproved):
        return ",".join(data.decision.approvers) or "policy"
    if isinstance(
        data,
        ModelRejected
        | ModelSuspended
        | ModelRetired
        | ModelPromoted
        | ModelRolledBack
        | RiskTierLowered,
    ):
        return data.actor
    return None


def _verdict(decision: Any) -> dict[str, Any]:
    return {
        "policy": decision.policy,
        "policy_version": decision.policy_version,
        "policy_digest": decision.policy_digest,
        "risk_tier": decision.risk_tier,
        "failed_checks": [c.name for c in decision.checks if not c.passed],
    }


def _summary(data: Any) -> dict[str, Any]:
    match data:
        case TrainingCompleted():
            return {
                "job_id": data.job_id,
                "algorithm": data.algorithm,
                "artifact_sha256": data.artifact.sha256,
                "metrics": data.metrics,
                "reason": data.reason,
            }
        case TrainingFailed():
            return {
                "request_id": data.request_id,
                "reason": data.reason,
                "error_class": data.error_class,
            }
        case ModelRegistered():
            return {
                "artifact_sha256": data.artifact.sha256,
                "source": data.source,
                "risk_tier": data.metadata.risk_tier,
                "owner": data.metadata.owner,
                "requested_by": data.requested_by,
                "metrics": data.metrics,
                "measured_by": data.measured.by if data.measured else None,
                "claimed_metrics": data.claimed.metrics if data.claimed else None,
                "parent_version": data.parent_version,
            }
        case RiskTierLowered():
            return {"risk_tier": data.risk_tier, "previous": data.previous, "reason": data.reason}
        case ModelRegistrationFailed():
            return {
                "reference": data.reference,
                "reason": data.reason,
                "failed_checks": data.failed_checks,
            }
        case ReviewRequested():
            return {**_verdict(data.decision), "required_approvals": data.required_approvals}
        case ModelApproved():
            return {
                **_verdict(data.decision),
                "artifact_sha256": data.artifact.sha256,
                "approvers": data.decision.approvers,
                "comments": data.decision.comments,
                "strategy": data.decision.strategy.kind,
            }
        case ModelRejected():
            return {
                **_verdict(data.decision),
                "failed_checks": data.failed_checks,
                "comment": data.comment or None,
            }
        case ModelSuspended() | ModelRetired():
            return {"reason": data.reason}
        case ModelDeployed():
            return {
                "arm": data.arm,
                "weight": data.weight,
                "strategy": data.strategy.kind,
                "replica": data.replica,
            }
        case ModelPromoted():
            return {"previous_version": data.previous_version, "reason": data.reason}
        case ModelRolledBack():
            return {"restored_version": data.restored_version, "reason": data.reason}
        case DeploymentFailed():
            return {"stage": data.stage, "reason": data.reason, "still_serving": data.still_serving}
        case DriftDetected():
            return {
                "alert_id": data.alert_id,
                "arm": data.arm,
                "top_features": data.top_features,
                # The features together drifted: an alert may hold no single drifted feature.
                "multivariate": multivariate_summary(data.multivariate),
            }
        case PerformanceDegraded():
            return {
                "alert_id": data.alert_id,
                "arm": data.arm,
                "metric": data.metric,
                "value": data.value,
                "threshold": data.threshold,
            }
        case AlertResolved():
            return {"alert_id": data.alert_id, "kind": data.kind}
        case TokenIssued():
            return {"token_id": data.token_id, "name": data.name, "role": data.role}
        case TokenRevoked():
            return {"token_id": data.token_id}
    return {}


def multivariate_summary(drift: MultivariateDrift | None) -> dict[str, Any] | None:
    """What the multivariate test found (absent when the monitor ran none)."""
    if drift is None:
        return None
    return {
        "method": drift.method,
        "drifted": drift.drifted,
        "statistic": drift.statistic,
        "threshold": drift.threshold,
        "p_value": drift.p_value,
    }
