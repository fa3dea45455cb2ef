"""Event handlers: decode nothing, know no Kafka; each gets its event, a unit of work and
its dependencies (bound in :mod:`services.registry.bootstrap`).

Redelivery is covered by the consumer's inbox; beyond it, a registration is idempotent
per origin (training job, submission id) and the lifecycle projection per event id.
"""

from __future__ import annotations

import structlog

from services.registry.domain import doors
from services.registry.registration import Registrar
from services.registry.store import lifecycle
from shared.bus.unit_of_work import UnitOfWork
from shared.events.common import Payload
from shared.events.envelope import Event
from shared.events.registry import ModelSubmitted
from shared.events.training import TrainingCompleted

log = structlog.get_logger(__name__)


async def on_training_completed(
    event: Event[TrainingCompleted], uow: UnitOfWork, *, registrar: Registrar
) -> None:
    await registrar.register_claimed(uow, doors.from_training(event.data), event.data)


async def on_model_submitted(
    event: Event[ModelSubmitted], uow: UnitOfWork, *, registrar: Registrar
) -> None:
    candidate = doors.from_submission(event.data, submitter=event.source)
    await registrar.register_claimed(uow, candidate, event.data, event.data.evaluation)


async def on_lifecycle_event(event: Event[Payload], uow: UnitOfWork, *, topic: str) -> None:
    """Any event about a version after its registration (one handler, bound per topic).

    Every lifecycle payload names ``model_name`` and ``version``; what the event means for
    the version's status is the domain's (:mod:`services.registry.domain.lifecycle_rules`).
    """
    if not await lifecycle.apply(uow.conn, topic, event):
        log.info("lifecycle.duplicate", topic=topic)
