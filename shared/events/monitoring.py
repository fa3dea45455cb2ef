"""Payloads of the monitoring topics: ground truth in, evidence of decay out."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from shared.events.common import Payload, Window


class Label(Payload):
    request_id: str
    value: Any


class LabelsReceived(Payload):
    model_name: str
    labels: list[Label] = Field(min_length=1)


class FeatureDrift(Payload):
    feature: str
    method: Literal["psi", "ks", "chi2", "jensen_shannon", "wasserstein"]
    statistic: float
    threshold: float
    p_value: float | None = None
    drifted: bool
    reference_n: int
    current_n: int


class DriftDetected(Payload):
    model_name: str
    version: int
    arm: str
    alert_id: str
    window: Window
    features: list[FeatureDrift]
    top_features: list[str]
    prediction_drift: FeatureDrift | None = None


class PerformanceDegraded(Payload):
    model_name: str
    version: int
    arm: str
    alert_id: str
    metric: str
    value: float
    baseline: float
    threshold: float
    window: Window


class AlertResolved(Payload):
    model_name: str
    version: int
    alert_id: str
    kind: Literal["drift", "performance"]
    window: Window


class MonitorMetrics(Payload):
    model_name: str
    version: int
    arm: str
    window: Window
    metrics: dict[str, float]
