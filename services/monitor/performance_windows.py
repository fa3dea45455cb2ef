"""Performance windows: labelled predictions of one stream, scored in the order labels joined.

A window closes with ``performance_window`` labelled predictions, or with at least
``performance_min_labels`` once the oldest of them has waited ``window_seconds``. The
predictions it scored are marked with its id in the same transaction, so a prediction is
scored once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import orjson

from services.monitor import episodes
from services.monitor.analysis import performance
from services.monitor.analysis.records import class_scores, predicted_values
from services.monitor.episodes import Stream
from services.monitor.export import export_labelled, row_labels
from services.monitor.settings import MonitorSettings
from services.monitor.versions import Version
from shared.bus.unit_of_work import UnitOfWork
from shared.events.common import Payload, Window
from shared.events.monitoring import MonitorMetrics, PerformanceDegraded
from shared.store.artifacts import ArtifactStore

MAX_WINDOWS = 10  # per transaction


def _pairs(rows: list[Any]) -> tuple[list[Any], list[Any], Any, int]:
    """Predicted values, labels, class scores (or None) and the number of unusable labels."""
    predicted: list[Any] = []
    actual: list[Any] = []
    scores: list[Any] = []
    unusable = 0
    for r in rows:
        outputs = orjson.loads(r["outputs"])
        values = predicted_values(outputs)
        labels = row_labels(orjson.loads(r["value"]), r["n_rows"])
        if labels is None or len(values) != len(labels) or any(v is None for v in labels):
            unusable += 1
            continue
        predicted.extend(values)
        actual.extend(labels)
        scores.append(class_scores(outputs, r["n_rows"]))
    usable = (
        scores and all(s is not None for s in scores) and len({s.shape[1] for s in scores}) == 1
    )
    return predicted, actual, np.vstack(scores) if usable else None, unusable


async def _close(
    uow: UnitOfWork,
    stream: Stream,
    version: Version,
    rows: list[Any],
    store: ArtifactStore,
    settings: MonitorSettings,
) -> None:
    conn, t = uow.conn, version.thresholds
    predicted, actual, scores, unusable = _pairs(rows)
    values = performance.evaluate(version.task, predicted, actual, scores)
    found, judged = performance.violations(values, version.baseline, t)
    short, _ = performance.violations(values, version.baseline, t, recovering=True)
    metrics = {**values, "labelled": float(len(predicted)), "labels_unusable": float(unusable)}
    times = [r["event_time"] for r in rows]
    row = await conn.fetchrow(
        "INSERT INTO windows (model_name, version, arm, kind, closed_at, start_time, end_time,"
        " count, metrics) VALUES ($1, $2, $3, 'performance', now(), $4, $5, $6, $7::jsonb)"
        " RETURNING id",
        stream.model_name,
        stream.version,
        stream.arm,
        min(times),
        max(times),
        len(rows),
        orjson.dumps(metrics).decode(),
    )
    assert row is not None
    await conn.execute(
        "UPDATE predictions SET performance_window_id = $1 WHERE id = ANY($2::bigint[])",
        row["id"],
        [r["id"] for r in rows],
    )
    window = Window(start=min(times).isoformat(), end=max(times).isoformat(), count=len(rows))
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
        worst = found[0]
        labelled = await export_labelled(conn, store, version, settings.export_rows)
        return PerformanceDegraded(
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
        ), {"metric": worst.metric, "value": worst.value, "threshold": worst.threshold}

    await episodes.observe(
        uow,
        stream,
        "performance",
        row["id"],
        window,
        bool(found) if judged else None,
        t.recovery_windows,
        raise_alert,
        clear=not short,
    )


async def advance(
    uow: UnitOfWork,
    stream: Stream,
    version: Version,
    store: ArtifactStore,
    settings: MonitorSettings,
    now: datetime,
) -> None:
    t = version.thresholds
    for _ in range(MAX_WINDOWS):
        rows = await uow.conn.fetch(
            "SELECT p.id, p.event_time, p.n_rows, p.outputs, p.labelled_at, l.value"
            " FROM predictions p JOIN labels l ON l.model_name = p.model_name"
            " AND l.request_id = p.request_id"
            " WHERE p.model_name = $1 AND p.version = $2 AND p.arm = $3 AND p.ok"
            " AND p.labelled_at IS NOT NULL AND p.performance_window_id IS NULL"
            " ORDER BY p.labelled_at, p.id LIMIT $4",
            stream.model_name,
            stream.version,
            stream.arm,
            t.performance_window,
        )
        full = len(rows) >= t.performance_window
        waited = bool(rows) and (now - rows[0]["labelled_at"]).total_seconds() >= t.window_seconds
        if not (full or (waited and len(rows) >= t.performance_min_labels)):
            return
        await _close(uow, stream, version, list(rows), store, settings)
