"""Wiring of the monitor service: its migrations, handlers, routes and workers."""

from __future__ import annotations

from functools import partial
from importlib import resources

from services.monitor import api, handlers
from services.monitor.analysis.open_window import WindowCache
from services.monitor.settings import MonitorSettings
from services.monitor.store.versions import VersionCache
from services.monitor.windows.labelled_export import LabelledExport
from services.monitor.windows.stream_windows import StreamFolder
from services.monitor.worker import StreamWorker
from shared.bus.stream import stream
from shared.gc_tuning import tune_garbage_collector
from shared.runtime import Infrastructure, ServiceDefinition, ServiceParts


def definition(settings: MonitorSettings | None = None) -> ServiceDefinition:
    """The monitor, with its own settings (tests pass short horizons and ticks)."""

    async def build(infra: Infrastructure) -> ServiceParts:
        config = settings or MonitorSettings()
        tune_garbage_collector(config.gc_young_threshold)
        export = LabelledExport(infra.artifacts, config.export_rows)
        # Shared by the worker and the stream folder: one stream, one cached open window.
        versions, windows = VersionCache(), WindowCache()
        worker = StreamWorker(infra.transactions, export, config, versions, windows)
        folder = StreamFolder(config, versions, windows, export)
        return ServiceParts(
            handlers={
                "model.registered": partial(
                    handlers.on_model_registered, sources=infra.sources, settings=config
                ),
                "model.deployed": handlers.on_model_deployed,
                "labels.received": handlers.on_labels_received,
            },
            streams={
                "predictions.logged": stream(
                    partial(handlers.on_predictions_logged, folder=folder)
                ),
            },
            routers=[api.router(infra.pool)],
            workers=[worker.run],
        )

    return ServiceDefinition("monitor", resources.files("services.monitor") / "migrations", build)
