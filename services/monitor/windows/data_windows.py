"""Advancing the data window of one stream: count new predictions, close when due.

The open window's counts live in memory (:data:`WindowCache`), keyed by the window id
and the number of predictions it has absorbed. The database is the truth: each step
marks the predictions it counted with the window id in the same transaction as the window
row's new count, so if that transaction fails, the database count no longer matches the
cached one and the next step rebuilds the counts from the window's stored rows. Counts
are order-free sums, so a rebuild equals the original. Nothing is counted twice.

Closing a window judges it twice: drift (per feature and multivariate) and, for a
classifier whose reference can be calibrated, its performance estimated from the logged
class scores (CBPE), each advancing an episode of its own.
"""

from __future__ import annotations

from datetime import datetime

from services.monitor.analysis import estimation
from services.monitor.analysis.drift import DriftReport, evaluate
from services.monitor.analysis.estimation import EstimateReport
from services.monitor.analysis.monitored import Stream, Version
from services.monitor.analysis.open_window import OpenWindow, WindowCache, absorb, fresh
from services.monitor.store import predictions, windows
from services.monitor.windows.closing import ClosedWindow, advance_episode, close_window
from services.monitor.windows.labelled_export import LabelledExport
from shared.bus.unit_of_work import UnitOfWork
from shared.events.common import ArtifactRef, Payload, Window
from shared.events.monitoring import DriftDetected, PerformanceDegraded
from shared.store.db import Connection

MAX_STEPS = 20  # batches per transaction; the next tick goes on


async def resume(
    conn: Connection, stream: Stream, version: Version, cache: WindowCache
) -> OpenWindow | None:
    row = await windows.lock_open(conn, stream)
    if row is None:
        return None
    cached = cache.get(stream)
    if cached is not None and cached.id == row["id"] and cached.count == row["count"]:
        return cached
    window = fresh(row["id"], row["opened_at"], version)
    rows = await predictions.counted_by(conn, row["id"])
    if rows:
        absorb(window, version, rows)
    return window


def _window(w: OpenWindow) -> Window:
    start = w.start or w.opened_at
    return Window(start=start.isoformat(), end=(w.end or start).isoformat(), count=w.count)


async def close(
    uow: UnitOfWork, stream: Stream, w: OpenWindow, version: Version, export: LabelledExport
) -> None:
    metrics = w.acc.quality()
    report = evaluate(w.acc, version.thresholds) if version.reference is not None else None
    if report is not None:
        metrics.update(report.metrics())
    estimated = _estimate(w, version)
    if estimated is not None:
        metrics.update(estimated.metrics())
    await windows.close_data(
        uow.conn,
        w.id,
        w.count,
        w.start,
        w.end,
        metrics,
        [e.model_dump() for f in report.features for e in f.entries] if report else None,
        report.drifted if report else None,
        report.top_features if report else None,
    )
    window = _window(w)

    def alert(alert_id: str, labelled: ArtifactRef | None) -> tuple[Payload, dict[str, object]]:
        assert report is not None  # only a tested window can open an episode
        payload = _drift_detected(stream, alert_id, window, report, labelled)
        return payload, {"top_features": report.top_features}

    bad = report.drifted if report else None
    closed = ClosedWindow(stream, "drift", w.id, window, metrics, bad)
    await close_window(uow, closed, version, export, alert)
    if estimated is not None:
        await _advance_estimate(uow, closed, estimated, version, export)


def _estimate(w: OpenWindow, version: Version) -> EstimateReport | None:
    estimator = version.reference.estimator if version.reference else None
    if estimator is None or w.acc.estimate is None:
        return None
    w.acc.fold()
    return estimation.judge(estimator, w.acc.estimate, version.thresholds)


async def _advance_estimate(
    uow: UnitOfWork,
    drift: ClosedWindow,
    report: EstimateReport,
    version: Version,
    export: LabelledExport,
) -> None:
    """The estimated-performance episode of the stream, judged on the same data window."""
    worst = min(report.degraded, key=lambda e: e.value - e.threshold, default=None)
    t = version.thresholds
    recovered = [
        e.value >= e.reference - (e.reference - e.threshold) / 2
        for e in report.estimates
        if getattr(t, f"min_estimated_{e.metric}") is None
    ]

    def alert(alert_id: str, labelled: ArtifactRef | None) -> tuple[Payload, dict[str, object]]:
        assert worst is not None  # only a degraded window opens an episode
        payload = PerformanceDegraded(
            model_name=drift.stream.model_name,
            version=drift.stream.version,
            arm=drift.stream.arm,
            alert_id=alert_id,
            metric=f"estimated_{worst.metric}",
            value=worst.value,
            baseline=worst.reference,
            threshold=worst.threshold,
            window=drift.window,
            labelled_data=labelled,
        )
        summary = {"metric": payload.metric, "value": worst.value, "threshold": worst.threshold}
        return payload, summary

    judged = bool(report.estimates)
    closed = ClosedWindow(
        drift.stream,
        "estimated_performance",
        drift.window_id,
        drift.window,
        drift.metrics,
        (worst is not None) if judged else None,
        clear=all(recovered),
    )
    await advance_episode(uow, closed, version, export, alert)


def _drift_detected(
    stream: Stream, alert_id: str, window: Window, report: DriftReport, labelled: ArtifactRef | None
) -> DriftDetected:
    return DriftDetected(
        model_name=stream.model_name,
        version=stream.version,
        arm=stream.arm,
        alert_id=alert_id,
        window=window,
        features=[e for f in report.features for e in f.entries],
        top_features=report.top_features,
        prediction_drift=report.prediction.test if report.prediction else None,
        multivariate=report.multivariate_drift(),
        labelled_data=labelled,
    )


async def advance(
    uow: UnitOfWork,
    stream: Stream,
    version: Version,
    cache: WindowCache,
    export: LabelledExport,
    batch_rows: int,
    now: datetime,
) -> None:
    """Absorb new predictions of ``stream`` and close its window when full or old enough."""
    conn, t = uow.conn, version.thresholds
    window = await resume(conn, stream, version, cache)
    for _ in range(MAX_STEPS):
        if window is not None and (now - window.opened_at).total_seconds() >= t.window_seconds:
            await close(uow, stream, window, version, export)
            window = None
        room = t.window_size - (window.count if window else 0)
        rows = await predictions.uncounted(conn, stream, min(room, batch_rows))
        if not rows:
            break
        if window is None:
            window = fresh(await windows.open_data(conn, stream, now), now, version)
        absorb(window, version, rows)
        await predictions.mark_counted(conn, window.id, [r["id"] for r in rows])
        if window.count >= t.window_size:
            await close(uow, stream, window, version, export)
            window = None
    if window is None:
        cache.pop(stream, None)
        return
    await windows.save_progress(conn, window.id, window.count, window.start, window.end)
    cache[stream] = window
