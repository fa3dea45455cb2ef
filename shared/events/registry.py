"""Payloads of the registry topics: models submitted from outside and versions registered."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from shared.events.common import ArtifactRef, ModelMetadata, ModelSignature, Payload, Task


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


class ModelRegistered(Payload):
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
    # Principal ids (``token:<id>``) of who registered the version (an upload; services and
    # submitters otherwise) and who asked for its training: neither may approve it.
    registered_by: str | None = None
    requested_by: str | None = None


class ModelRegistrationFailed(Payload):
    model_name: str
    source: Literal["trainer", "submission", "upload"]
    reference: str  # the submission id, training request id or upload id
    reason: str
    failed_checks: list[str] = Field(default_factory=list)
