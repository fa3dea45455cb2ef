"""Payloads of the training topics: asks for training and what became of them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from shared.events.common import ArtifactRef, ModelMetadata, Payload, Task

Algorithm = Literal[
    "logistic_regression",
    "linear_regression",
    "ridge",
    "random_forest",
    "hist_gradient_boosting",
    "mlp",
]
BuiltinDataset = Literal["iris", "wine", "breast_cancer", "digits", "diabetes"]
# The task each bundled dataset is for; a request for another task is refused.
BUILTIN_TASKS: dict[BuiltinDataset, Task] = {
    "iris": "classification",
    "wine": "classification",
    "breast_cancer": "classification",
    "digits": "classification",
    "diabetes": "regression",
}


class DatasetSpec(Payload):
    """A dataset scikit-learn ships (``builtin``) or a CSV/Parquet file by claim check."""

    builtin: BuiltinDataset | None = None
    artifact: ArtifactRef | None = None
    format: Literal["csv", "parquet"] | None = None
    schema_: dict[str, Literal["float", "int", "str", "bool", "text"]] | None = Field(
        default=None, alias="schema"
    )

    @model_validator(mode="after")
    def _exactly_one_source(self) -> DatasetSpec:
        if (self.builtin is None) == (self.artifact is None):
            raise ValueError("dataset needs exactly one of 'builtin' or 'artifact'")
        return self


class CandidateSpec(Payload):
    algorithm: Algorithm
    search_space: dict[str, list[Any]] = Field(default_factory=dict)


class TrainingRequested(Payload):
    request_id: str
    model_name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")
    dataset: DatasetSpec
    target: str | None = None
    task: Task
    candidates: list[CandidateSpec] = Field(default_factory=list)
    metric: str | None = None
    holdout_fraction: float = Field(default=0.2, gt=0.0, lt=0.9)
    cv_folds: int = Field(default=3, ge=2, le=10)
    search: Literal["grid", "random"] = "grid"
    max_trials_per_candidate: int = Field(default=8, ge=1)
    seed: int = 0
    metadata: ModelMetadata = Field(default_factory=ModelMetadata)
    parent_version: int | None = None
    reason: Literal["manual", "drift", "performance", "schedule"] = "manual"
    # Recent labelled production data (CSV: the same feature columns plus the target),
    # appended to the training split; the holdout comes from ``dataset`` alone.
    extra_data: ArtifactRef | None = None
    # The principal id of who asked (``token:<id>``): set by the trainer's HTTP API from
    # the caller's token, whatever the body says; a retraining keeps the original asker.
    # Carried to the registered version, whose approval four-eyes then refuses them.
    requested_by: str | None = None


class CandidateResult(Payload):
    """One trial of the search: an algorithm, its hyperparameters, its k-fold CV score."""

    algorithm: str
    params: dict[str, Any]
    cv_score: float
    cv_std: float
    fit_time_s: float = 0.0


class TrainingCompleted(Payload):
    request_id: str
    job_id: str
    model_name: str
    task: Task
    algorithm: str
    artifact: ArtifactRef
    metrics: dict[str, float]
    params: dict[str, Any]
    candidates: list[CandidateResult]
    dataset_sha256: str
    reference_profile: ArtifactRef | None = None
    feature_importance: dict[str, float] = Field(default_factory=dict)
    fairness: dict[str, float] = Field(default_factory=dict)
    parity_passed: bool
    duration_s: float
    metadata: ModelMetadata = Field(default_factory=ModelMetadata)
    parent_version: int | None = None
    reason: Literal["manual", "drift", "performance", "schedule"] = "manual"
    # Permutation importance on the holdout, mean and std per feature (JSON).
    importance: ArtifactRef | None = None
    # The profile's reference sample (shared.events.reference_sample): training rows as CSV.
    reference_sample: ArtifactRef | None = None
    requested_by: str | None = None  # principal id of who asked for the training


class TrainingFailed(Payload):
    request_id: str
    job_id: str | None = None
    model_name: str
    reason: str
    error_class: str
