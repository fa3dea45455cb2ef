"""Per-model monitoring thresholds: sensible defaults, overridden by registration metadata.

``ModelMetadata.monitor_thresholds`` is a flat ``{name: number}``; any field below may be
set there. Unknown names are reported (logged and kept with the reference) and ignored.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.errors import InvalidInput, describe_validation


class Thresholds(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Drift. A feature drifts when its test (KS, chi-square) rejects at significance / m,
    # m the number of tests in the window (Bonferroni: the chance of any false alarm in a
    # window of undrifted data is at most ``significance``), AND the shift matters: PSI,
    # Jensen-Shannon or Wasserstein (in reference standard deviations) reaches its threshold.
    significance: float = Field(0.05, gt=0, lt=1)
    psi: float = Field(0.2, gt=0)
    jensen_shannon: float = Field(0.1, gt=0, le=1)
    wasserstein: float = Field(0.1, gt=0)
    # Windows close at window_size predictions or window_seconds after they opened,
    # whichever comes first; drift is tested only on windows of at least min_rows rows.
    window_size: int = Field(1000, ge=1)
    window_seconds: float = Field(300.0, gt=0)
    min_rows: int = Field(100, ge=1)
    # An open episode resolves after this many consecutive clean windows.
    recovery_windows: int = Field(2, ge=1)
    # Performance, on labelled predictions, in windows of performance_window labels (or
    # window_seconds, if at least performance_min_labels arrived).
    performance_window: int = Field(200, ge=1)
    performance_min_labels: int = Field(30, ge=1)
    performance_drop: float = Field(0.05, gt=0)  # accuracy, F1, ROC-AUC below baseline
    error_increase: float = Field(0.25, gt=0)  # RMSE, MAE relative rise above baseline
    # Estimated performance (before labels, on data windows): degraded below the
    # reference estimate minus the larger of this drop and three sampling errors, or
    # below min_estimated_<metric> when set.
    estimated_performance_drop: float = Field(0.05, gt=0)
    min_estimated_accuracy: float | None = None
    min_estimated_roc_auc: float | None = None
    # Multivariate drift (PCA reconstruction error): the test must reject (in the same
    # Bonferroni family as the features) and the window's mean error exceed the
    # reference's by this share.
    multivariate_increase: float = Field(0.1, gt=0)
    min_accuracy: float | None = None  # absolute floors and ceilings, used when set
    min_f1: float | None = None
    min_roc_auc: float | None = None
    max_rmse: float | None = None
    max_mae: float | None = None


def thresholds_from(overrides: dict[str, Any]) -> tuple[Thresholds, list[str]]:
    """The thresholds for a model, and the override names that mean nothing to the monitor."""
    known = set(Thresholds.model_fields)
    unknown = sorted(set(overrides) - known)
    try:
        return Thresholds(**{k: v for k, v in overrides.items() if k in known}), unknown
    except ValidationError as exc:
        raise InvalidInput(f"monitor_thresholds: {describe_validation(exc, limit=1)}") from exc
