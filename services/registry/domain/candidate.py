"""A candidate version: everything known about a model before it is validated and numbered.

A candidate arrives through one of three doors (:mod:`.doors`: the trainer's
``training.completed``, an outside ``model.submitted``, an HTTP upload) and becomes the same
:class:`Candidate`, so that every door goes through one validation path and one way of
recording a version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from services.registry.domain.refusal import Refusal
from shared.events.common import ArtifactRef, ModelMetadata, ModelSignature, Task
from shared.events.registry import (
    ClaimedEvidence,
    MeasuredEvidence,
    ModelRegistered,
    ModelRegistrationFailed,
)

Source = Literal["trainer", "submission", "upload"]

# What a door says about the model besides where its bytes are: these fields carry the
# same name and meaning in every door's payload, in the candidate and in model.registered.
DESCRIPTION = (
    "task",
    "metadata",
    "metrics",
    "params",
    "algorithm",
    "dataset_sha256",
    "parent_version",
    "feature_importance",
    "fairness",
    "parity_passed",
)


def description_of(described: object) -> dict[str, Any]:
    """The :data:`DESCRIPTION` fields of a payload, an upload's metadata or a candidate."""
    return {name: getattr(described, name) for name in DESCRIPTION}


@dataclass(frozen=True)
class Candidate:
    """A would-be version.

    ``origin`` identifies what produced it (training job, submission or upload id): one
    origin registers at most one version. ``reference`` is the id the producer knows it by,
    named in ``model.registration_failed`` (the training request id for the trainer).
    ``parent_version`` is the one the producer named, if any.

    ``metrics``, ``fairness`` and ``parity_passed`` are what the door says about the
    model: measured when the door is the trainer (it ran in the platform), claimed for
    every other door. ``eval_target`` is the target column of the evaluation data the
    door brought, if it brought any (the sandbox then measures the model on it).
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
    eval_target: str | None = None

    def evidence(
        self, measured: MeasuredEvidence | None
    ) -> tuple[MeasuredEvidence | None, ClaimedEvidence | None]:
        """Measured and claimed evidence: the trainer's own numbers count as measured;
        anybody else's are claims, and only the sandbox's ``measured`` is measured."""
        if self.source == "trainer":
            own = MeasuredEvidence(
                by="trainer",
                metrics=self.metrics,
                fairness=self.fairness,
                parity_passed=self.parity_passed,
                dataset_sha256=self.dataset_sha256,
            )
            return own, None
        said = ClaimedEvidence(
            metrics=self.metrics, fairness=self.fairness, parity_passed=self.parity_passed
        )
        return measured, said if said != ClaimedEvidence() else None

    def registered(
        self,
        *,
        version: int,
        parent_version: int | None,
        artifact: ArtifactRef,
        signature: ModelSignature,
        reference_profile: ArtifactRef | None,
        measured: MeasuredEvidence | None = None,
    ) -> ModelRegistered:
        """The announcement of this candidate accepted as ``version`` of its model; its
        ``metrics``, ``fairness`` and ``parity_passed`` are the measured ones."""
        measured, claimed = self.evidence(measured)
        return ModelRegistered(
            **{
                **description_of(self),
                "parent_version": parent_version,
                "metrics": measured.metrics if measured else {},
                "fairness": measured.fairness if measured else {},
                "parity_passed": measured is not None and measured.parity_passed is True,
            },
            measured=measured,
            claimed=claimed,
            model_name=self.model_name,
            version=version,
            source=self.source,
            artifact=artifact,
            signature=signature,
            reference_profile=reference_profile,
            training_job_id=self.training_job_id,
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
