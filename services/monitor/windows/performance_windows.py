"""Performance windows: labelled predictions of one stream, scored in the order labels joined.

A window closes with ``performance_window`` labelled predictions, or with at least
``performance_min_labels`` once the oldest of them has waited ``window_seconds``. The
predictions it scored are marked with its id in the same transaction, so a prediction is
scored once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.monitor.analysis import performance
from services.monitor.analysis.labelled import labelled_pairs
from services.monitor.analysis.monitored import Stream, Version
from services.monitor.store import predictions, windows
from services.monitor.windows.closing import ClosedWindow, close_window
from services.monitor.windows.labelled_export import LabelledExport
from shared.bus.unit_of_work import UnitOfWork
from shared.events.common import ArtifactRef, Payload, Window
from shared.events.monitoring import PerformanceDegraded

MAX_WINDOWS = 10  # per transaction


async def _close(
    uow: UnitOfWork, stream: Stream, version: Version, rows: list[Any], export: LabelledExport
) -> None:
    t = version.thresholds
    predicted, actual, scores, unusable = labelled_pairs(rows)
    values = performance.evaluate(version.task, predicted, actual, scores)
    found, judged = performance.violations(values, version.baseline, t)
    short, _ = performance.violations(values, version.baseline, t, recovering=True)
    metrics = {**values, "labelled": float(len(predicted)), "labels_unusable": float(unusable)}
    start, end = min(r["event_time"] for r in rows), max(r["event_time"] for r in rows)
    window_id = await windows.record_performance(
        uow.conn, stream, [r["id"] for r in rows], start, end, metrics
    )
    window = Window(start=start.isoformat(), end=end.isoformat(), count=len(rows))

    def alert(alert_id: str, labelled: ArtifactRef | None) -> tuple[Payload, dict[str, object]]:
        worst = found[0]
        payload = PerformanceDegraded(
            model_name=stream.model_name,
            version=stream.version,
            arm=stream.arm,
            alert_id=alert_id,
            metric=worst.metric,
            value=worst.value,
            baseline=worst.baseline,
            threshold=worst.threshold,
            window=window,
            labelled_data=labelled,
        )
        return payload, {"metric": worst.metric, "value": worst.value, "threshold": worst.threshold}

    bad = bool(found) if judged else None
    closed = ClosedWindow(stream, "performance", window_id, window, metrics, bad, clear=not short)
    await close_window(uow, closed, version, export, alert)


async def advance(
    uow: UnitOfWork, stream: Stream, version: Version, export: LabelledExport, now: datetime
) -> None:
    t = version.thresholds
    for _ in range(MAX_WINDOWS):
        rows = await predictions.labelled_unscored(uow.conn, stream, t.performance_window)
        full = len(rows) >= t.performance_window
        waited = bool(rows) and (now - rows[0]["labelled_at"]).total_seconds() >= t.window_seconds
        if not (full or (waited and len(rows) >= t.performance_min_labels)):
            return
        await _close(uow, stream, version, rows, export)
