"""Payloads of the deployer's topics: what serves where, and every prediction it made."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from shared.events.common import Arm, DeploymentStrategy, Payload


class ModelDeployed(Payload):
    """A version joined a route. ``weight`` is its share of answers: 1.0 for a stable
    version, the canary weight for a canary, 0.0 for a shadow (it sees every request but
    answers none). ``replica`` is the deployer replica that recorded the transition; every
    replica serves it once loaded."""

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
    """One inference. ``inputs`` and ``outputs`` map tensor names to nested lists shaped as
    the tensors (a one-row request with input ``X`` of shape [1, 30] logs ``{"X": [[...30
    numbers]]}``); BYTES tensors are lists of strings; a field named in the model's
    ``redact_fields`` is replaced by ``"[redacted]"``. A failed inference has
    ``status="error"``, the ``error`` message, and whatever inputs were understood (``{}``
    when the request could not be read). A shadow run is logged with ``arm="shadow"`` and the
    same ``request_id`` as the stable answer it mirrors."""

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
