"""The trainer's own settings, from ``MODELBUS_TRAINER_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TrainerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MODELBUS_TRAINER_", extra="ignore")

    # Training jobs run at the same time, each in its own worker process.
    max_workers: int = Field(default=1, ge=1)
    # A running job's lease; the worker renews it every heartbeat. A job whose lease ran
    # out (its trainer died) is claimed again by any trainer.
    lease_s: float = Field(default=30.0, gt=0)
    heartbeat_s: float = Field(default=5.0, gt=0)
    poll_s: float = Field(default=0.5, gt=0)
    # Claims of one job before it fails for good (a job that kills its trainer each time).
    max_attempts: int = Field(default=3, ge=1)
    job_timeout_s: float = Field(default=3600.0, gt=0)
    max_dataset_bytes: int = Field(default=512 * 1024 * 1024, gt=0)
    # Keep the next training process started (imports done, ~200 MB idle) so that a job
    # does not wait seconds for scikit-learn to load.
    warm_start: bool = True
