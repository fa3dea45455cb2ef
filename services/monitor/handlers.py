"""Handlers of the monitor's input topics: record what arrives; the worker does the rest.

Each handler only stores (in the consumer's transaction, next to the inbox row), so that a
batch of predictions costs one insert each and nothing here depends on window state.
Idempotency beyond the inbox: a request id counts once per model version and arm
(unique key), a label once per request id (later copies only raise ``duplicates``), and
the first registration of a version wins.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import structlog

from services.monitor.analysis.tensors import feature_matrix
from services.monitor.enrolment import enrol
from services.monitor.settings import MonitorSettings
from services.monitor.store import deployments, labels, predictions, versions
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
    events: list[Event[PredictionLogged]], uow: UnitOfWork, *, settings: MonitorSettings
) -> None:
    """A run of prediction records, stored with one ``executemany`` (a batch handler:
    this is the highest-volume topic on the bus)."""
    await predictions.record(uow.conn, [_prediction_row(e, settings) for e in events])


def _event_time(p: PredictionLogged, fallback: datetime) -> datetime:
    try:
        parsed = datetime.fromisoformat(p.time)
    except ValueError:
        return fallback
    return parsed if parsed.tzinfo is not None else fallback


def _prediction_row(event: Event[PredictionLogged], settings: MonitorSettings) -> tuple[Any, ...]:
    p = event.data
    matrix, problem = feature_matrix(p.inputs)
    rows, cols = matrix.shape if matrix is not None else (1, 0)
    return (
        p.model_name,
        p.version,
        p.arm,
        p.request_id,
        _event_time(p, event.time),
        rows,
        cols,
        matrix.astype("<f8").tobytes() if matrix is not None else None,
        orjson.dumps(p.outputs).decode(),
        p.latency_ms,
        p.status == "ok",
        problem,
        settings.label_horizon_s,
    )


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
