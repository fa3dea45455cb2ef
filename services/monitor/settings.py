"""Settings of the monitor process (``MODELBUS_MONITOR_*``); per-model ones are thresholds."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MonitorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MODELBUS_MONITOR_", extra="ignore")

    tick_s: float = Field(0.5, gt=0)  # how often the worker advances windows
    label_horizon_s: float = Field(86_400.0, gt=0)  # a label waits this long for its prediction
    retention_s: float = Field(7 * 86_400.0, gt=0)  # predictions and labels kept this long
    max_profile_bytes: int = 64 * 1024 * 1024
    batch_rows: int = Field(5_000, ge=1)  # predictions read per worker step
    export_rows: int = Field(10_000, ge=1)  # labelled rows attached to an alert
    # The collector's young threshold (shared/gc_tuning.py); 0 leaves it as it is.
    gc_young_threshold: int = Field(10_000, ge=0)
