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
