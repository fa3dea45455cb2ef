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


class MultivariateDrift(Payload):
    """Drift of the features together, in one window: the mean PCA reconstruction error of
    its rows on the reference sample's principal components (``components`` of them, over
    ``columns`` standardised features), against the mean error of reference rows the
    components were not fitted on. ``threshold`` is the mean error above which the window
    drifts; ``p_value`` is the test's (one-sided, Bonferroni level as for the features)."""

    method: Literal["pca_reconstruction"] = "pca_reconstruction"
    statistic: float
    reference: float
    threshold: float
    p_value: float
    drifted: bool
    components: int
    columns: int
    reference_n: int
    current_n: int


class Alert(Payload):
    """Evidence that one arm of one model version decays, found in one window: what the
    trainer (retraining) and the deployer (rollback) act on, whichever kind it is."""

    model_name: str
    version: int
    arm: str
    alert_id: str
    window: Window
    # Recent labelled production rows (CSV: training feature columns + target column),
    # for the trainer to append when it retrains.
    labelled_data: ArtifactRef | None = None


class DriftDetected(Alert):
    features: list[FeatureDrift]
    top_features: list[str]
    prediction_drift: FeatureDrift | None = None
    multivariate: MultivariateDrift | None = None


class PerformanceDegraded(Alert):
    """A metric past its bound: measured on labelled predictions (``accuracy``, ``f1``,
    ``roc_auc``, ``rmse``, ``mae``), or estimated before labels from the model's own
    confidence (``estimated_accuracy``, ``estimated_roc_auc``; ``baseline`` is then the
    estimate on the reference holdout)."""

    metric: str
    value: float
    baseline: float
    threshold: float


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
