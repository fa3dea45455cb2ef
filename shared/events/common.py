"""Value objects that several payloads share."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Sha256 = str
Task = Literal["classification", "regression"]
RiskTier = Literal["low", "medium", "high"]
Arm = Literal["stable", "canary", "shadow"]
TensorDatatype = Literal[
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
    "BYTES",
]


class Payload(BaseModel):
    """Base of every payload: immutable, and unknown fields are an error, not ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ArtifactRef(Payload):
    """Claim check: large bytes never ride on the bus, only where they are and their digest."""

    uri: str
    sha256: Sha256 = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    media_type: str = "application/octet-stream"


class TensorSpec(Payload):
    name: str
    datatype: TensorDatatype
    shape: list[int]  # -1 marks a dynamic dimension


class ModelSignature(Payload):
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]


class ModelMetadata(Payload):
    """What people say about a model; governance policies require some of it per risk tier."""

    owner: str | None = None
    team: str | None = None
    description: str | None = None
    intended_use: str | None = None
    risk_tier: RiskTier = "low"
    tags: dict[str, str] = Field(default_factory=dict)
    sensitive_attribute: str | None = None
    retraining: Literal["off", "auto"] = "off"
    monitor_thresholds: dict[str, float] = Field(default_factory=dict)
    redact_fields: list[str] = Field(default_factory=list)


class CheckResult(Payload):
    name: str
    passed: bool
    value: Any = None
    threshold: Any = None
    message: str = ""


class DeploymentStrategy(Payload):
    kind: Literal["replace", "canary", "shadow"] = "replace"
    canary_weight: float = Field(default=0.1, ge=0.0, le=1.0)
    sticky_header: str | None = None
    promote_after_requests: int = Field(default=200, ge=1)
    max_error_rate_delta: float = 0.01
    max_latency_ratio: float = 2.0
    # Labelled evidence (0: none): the candidate is promoted only once the monitor has
    # scored this many labelled predictions of it and of the stable version during the
    # rollout, and it is no worse than the stable by more than ``max_quality_drop``
    # (accuracy points for a classifier, a fraction of the stable's mean absolute error for
    # a regressor); worse than that, it is rolled back.
    min_labelled: int = Field(default=0, ge=0, le=1_000_000)
    max_quality_drop: float = Field(default=0.02, ge=0.0, le=1.0)


class Window(Payload):
    start: str
    end: str
    count: int
