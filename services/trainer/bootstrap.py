"""Wiring of the trainer service: its migrations, handlers, routes and workers."""

from __future__ import annotations

from importlib import resources

from services.trainer import api
from services.trainer.config import TrainerSettings
from services.trainer.intake import on_training_requested
from services.trainer.retraining import on_alert
from services.trainer.worker import TrainingWorker
from shared.runtime import Infrastructure, ServiceDefinition, ServiceParts


async def build(infra: Infrastructure) -> ServiceParts:
    settings = TrainerSettings()
    worker = TrainingWorker(
        infra.pool, infra.artifacts, settings, workroot=infra.settings.home / "trainer" / "work"
    )
    return ServiceParts(
        handlers={
            "training.requested": on_training_requested,
            "drift.detected": on_alert,
            "performance.degraded": on_alert,
        },
        routers=[api.router(infra.pool)],
        workers=[worker.run],
    )


DEFINITION = ServiceDefinition("trainer", resources.files("services.trainer") / "migrations", build)
