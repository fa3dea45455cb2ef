"""Payloads of the deployer's topics: what serves where, and every prediction it made."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from shared.events.common import Arm, DeploymentStrategy, Payload


class ModelDeployed(Payload):
    model_name: str
    version: int
    arm: Arm
    strategy: DeploymentStrategy
    weight: float = Field(ge=0.0, le=1.0)
    replica: str


class ModelPromoted(Payload):
    model_name: str
    version: int
    previous_version: int | None
    reason: str
    evidence: dict[str, float] = Field(default_factory=dict)
    actor: str = "deployer"


class ModelRolledBack(Payload):
    model_name: str
    version: int  # the version taken out of service
    restored_version: int | None
    reason: str
    evidence: dict[str, float] = Field(default_factory=dict)
    actor: str = "deployer"


class DeploymentFailed(Payload):
    model_name: str
    version: int
    stage: Literal["fetch", "verify", "session", "warmup", "config"]
    reason: str
    still_serving: int | None = None


class PredictionLogged(Payload):
    request_id: str
    model_name: str
    version: int
    arm: Arm
    time: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    latency_ms: float
    status: Literal["ok", "error"]
    error: str | None = None
