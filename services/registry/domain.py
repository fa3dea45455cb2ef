"""What the registry reasons about: a candidate version, and why one can be refused.

A candidate arrives through one of three doors (the trainer's ``training.completed``, an
outside ``model.submitted``, an HTTP upload) and becomes the same :class:`Candidate`, so that
every door goes through one validation path and one way of recording a version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from shared.events.common import ArtifactRef, ModelMetadata, ModelSignature, Task
from shared.events.registry import ModelRegistered, ModelRegistrationFailed

Source = Literal["trainer", "submission", "upload"]
NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,62}$"


class Check(StrEnum):
    """The acceptance checks, by the names ``model.registration_failed`` reports."""

    SIZE = "size"
    FETCH = "fetch"
    DIGEST = "digest"
    PARSE = "onnx_parse"
    DOMAINS = "operator_domains"
    EXTERNAL_DATA = "external_data"
    CHECKER = "onnx_checker"
    SIGNATURE = "signature"
    SESSION = "onnxruntime_session"
    LINEAGE = "lineage"


class Refusal(Exception):
    """A candidate failed one or more checks; ``failures`` maps each check to its reason."""

    def __init__(self, failures: dict[Check, str]) -> None:
        self.failures = failures
        super().__init__(self.reason)

    @classmethod
    def of(cls, check: Check, reason: str) -> Refusal:
        return cls({check: reason})

    @property
    def reason(self) -> str:
        return "; ".join(f"{check.value}: {why}" for check, why in self.failures.items())

    @property
    def status_code(self) -> int:
        """413 when the only problem is size, else 422 (well-formed request, unacceptable model)."""
        return 413 if set(self.failures) == {Check.SIZE} else 422


@dataclass(frozen=True)
class Candidate:
    """Everything known about a would-be version before it is validated and numbered.

    ``origin`` identifies what produced it (training job, submission or upload id): one
    origin registers at most one version. ``reference`` is the id the producer knows it by,
    named in ``model.registration_failed`` (the training request id for the trainer).
    """

    model_name: str
    source: Source
    origin: str
    reference: str
    task: Task
    metadata: ModelMetadata = field(default_factory=ModelMetadata)
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    algorithm: str | None = None
    dataset_sha256: str | None = None
    training_job_id: str | None = None
    parent_version: int | None = None
    feature_importance: dict[str, float] = field(default_factory=dict)
    fairness: dict[str, float] = field(default_factory=dict)
    parity_passed: bool = False
    registered_by: str | None = None

    def registered(
        self,
        *,
        version: int,
        parent_version: int | None,
        artifact: ArtifactRef,
        signature: ModelSignature,
        reference_profile: ArtifactRef | None,
    ) -> ModelRegistered:
        return ModelRegistered(
            model_name=self.model_name,
            version=version,
            artifact=artifact,
            signature=signature,
            task=self.task,
            source=self.source,
            metrics=self.metrics,
            params=self.params,
            algorithm=self.algorithm,
            metadata=self.metadata,
            parent_version=parent_version,
            dataset_sha256=self.dataset_sha256,
            training_job_id=self.training_job_id,
            reference_profile=reference_profile,
            feature_importance=self.feature_importance,
            fairness=self.fairness,
            parity_passed=self.parity_passed,
            registered_by=self.registered_by,
        )

    def refused(self, refusal: Refusal) -> ModelRegistrationFailed:
        return ModelRegistrationFailed(
            model_name=self.model_name,
            source=self.source,
            reference=self.reference,
            reason=refusal.reason,
            failed_checks=[check.value for check in refusal.failures],
        )
