"""The three doors: what each one brings, turned into one :class:`Candidate`."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.registry.domain import Candidate
from shared.events.common import ModelMetadata, Task
from shared.events.registry import ModelSubmitted
from shared.events.training import TrainingCompleted


def from_training(completed: TrainingCompleted) -> Candidate:
    """The trainer's result; one training job registers at most one version."""
    return Candidate(
        model_name=completed.model_name,
        source="trainer",
        origin=completed.job_id,
        reference=completed.request_id,
        task=completed.task,
        metadata=completed.metadata,
        metrics=completed.metrics,
        params=completed.params,
        algorithm=completed.algorithm,
        dataset_sha256=completed.dataset_sha256,
        training_job_id=completed.job_id,
        parent_version=completed.parent_version,
        feature_importance=completed.feature_importance,
        fairness=completed.fairness,
        parity_passed=completed.parity_passed,
        registered_by="trainer",
    )


def from_submission(submitted: ModelSubmitted, submitter: str) -> Candidate:
    """A model trained elsewhere; one submission id registers at most one version."""
    return Candidate(
        model_name=submitted.model_name,
        source="submission",
        origin=submitted.submission_id,
        reference=submitted.submission_id,
        task=submitted.task,
        metadata=submitted.metadata,
        metrics=submitted.metrics,
        params=submitted.params,
        algorithm=submitted.algorithm,
        dataset_sha256=submitted.dataset_sha256,
        parent_version=submitted.parent_version,
        feature_importance=submitted.feature_importance,
        fairness=submitted.fairness,
        parity_passed=submitted.parity_passed,
        registered_by=submitter,
    )


class UploadMetadata(BaseModel):
    """The JSON part of an upload: what a submission event would say besides the artifact.

    ``sha256``, when given, must match the uploaded bytes. ``upload_id`` makes a retried
    upload register once (the retry answers with the version already registered).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    task: Task
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    upload_id: str | None = Field(default=None, min_length=1, max_length=200)
    metadata: ModelMetadata = Field(default_factory=ModelMetadata)
    metrics: dict[str, float] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    algorithm: str | None = None
    dataset_sha256: str | None = None
    parent_version: int | None = Field(default=None, ge=1)
    feature_importance: dict[str, float] = Field(default_factory=dict)
    fairness: dict[str, float] = Field(default_factory=dict)
    parity_passed: bool = False


def from_upload(name: str, upload: UploadMetadata, uploader: str) -> Candidate:
    upload_id = upload.upload_id or str(uuid.uuid4())
    return Candidate(
        model_name=name,
        source="upload",
        origin=upload_id,
        reference=upload_id,
        task=upload.task,
        metadata=upload.metadata,
        metrics=upload.metrics,
        params=upload.params,
        algorithm=upload.algorithm,
        dataset_sha256=upload.dataset_sha256,
        parent_version=upload.parent_version,
        feature_importance=upload.feature_importance,
        fairness=upload.fairness,
        parity_passed=upload.parity_passed,
        registered_by=uploader,
    )
