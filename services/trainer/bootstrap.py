"""Wiring of the trainer service: its migrations, handlers, routes and workers."""

from __future__ import annotations

from functools import partial
from importlib import resources

from services.trainer import api
from services.trainer.handlers import on_alert, on_training_requested
from services.trainer.settings import TrainerSettings
from services.trainer.worker import TrainingWorker
from shared.runtime import Infrastructure, ServiceDefinition, ServiceParts


def definition(settings: TrainerSettings | None = None) -> ServiceDefinition:
    """The trainer, with ``settings`` or settings read from the environment at build time."""

    async def build(infra: Infrastructure) -> ServiceParts:
        own = settings or TrainerSettings()
        caps = own.caps()
        worker = TrainingWorker(
            infra.transactions,
            infra.sources,
            own,
            workroot=infra.settings.home / infra.service / "work",
        )
        return ServiceParts(
            handlers={
                "training.requested": partial(on_training_requested, caps=caps),
                "drift.detected": partial(on_alert, caps=caps),
                "performance.degraded": partial(on_alert, caps=caps),
            },
            routers=[api.router(infra.transactions, infra.sources, own)],
            workers=[worker.run],
        )

    return ServiceDefinition("trainer", resources.files("services.trainer") / "migrations", build)
