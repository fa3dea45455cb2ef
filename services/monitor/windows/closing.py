"""Closing a window, of either kind: its metrics on the bus, and the episode it advances.

An episode (:mod:`services.monitor.analysis.episodes`) opens one alert when a stream's
windows of one kind turn bad, and emits ``monitor.alert_resolved`` once they have been
clean long enough. The alert's payload is built only when an episode opens, so the
labelled-data export it carries runs once per episode. An estimated-performance episode
(a data window's estimates) is an episode of its own, apart from the labelled one; on the
bus its alert is a ``performance.degraded`` and its resolution says ``performance``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from services.monitor.analysis.episodes import Kind, step
from services.monitor.analysis.monitored import Stream, Version
from services.monitor.store import alerts
from services.monitor.windows.labelled_export import LabelledExport
from shared.bus.unit_of_work import UnitOfWork
from shared.events.common import ArtifactRef, Payload, Window
from shared.events.monitoring import AlertResolved, MonitorMetrics

# (alert id, labelled data) -> the alert's payload and the summary kept with it
AlertFactory = Callable[[str, ArtifactRef | None], tuple[Payload, dict[str, object]]]


@dataclass(frozen=True)
class ClosedWindow:
    stream: Stream
    kind: Kind
    window_id: int
    window: Window
    metrics: dict[str, float]
    bad: bool | None  # None: the window could not be judged
    clear: bool = True  # False: no longer bad, but not clearly recovered either


async def close_window(
    uow: UnitOfWork,
    closed: ClosedWindow,
    version: Version,
    export: LabelledExport,
    alert: AlertFactory,
) -> None:
    """Emit the window's ``monitor.metrics`` and advance its stream's episode of its kind,
    emitting the alert ``alert`` builds when one opens."""
    stream = closed.stream
    await uow.emit(
        MonitorMetrics(
            model_name=stream.model_name,
            version=stream.version,
            arm=stream.arm,
            window=closed.window,
            metrics=closed.metrics,
        )
    )
    await advance_episode(uow, closed, version, export, alert)


async def advance_episode(
    uow: UnitOfWork,
    closed: ClosedWindow,
    version: Version,
    export: LabelledExport,
    alert: AlertFactory,
) -> None:
    """Advance the stream's episode of the window's kind (a window judged on more than one
    kind, such as a data window's drift and estimated performance, advances each)."""
    stream = closed.stream
    row = await alerts.lock_open(uow.conn, stream, closed.kind)
    result = step(
        row is not None,
        row["clean_windows"] if row else 0,
        closed.bad,
        version.thresholds.recovery_windows,
        closed.clear,
    )
    if result.action == "open":
        alert_id = str(uuid.uuid4())
        labelled = await export(uow.conn, version)
        payload, summary = alert(alert_id, labelled)
        await alerts.open_alert(
            uow.conn,
            alert_id,
            stream,
            closed.kind,
            closed.window_id,
            summary,
            labelled.model_dump_json() if labelled is not None else None,
        )
        await uow.emit(payload)
    elif result.action == "keep" and row is not None:
        await alerts.count_clean(uow.conn, row["alert_id"], result.clean_windows)
    elif result.action == "resolve" and row is not None:
        await alerts.resolve(uow.conn, row["alert_id"], result.clean_windows, closed.window_id)
        await uow.emit(
            AlertResolved(
                model_name=stream.model_name,
                version=stream.version,
                arm=stream.arm,
                alert_id=row["alert_id"],
                kind="drift" if closed.kind == "drift" else "performance",
                window=closed.window,
            )
        )
