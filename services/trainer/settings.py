"""The trainer's own settings, from ``MODELBUS_TRAINER_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.trainer.training.bounds import Caps


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
    # Wall clock of one training process; at the deadline its process group is killed.
    job_timeout_s: float = Field(default=3600.0, gt=0)
    # Address space of one training process (RLIMIT_AS), imports included: a job that
    # needs more fails with "exceeded its memory limit". An idle warm process maps
    # ~0.5 GB, the default search on breast_cancer peaks near 1 GB.
    job_memory_mb: int = Field(default=3072, ge=512)
    # Unfinished (queued or running) jobs one principal may have asked for over HTTP (429
    # beyond), and running jobs of one principal at a time (bus requests beyond it wait).
    max_jobs_per_principal: int = Field(default=2, ge=1)

    # What one request may ask for (services.trainer.training.bounds.Caps, which says how
    # each is counted); refused at the door beyond.
    max_candidates: int = Field(default=Caps.max_candidates, ge=1)
    max_trials_per_candidate: int = Field(default=Caps.max_trials_per_candidate, ge=1)
    max_trials: int = Field(default=Caps.max_trials, ge=1)
    max_grid_size: int = Field(default=Caps.max_grid_size, ge=1)
    max_estimators: int = Field(default=Caps.max_estimators, ge=1)
    max_depth: int = Field(default=Caps.max_depth, ge=1)
    max_leaf_nodes: int = Field(default=Caps.max_leaf_nodes, ge=2)
    max_iter: int = Field(default=Caps.max_iter, ge=1)
    max_hidden_layers: int = Field(default=Caps.max_hidden_layers, ge=1)
    max_layer_width: int = Field(default=Caps.max_layer_width, ge=1)
    max_dataset_bytes: int = Field(default=Caps.max_dataset_bytes, gt=0)
    max_dataset_cells: int = Field(default=Caps.max_dataset_cells, ge=1)
    # Keep the next training process started (imports done, ~200 MB idle) so that a job
    # does not wait seconds for scikit-learn to load.
    warm_start: bool = True

    def caps(self) -> Caps:
        """The request caps these settings set."""
        return Caps(**{name: getattr(self, name) for name in Caps.__dataclass_fields__})
