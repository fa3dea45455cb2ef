"""Payloads of the registry topics: models submitted from outside and versions registered."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from shared.events.common import (
    ArtifactRef,
    ModelMetadata,
    ModelSignature,
    Payload,
    RiskTier,
    Task,
)


class EvaluationData(Payload):
    """Held-out data the platform runs the model on to measure its evidence itself.

    ``data`` is a CSV file with a header: the model's input columns and ``target``.
    ``reference_predictions``, a one-column CSV with a row per data row, is what the model
    predicted in the framework it was trained in; the ONNX outputs are compared with it
    (parity). The sensitive attribute for fairness is ``metadata.sensitive_attribute``.
    """

    data: ArtifactRef
    target: str = Field(min_length=1, max_length=200)
    reference_predictions: ArtifactRef | None = None


class MeasuredEvidence(Payload):
    """Evidence the platform computed itself: policies decide on this, and on nothing else.

    ``by`` is who measured it: the trainer (on its holdout, in the platform) or the
    registry's sandbox (on evaluation data named at registration). ``parity_passed`` is
    ``None`` when nothing was given to compare the ONNX outputs with.
    """

    by: Literal["trainer", "registry"]
    metrics: dict[str, float] = Field(default_factory=dict)
    fairness: dict[str, float] = Field(default_factory=dict)
    parity_passed: bool | None = None
    parity: dict[str, float] = Field(default_factory=dict)
    rows: int | None = None
    dataset_sha256: str | None = None


class ClaimedEvidence(Payload):
    """What a submitter said about its own model: stored and shown, never decided on."""

    metrics: dict[str, float] = Field(default_factory=dict)
    fairness: dict[str, float] = Field(default_factory=dict)
    parity_passed: bool = False


class ModelSubmitted(Payload):
    """A model trained elsewhere (a CI job, another platform), announced by claim check."""

    submission_id: str
    model_name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")
    artifact: ArtifactRef
    task: Task
    metadata: ModelMetadata = Field(default_factory=ModelMetadata)
    metrics: dict[str, float] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    algorithm: str | None = None
    dataset_sha256: str | None = None
    # A modelbus.reference-profile/1 document (shared.events.reference_profile): what the
    # monitor compares live traffic with; without one, drift is not monitored.
    reference_profile: ArtifactRef | None = None
    feature_importance: dict[str, float] = Field(default_factory=dict)
    fairness: dict[str, float] = Field(default_factory=dict)
    parity_passed: bool = False
    parent_version: int | None = None
    # With evaluation data the registry measures the model; without, what the submission
    # says about metrics, fairness and parity is only claimed.
    evaluation: EvaluationData | None = None


class ModelRegistered(Payload):
    """A new version. ``metrics``, ``fairness`` and ``parity_passed`` are the measured
    evidence (empty when nothing was measured: see ``measured``); what a submitter
    reported about its own model is in ``claimed``."""

    model_name: str
    version: int = Field(ge=1)
    artifact: ArtifactRef
    signature: ModelSignature
    task: Task
    source: Literal["trainer", "submission", "upload"]
    metrics: dict[str, float] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    algorithm: str | None = None
    metadata: ModelMetadata = Field(default_factory=ModelMetadata)
    parent_version: int | None = None
    dataset_sha256: str | None = None
    training_job_id: str | None = None
    reference_profile: ArtifactRef | None = None
    feature_importance: dict[str, float] = Field(default_factory=dict)
    fairness: dict[str, float] = Field(default_factory=dict)
    parity_passed: bool = False
    registered_by: str | None = None
    measured: MeasuredEvidence | None = None
    claimed: ClaimedEvidence | None = None


class ModelRegistrationFailed(Payload):
    model_name: str
    source: Literal["trainer", "submission", "upload"]
    reference: str  # the submission id, training request id or upload id
    reason: str
    failed_checks: list[str] = Field(default_factory=list)


class RiskTierLowered(Payload):
    """An approver lowered the risk tier a model's next versions may be registered at
    (the first version pins it); governance audits it like every lifecycle step."""

    model_name: str
    risk_tier: RiskTier
    previous: RiskTier
    actor: str
    reason: str = Field(min_length=1, max_length=2000)
