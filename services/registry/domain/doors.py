"""The three doors: what each one brings, turned into one :class:`Candidate`."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.registry.domain.candidate import Candidate, description_of
from shared.events.common import ModelMetadata, Task
from shared.events.registry import ModelSubmitted
from shared.events.training import TrainingCompleted


def from_training(completed: TrainingCompleted) -> Candidate:
    """The trainer's result; one training job registers at most one version."""
    return Candidate(
        **description_of(completed),
        model_name=completed.model_name,
        source="trainer",
        origin=completed.job_id,
        reference=completed.request_id,
        training_job_id=completed.job_id,
        registered_by="trainer",
    )


def from_submission(submitted: ModelSubmitted, submitter: str) -> Candidate:
    """A model trained elsewhere; one submission id registers at most one version."""
    return Candidate(
        **description_of(submitted),
        model_name=submitted.model_name,
        source="submission",
        origin=submitted.submission_id,
        reference=submitted.submission_id,
        registered_by=submitter,
        eval_target=submitted.evaluation.target if submitted.evaluation else None,
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
    # The target column of the ``eval_data`` part (required with it).
    target: str | None = Field(default=None, min_length=1, max_length=200)
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
    """An uploaded file; without an ``upload_id`` every upload is a new origin."""
    upload_id = upload.upload_id or str(uuid.uuid4())
    return Candidate(
        **description_of(upload),
        model_name=name,
        source="upload",
        origin=upload_id,
        reference=upload_id,
        registered_by=uploader,
        eval_target=upload.target,
    )
