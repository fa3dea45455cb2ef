"""Advancing the data window of one stream: count new predictions, close when due.

The open window's counts live in memory (:class:`WindowCache`), keyed by the window id
and the number of predictions it has absorbed. The database is the truth: each step
marks the predictions it counted with the window id in the same transaction as the window
row's new count, so if that transaction fails, the database count no longer matches the
cached one and the next step rebuilds the counts from the window's stored rows. Counts
are order-free sums, so a rebuild equals the original. Nothing is counted twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from services.monitor import episodes
from services.monitor.analysis.drift import DriftReport, evaluate
from services.monitor.episodes import Stream
from services.monitor.export import export_labelled
from services.monitor.open_window import OpenWindow, WindowCache, absorb, fresh
from services.monitor.settings import MonitorSettings
from services.monitor.versions import Version
from shared.bus.unit_of_work import UnitOfWork
from shared.events.common import Payload, Window
from shared.events.monitoring import DriftDetected, MonitorMetrics
from shared.store.artifacts import ArtifactStore
from shared.store.db import Connection

_COLUMNS = "id, event_time, n_rows, n_cols, features, outputs, latency_ms, ok, schema_error"
MAX_STEPS = 20  # batches per transaction; the next tick goes on


async def _resume(
    conn: Connection, stream: Stream, version: Version, cache: WindowCache
) -> OpenWindow | None:
    row = await conn.fetchrow(
        "SELECT id, opened_at, count FROM windows WHERE model_name = $1 AND version = $2"
        " AND arm = $3 AND kind = 'data' AND closed_at IS NULL FOR UPDATE",
        stream.model_name,
        stream.version,
        stream.arm,
    )
    if row is None:
        return None
    cached = cache.get(stream)
    if cached is not None and cached.id == row["id"] and cached.count == row["count"]:
        return cached
    window = fresh(row["id"], row["opened_at"], version)
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM predictions WHERE window_id = $1", row["id"])
    if rows:
        absorb(window, version, list(rows))
    return window


def _window(w: OpenWindow) -> Window:
    start = w.start or w.opened_at
    return Window(start=start.isoformat(), end=(w.end or start).isoformat(), count=w.count)


async def _close(
    uow: UnitOfWork,
    stream: Stream,
    w: OpenWindow,
    version: Version,
    store: ArtifactStore,
    settings: MonitorSettings,
) -> None:
    t = version.thresholds
    metrics = w.acc.quality()
    report = evaluate(w.acc, t) if version.reference is not None else None
    if report is not None:
        metrics.update(report.metrics())
    drift = [e.model_dump() for f in report.features for e in f.entries] if report else None
    await uow.conn.execute(
        "UPDATE windows SET closed_at = now(), count = $2, start_time = $3, end_time = $4,"
        " metrics = $5::jsonb, drift = $6::jsonb, drifted = $7, top_features = $8"
        " WHERE id = $1",
        w.id,
        w.count,
        w.start,
        w.end,
        orjson.dumps(metrics).decode(),
        orjson.dumps(drift).decode() if drift is not None else None,
        report.drifted if report else None,
        report.top_features if report else None,
    )
    window = _window(w)
    await uow.emit(
        MonitorMetrics(
            model_name=stream.model_name,
            version=stream.version,
            arm=stream.arm,
            window=window,
            metrics=metrics,
        )
    )

    async def raise_alert(alert_id: str) -> tuple[Payload, dict[str, object]]:
        assert report is not None
        labelled = await export_labelled(uow.conn, store, version, settings.export_rows)
        return _drift_detected(stream, alert_id, window, report, labelled), {
            "top_features": report.top_features
        }

    await episodes.observe(
        uow,
        stream,
        "drift",
        w.id,
        window,
        report.drifted if report else None,
        t.recovery_windows,
        raise_alert,
    )


def _drift_detected(
    stream: Stream, alert_id: str, window: Window, report: DriftReport, labelled: Any
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
        labelled_data=labelled,
    )


async def advance(
    uow: UnitOfWork,
    stream: Stream,
    version: Version,
    cache: WindowCache,
    store: ArtifactStore,
    settings: MonitorSettings,
    now: datetime,
) -> None:
    """Absorb new predictions of ``stream`` and close its window when full or old enough."""
    conn, t = uow.conn, version.thresholds
    window = await _resume(conn, stream, version, cache)
    for _ in range(MAX_STEPS):
        if window is not None and (now - window.opened_at).total_seconds() >= t.window_seconds:
            await _close(uow, stream, window, version, store, settings)
            window = None
        room = t.window_size - (window.count if window else 0)
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM predictions WHERE model_name = $1 AND version = $2"
            " AND arm = $3 AND window_id IS NULL ORDER BY id LIMIT $4",
            stream.model_name,
            stream.version,
            stream.arm,
            min(room, settings.batch_rows),
        )
        if not rows:
            break
        if window is None:
            row = await conn.fetchrow(
                "INSERT INTO windows (model_name, version, arm, kind, opened_at)"
                " VALUES ($1, $2, $3, 'data', $4) RETURNING id",
                stream.model_name,
                stream.version,
                stream.arm,
                now,
            )
            assert row is not None
            window = fresh(row["id"], now, version)
        absorb(window, version, list(rows))
        await conn.execute(
            "UPDATE predictions SET window_id = $1 WHERE id = ANY($2::bigint[])",
            window.id,
            [r["id"] for r in rows],
        )
        if window.count >= t.window_size:
            await _close(uow, stream, window, version, store, settings)
            window = None
    if window is None:
        cache.pop(stream, None)
        return
    await conn.execute(
        "UPDATE windows SET count = $2, start_time = $3, end_time = $4 WHERE id = $1",
        window.id,
        window.count,
        window.start,
        window.end,
    )
    cache[stream] = window
