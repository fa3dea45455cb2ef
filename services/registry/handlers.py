"""Event handlers: decode nothing, know no Kafka; each gets its event, a unit of work and
its dependencies (bound in :mod:`services.registry.bootstrap`).

Redelivery is covered by the consumer's inbox; beyond it, a registration is idempotent
per origin (training job, submission id) and the lifecycle projection per event id.
"""

from __future__ import annotations

from typing import Any

import structlog

from services.registry.domain import doors
from services.registry.registration import register_claimed
from services.registry.settings import RegistrySettings
from services.registry.store import lifecycle
from shared.bus.unit_of_work import UnitOfWork
from shared.events.envelope import Event
from shared.events.registry import ModelSubmitted
from shared.events.training import TrainingCompleted
from shared.store.artifacts import ArtifactStore

log = structlog.get_logger(__name__)


async def on_training_completed(
    event: Event[TrainingCompleted],
    uow: UnitOfWork,
    *,
    store: ArtifactStore,
    settings: RegistrySettings,
) -> None:
    completed = event.data
    await register_claimed(
        uow,
        doors.from_training(completed),
        completed.artifact,
        completed.reference_profile,
        store=store,
        settings=settings,
    )


async def on_model_submitted(
    event: Event[ModelSubmitted],
    uow: UnitOfWork,
    *,
    store: ArtifactStore,
    settings: RegistrySettings,
) -> None:
    submitted = event.data
    await register_claimed(
        uow,
        doors.from_submission(submitted, submitter=event.source),
        submitted.artifact,
        submitted.reference_profile,
        store=store,
        settings=settings,
    )


async def on_lifecycle_event(event: Event[Any], uow: UnitOfWork, *, topic: str) -> None:
    if not await lifecycle.apply(uow.conn, topic, event):
        log.info("lifecycle.duplicate", topic=topic)
