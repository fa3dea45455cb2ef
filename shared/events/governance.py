"""Payloads of the governance topics: decisions, reviews, the kill switch and the audit trail."""

from __future__ import annotations

from pydantic import Field

from shared.events.common import ArtifactRef, CheckResult, DeploymentStrategy, Payload


class Decision(Payload):
    policy: str
    policy_version: str
    policy_digest: str
    checks: list[CheckResult]
    approvers: list[str] = Field(default_factory=list)
    strategy: DeploymentStrategy = Field(default_factory=DeploymentStrategy)


class ReviewRequested(Payload):
    model_name: str
    version: int
    required_approvals: int
    decision: Decision


class ModelApproved(Payload):
    model_name: str
    version: int
    artifact: ArtifactRef
    decision: Decision


class ModelRejected(Payload):
    model_name: str
    version: int
    decision: Decision
    failed_checks: list[str]
    actor: str = "policy"
    comment: str = ""


class ModelSuspended(Payload):
    model_name: str
    version: int
    reason: str
    actor: str


class ModelRetired(Payload):
    model_name: str
    version: int
    reason: str
    actor: str


class AuditRecord(Payload):
    """One link of the hash chain: ``hash = sha256(prev_hash || canonical(record without hash))``."""

    seq: int
    time: str
    actor: str
    action: str
    model_name: str
    version: int | None = None
    event_id: str
    event_type: str
    correlation_id: str | None = None
    payload_sha256: str
    summary: dict[str, object] = Field(default_factory=dict)
    prev_hash: str
    hash: str
