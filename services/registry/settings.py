"""Settings of the registry alone, read from ``MODELBUS_REGISTRY_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RegistrySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MODELBUS_REGISTRY_", extra="ignore")

    # Largest ONNX artifact (or reference profile) accepted, through any of the three doors.
    max_artifact_bytes: int = Field(default=512 * 1024 * 1024, ge=1)
    # Threads ONNX Runtime may use for the trial session that proves a model loads.
    validation_threads: int = Field(default=1, ge=1)
    # The sandbox process that validates a model and measures it on evaluation data:
    # its address-space limit, its wall-clock limit (CPU time is capped at about the same),
    # how many may run at once, and where their private work directories go (None: the
    # system's temporary directory).
    sandbox_memory_mb: int = Field(default=2048, ge=256)
    sandbox_timeout_s: float = Field(default=120.0, gt=0)
    sandbox_concurrency: int = Field(default=2, ge=1)
    sandbox_dir: str | None = None
    # Evaluation data and reference predictions (CSV): largest file, most rows.
    max_eval_bytes: int = Field(default=256 * 1024 * 1024, ge=1)
    max_eval_rows: int = Field(default=1_000_000, ge=1)
