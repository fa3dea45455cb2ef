"""Folding predictions into data windows as they are consumed, exactly once.

The stream consumer (:mod:`shared.bus.stream`) hands over one partition's new predictions
in the transaction that saves the partition's offset. Per stream (model, version, arm),
under the stream's lock: the open window is resumed (its cached counts, or rebuilt from
the rows it counted when the cache is not the database's), each window's share of the
rows is inserted with the window's id, and only the rows that were new are folded in; a
full (or old) window closes in the same transaction. So the window counts, the stored
rows that are their state, and the consumer's offset commit together: a crash before
the commit replays the batch from the stored offset onto the state before it, a crash
after resumes past it. Nothing is counted twice, nothing is lost.

Predictions of a version not registered yet are stored uncounted; the worker counts them
once the version's reference is there (:mod:`services.monitor.windows.data_windows`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from services.monitor import ingest_metrics
from services.monitor.analysis.monitored import Stream, Version
from services.monitor.analysis.open_window import OpenWindow, WindowCache, absorb, fresh
from services.monitor.analysis.prediction_batch import feature_rows
from services.monitor.settings import MonitorSettings
from services.monitor.store import ingest, streams, windows
from services.monitor.store.versions import VersionCache
from services.monitor.windows import data_windows
from services.monitor.windows.labelled_export import LabelledExport
from shared.bus.unit_of_work import UnitOfWork
from shared.events.deployment import PredictionLogged
from shared.events.envelope import Event

# The stream consumer hands over structs with the fields of Event[PredictionLogged] (or
# the Event itself, for one only pydantic's lax mode reads); they are read by field only.
Logged = Event[PredictionLogged]


def _now() -> datetime:
    return datetime.now(UTC)


def _event_time(p: PredictionLogged, fallback: datetime) -> datetime:
    try:
        parsed = datetime.fromisoformat(p.time)
    except ValueError:
        return fallback
    return parsed if parsed.tzinfo is not None else fallback


@dataclass
class _Rows:
    """One stream's predictions of a batch: staged rows and what a window counts of them."""

    staged: list[tuple[Any, ...]] = field(default_factory=list)
    counted: list[dict[str, Any]] = field(default_factory=list)


def _by_stream(events: list[Logged]) -> dict[Stream, list[Logged]]:
    """The batch's predictions per stream, in log order; the same request twice in one
    batch: the first counts."""
    grouped: dict[tuple[str, int, str], dict[str, Logged]] = {}
    for event in events:
        p = event.data
        grouped.setdefault((p.model_name, p.version, p.arm), {}).setdefault(p.request_id, event)
    return {Stream(*key): list(firsts.values()) for key, firsts in grouped.items()}


def _rows(events: list[Logged], words: tuple[int, ...]) -> _Rows:
    """One stream's predictions as staged rows; ``words``: its free-text columns."""
    rows = _Rows()
    features = feature_rows([e.data.inputs for e in events], words)  # one conversion
    dumps = orjson.dumps
    for event, (matrix, problem) in zip(events, features, strict=True):
        p = event.data
        n_rows, n_cols = matrix.shape if matrix is not None else (1, 0)
        packed = matrix.astype("<f8").tobytes() if matrix is not None else None
        outputs = dumps(p.outputs).decode()
        when, ok = _event_time(p, event.time), p.status == "ok"
        rows.staged.append(
            (p.model_name, p.version, p.arm, p.request_id, when, n_rows, n_cols, packed,
             outputs, p.latency_ms, ok, problem)
        )  # fmt: skip
        rows.counted.append(
            {"request_id": p.request_id, "event_time": when, "n_cols": n_cols, "ok": ok,
             "features": packed, "outputs": outputs, "latency_ms": p.latency_ms,
             "schema_error": problem}
        )  # fmt: skip
    return rows


class StreamFolder:
    """Folds consumed predictions into their streams' open data windows."""

    def __init__(
        self,
        settings: MonitorSettings,
        versions: VersionCache,
        windows_cache: WindowCache,
        export: LabelledExport,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.settings = settings
        self.versions = versions
        self.windows = windows_cache
        self.export = export
        self.clock = clock

    async def fold(self, events: list[Logged], uow: UnitOfWork, partition: int) -> None:
        grouped: dict[Stream, tuple[Version | None, _Rows]] = {}
        for stream, stream_events in _by_stream(events).items():
            version = await self.versions.get(uow.conn, stream.model_name, stream.version)
            words = version.reference.words if version and version.reference else ()
            grouped[stream] = version, _rows(stream_events, words)
        staged: list[tuple[Any, ...]] = []
        ranges: dict[Stream, int] = {}
        for stream, (_, rows) in grouped.items():
            base = ranges[stream] = len(staged)
            staged.extend([(base + i, *row) for i, row in enumerate(rows.staged)])
        await ingest.stage(uow.conn, staged)
        progress: dict[str, tuple[datetime | None, int]] = {}
        for stream, (version, rows) in grouped.items():
            newest, folded = await self._stream(uow, stream, version, rows, ranges[stream])
            before = progress.get(stream.model_name, (None, 0))
            times = [t for t in (before[0], newest) if t is not None]
            progress[stream.model_name] = (max(times) if times else None, before[1] + folded)
        await ingest.record_progress(uow.conn, partition, progress)
        for model, (newest, _) in progress.items():
            ingest_metrics.folded(model, partition, newest)

    async def _stream(
        self, uow: UnitOfWork, stream: Stream, version: Version | None, rows: _Rows, first: int
    ) -> tuple[datetime | None, int]:
        """Insert and fold one stream's rows (staged from ``first``); returns the newest
        time folded and how many were new."""
        conn, horizon = uow.conn, self.settings.label_horizon_s
        end = first + len(rows.counted)
        if version is None:  # not registered (yet): stored, counted once it is
            await ingest.insert(conn, first, end, None, horizon)
            return None, 0
        ingest_metrics.registered(stream.model_name)
        await streams.lock(conn, stream)
        t, now = version.thresholds, self.clock()
        window: OpenWindow | None = await data_windows.resume(conn, stream, version, self.windows)
        newest: datetime | None = None
        folded, at = 0, first
        while at < end:
            if window is not None and (now - window.opened_at).total_seconds() >= t.window_seconds:
                await data_windows.close(uow, stream, window, version, self.export)
                window = None
            if window is None:
                window = fresh(await windows.open_data(conn, stream, now), now, version)
            share = min(end, at + max(1, t.window_size - window.count))
            new = await ingest.insert(conn, at, share, window.id, horizon)
            counted = [
                r for r in rows.counted[at - first : share - first] if r["request_id"] in new
            ]
            if counted:
                absorb(window, version, counted)
                folded += len(counted)
                latest = max(r["event_time"] for r in counted)
                newest = latest if newest is None or latest > newest else newest
            at = share
            if window.count >= t.window_size:
                await data_windows.close(uow, stream, window, version, self.export)
                window = None
        if window is None:
            self.windows.pop(stream, None)
        else:
            await windows.save_progress(conn, window.id, window.count, window.start, window.end)
            self.windows[stream] = window
        return newest, folded
