"""Payloads of the monitoring topics: ground truth in, evidence of decay out."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from shared.events.common import ArtifactRef, Payload, Window


class Label(Payload):
    request_id: str
    value: Any


class LabelsReceived(Payload):
    model_name: str
    labels: list[Label] = Field(min_length=1)


class FeatureDrift(Payload):
    """One statistic of one feature in one window. ``threshold`` is the p-value bound
    (after the Bonferroni correction) for ``ks`` and ``chi2``, else the statistic's bound;
    ``wasserstein`` is in reference standard deviations."""

    feature: str
    method: Literal["psi", "ks", "chi2", "jensen_shannon", "wasserstein"]
    statistic: float
    threshold: float
    p_value: float | None = None
    drifted: bool
    reference_n: int
    current_n: int


class Alert(Payload):
    """What every monitor alert says first: the model version and arm it is about, and its
    id. Consumers that treat drift and degraded performance alike take this base."""

    model_name: str
    version: int
    arm: str
    alert_id: str


class DriftDetected(Alert):
    window: Window
    features: list[FeatureDrift]
    top_features: list[str]
    prediction_drift: FeatureDrift | None = None
    # Recent labelled production rows (CSV: training feature columns + target column),
    # for the trainer to append when it retrains.
    labelled_data: ArtifactRef | None = None


class PerformanceDegraded(Alert):
    metric: str
    value: float
    baseline: float
    threshold: float
    window: Window
    labelled_data: ArtifactRef | None = None


class AlertResolved(Payload):
    model_name: str
    version: int
    alert_id: str
    arm: str = "stable"
    kind: Literal["drift", "performance"]
    window: Window


class MonitorMetrics(Payload):
    model_name: str
    version: int
    arm: str
    window: Window
    metrics: dict[str, float]
