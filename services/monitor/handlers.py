"""Handlers of the monitor's input topics.

Labels, registrations and deployments are stored in the inbox consumer's transaction;
predictions are folded into their windows in the stream consumer's transaction, which
also saves the partition's offset (:mod:`services.monitor.windows.stream_windows`).
Idempotency beyond the inbox and the offsets: a request id counts once per model version
and arm (unique key), a label once per request id (later copies only raise
``duplicates``), and the first registration of a version wins.
"""

from __future__ import annotations

import orjson
import structlog

from services.monitor.enrolment import enrol
from services.monitor.settings import MonitorSettings
from services.monitor.store import deployments, labels, versions
from services.monitor.windows.stream_windows import StreamFolder
from shared.bus.unit_of_work import UnitOfWork
from shared.events.deployment import ModelDeployed, PredictionLogged
from shared.events.envelope import Event
from shared.events.monitoring import LabelsReceived
from shared.events.registry import ModelRegistered
from shared.store.sources import ArtifactSources

log = structlog.get_logger(__name__)


async def on_model_registered(
    event: Event[ModelRegistered],
    uow: UnitOfWork,
    *,
    sources: ArtifactSources,
    settings: MonitorSettings,
) -> None:
    new = await enrol(event.data, sources, settings.max_profile_bytes)
    stored = await versions.save(uow.conn, new)
    log.info("monitor.version_recorded", version=new.version, stored=stored, problems=new.problems)


async def on_model_deployed(event: Event[ModelDeployed], uow: UnitOfWork) -> None:
    p = event.data
    await deployments.record(uow.conn, p.model_name, p.version, p.arm, p.strategy.kind, p.weight)


async def on_predictions_logged(
    events: list[Event[PredictionLogged]],
    uow: UnitOfWork,
    partition: int,
    *,
    folder: StreamFolder,
) -> None:
    """One partition's run of prediction records, folded into their windows as they come
    (a stream handler: this is the highest-volume topic on the bus, consumed with offsets
    kept beside the window state instead of the inbox). The events are the stream
    consumer's structs with the fields of ``Event[PredictionLogged]``, read by field only."""
    await folder.fold(events, uow, partition)


async def on_labels_received(event: Event[LabelsReceived], uow: UnitOfWork) -> None:
    p = event.data
    first: dict[str, str] = {}
    repeats: dict[str, int] = {}
    for label in p.labels:
        # The same request id twice in one event: the first value stands.
        if label.request_id in first:
            repeats[label.request_id] = repeats.get(label.request_id, 0) + 1
        else:
            first[label.request_id] = orjson.dumps(label.value).decode()
    await labels.record(uow.conn, p.model_name, first, repeats)
