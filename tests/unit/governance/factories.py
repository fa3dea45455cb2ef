"""Payloads governance consumes, with defaults that pass the default policy's low tier."""

from __future__ import annotations

from typing import Any

from shared.events.common import (
    ArtifactRef,
    DeploymentStrategy,
    ModelMetadata,
    ModelSignature,
    TensorSpec,
    Window,
)
from shared.events.deployment import ModelDeployed, ModelPromoted, ModelRolledBack
from shared.events.monitoring import DriftDetected, FeatureDrift
from shared.events.registry import ModelRegistered
from shared.events.training import TrainingCompleted

SHA = "ab" * 32
SIGNATURE = ModelSignature(
    inputs=[TensorSpec(name="input", datatype="FP32", shape=[-1, 4])],
    outputs=[TensorSpec(name="label", datatype="INT64", shape=[-1])],
)
HIGH_RISK = {
    "risk_tier": "high",
    "owner": "olivia",
    "team": "credit",
    "description": "Scores loan applications",
    "intended_use": "Pre-screening of consumer loans; a person takes the final decision",
}


def registered(
    name: str,
    version: int = 1,
    *,
    accuracy: float = 0.95,
    metadata: dict[str, Any] | None = None,
    fairness: dict[str, float] | None = None,
    parity: bool = True,
    **extra: Any,
) -> ModelRegistered:
    meta = {"owner": "olivia", "risk_tier": "low", **(metadata or {})}
    return ModelRegistered(
        model_name=name,
        version=version,
        artifact=ArtifactRef(uri=f"file:///artifacts/{name}-{version}.onnx", sha256=SHA, size=1234),
        signature=SIGNATURE,
        task="classification",
        source="trainer",
        metrics={"accuracy": accuracy, "f1": accuracy - 0.01},
        metadata=ModelMetadata(**meta),
        fairness=fairness or {},
        parity_passed=parity,
        registered_by=extra.pop("registered_by", "registry"),
        dataset_sha256="cd" * 32,
        feature_importance={"petal_length": 0.6, "sepal_width": 0.1},
        **extra,
    )


def deployed(name: str, version: int, arm: str = "stable", weight: float = 1.0) -> ModelDeployed:
    return ModelDeployed(
        model_name=name,
        version=version,
        arm=arm,  # type: ignore[arg-type]
        strategy=DeploymentStrategy(kind="canary" if arm == "canary" else "replace"),
        weight=weight,
        replica="deployer-0",
    )


def promoted(name: str, version: int, previous: int | None) -> ModelPromoted:
    return ModelPromoted(
        model_name=name,
        version=version,
        previous_version=previous,
        reason="canary healthy",
        evidence={"error_rate": 0.0},
    )


def rolled_back(name: str, version: int, restored: int | None) -> ModelRolledBack:
    return ModelRolledBack(
        model_name=name, version=version, restored_version=restored, reason="error rate"
    )


def drift(name: str, version: int) -> DriftDetected:
    feature = FeatureDrift(
        feature="petal_length",
        method="psi",
        statistic=0.4,
        threshold=0.2,
        drifted=True,
        reference_n=500,
        current_n=300,
    )
    return DriftDetected(
        model_name=name,
        version=version,
        arm="stable",
        alert_id=f"alert-{name}",
        window=Window(start="2025-01-01T00:00:00Z", end="2025-01-01T01:00:00Z", count=300),
        features=[feature],
        top_features=["petal_length"],
    )


def trained(name: str) -> TrainingCompleted:
    return TrainingCompleted(
        request_id=f"req-{name}",
        job_id=f"job-{name}",
        model_name=name,
        task="classification",
        algorithm="logistic_regression",
        artifact=ArtifactRef(uri=f"file:///artifacts/{name}.onnx", sha256=SHA, size=1234),
        metrics={"accuracy": 0.95},
        params={"C": 1.0},
        candidates=[],
        dataset_sha256="cd" * 32,
        parity_passed=True,
        duration_s=1.5,
    )
