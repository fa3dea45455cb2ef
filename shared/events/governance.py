"""Payloads of the governance topics: decisions, reviews, the kill switch and the audit trail."""

from __future__ import annotations

from pydantic import Field

from shared.events.common import (
    ArtifactRef,
    CheckResult,
    DeploymentStrategy,
    ModelMetadata,
    Payload,
    RiskTier,
)


class Decision(Payload):
    """Why a version may or may not serve: the policy (name, version, digest of its file),
    every check with its value, threshold and result, and the people who approved."""

    policy: str
    policy_version: str
    policy_digest: str
    checks: list[CheckResult]
    approvers: list[str] = Field(default_factory=list)
    strategy: DeploymentStrategy = Field(default_factory=DeploymentStrategy)
    risk_tier: RiskTier | None = None
    required_approvals: int = 0
    comments: dict[str, str] = Field(default_factory=dict)  # approver -> comment


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
    # The registered metadata, carried so the deployer need not read another service's
    # state: it needs at least ``redact_fields`` for prediction logs.
    metadata: ModelMetadata = Field(default_factory=ModelMetadata)


class ModelRejected(Payload):
    model_name: str
    version: int
    decision: Decision
    failed_checks: list[str]
    actor: str = "policy"
    comment: str = ""


class VersionWithdrawn(Payload):
    """A version governance takes out of service, by whom and why: suspended (the kill
    switch, :class:`ModelSuspended`) or retired for good (:class:`ModelRetired`)."""

    model_name: str
    version: int
    reason: str
    actor: str


class ModelSuspended(VersionWithdrawn):
    pass


class ModelRetired(VersionWithdrawn):
    pass


class AuditCheckpoint(Payload):
    """A signed head of governance's global audit chain, published when it is written.

    ``signature`` is the HMAC-SHA256 of ``"seq:chain_hash"`` with the checkpoint key (which
    only governance and auditors hold). Kept outside the database on the topic, it lets
    ``modelbus audit verify --against-topic`` detect a log truncated or rewritten together
    with its checkpoint table. ``log`` names the log (governance's schema).
    """

    log: str
    seq: int = Field(ge=1)
    chain_hash: str
    signature: str


class AuditRecord(Payload):
    """One link of a model's hash chain, one per lifecycle event of that model.

    ``hash = sha256(canonical(record without seq and hash))`` where canonical is
    ``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` of the
    fields exactly as they appear in the event's ``data`` (nulls included). The record includes
    ``prev_hash``, the hash of the model's previous record (64 zeros for the first), and
    ``model_seq``, its position in the model's chain. ``seq`` is the position in governance's
    global log (where it is bound by a second chain and signed checkpoints); it is left out
    of ``hash`` so that replaying the topics into a fresh log gives every model the same chain.
    """

    seq: int
    model_seq: int = Field(default=1, ge=1)
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
