"""Drift injected on two features is named within one window, once per episode, and
resolves after recovery; the same traffic without the shift raises nothing."""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np
import pytest

from services.monitor.bootstrap import definition
from shared.events.monitoring import DriftDetected
from shared.settings import Settings
from shared.store.artifacts import open_store
from tests.integration.monitor.helpers import (
    FAST,
    events_of,
    labels,
    prediction,
    publish_many,
    registered,
)
from tests.support.polling import eventually
from tests.support.services import http, running

pytestmark = pytest.mark.integration

WINDOW = 300
SHIFTED = (2, 5)
THRESHOLDS = {"window_size": WINDOW, "min_rows": 100, "recovery_windows": 1, "window_seconds": 3600}


def _traffic(rng: np.random.Generator, model: str, shift: bool) -> list[Any]:
    rows = rng.normal(size=(WINDOW, 8))
    if shift:
        rows[:, list(SHIFTED)] += 1.5
    return [
        prediction(model, r, request_id=f"{model}-{i}-{rng.integers(1e12)}")
        for i, r in enumerate(rows)
    ]


async def test_drift_episode_and_control(settings: Settings, unique: str) -> None:
    rng = np.random.default_rng(0)
    drifting, control = f"drift-{unique}", f"control-{unique}"
    reference = rng.normal(size=(5000, 8))
    async with running(definition(FAST), settings) as service:
        await publish_many(
            settings.kafka_bootstrap,
            [
                await registered(settings, m, reference, thresholds=THRESHOLDS)
                for m in (drifting, control)
            ],
        )
        # Windows: clean, shifted, shifted, clean.
        for phase, shift in enumerate((False, True, True, False)):
            batch = _traffic(rng, drifting, shift) + _traffic(rng, control, False)
            assert service.infra is not None
            if phase == 1:
                # Ground truth for some shifted traffic, for the export that goes with the
                # alert. Labels may come first (they wait for their predictions); stored
                # before the window's traffic, they are surely joined when it closes.
                truth = labels(drifting, {p.request_id: 1 for p in batch[:40]})
                await publish_many(settings.kafka_bootstrap, [truth])
                await eventually(
                    lambda: service.infra.pool.fetchval(  # type: ignore[union-attr]
                        "SELECT count(*) = 40 FROM labels WHERE model_name = $1", drifting
                    ),
                    timeout=30,
                    what="labels stored",
                )
            await publish_many(settings.kafka_bootstrap, batch)
            await eventually(
                lambda p=phase: service.infra.pool.fetchval(  # type: ignore[union-attr]
                    "SELECT count(*) = $2 FROM windows WHERE model_name = $1 AND kind = 'data'"
                    " AND closed_at IS NOT NULL",
                    drifting,
                    p + 1,
                ),
                timeout=60,
                what=f"window {phase + 1} closed",
            )

        bootstrap = settings.kafka_bootstrap
        resolved = await events_of(bootstrap, "monitor.alert_resolved", drifting, 1)
        # Every window is closed and its events are in the outbox by now; the relay has
        # published the resolution, so the alerts before it are out too.
        alerts = await events_of(bootstrap, "drift.detected", drifting, 1)
        assert len(alerts) == 1, "one alert per episode"
        metrics = await events_of(bootstrap, "monitor.metrics", control, 4)
        assert len(metrics) == 4
        assert (
            await service.infra.pool.fetchval(  # type: ignore[union-attr]
                "SELECT count(*) FROM alerts WHERE model_name = $1", control
            )
            == 0
        )
        alert: DriftDetected = alerts[0]
        assert alert.model_name == drifting and alert.arm == "stable"
        assert set(alert.top_features) == {f"f{i}" for i in SHIFTED}
        assert alert.window.count == WINDOW
        ks = next(f for f in alert.features if f.method == "ks" and f.feature == "f2")
        # Bonferroni over eight features and the multivariate test.
        assert ks.drifted and ks.p_value is not None and ks.threshold == pytest.approx(0.05 / 9)
        assert ks.reference_n == 2000 and ks.current_n == WINDOW
        assert [r.alert_id for r in resolved] == [alert.alert_id]

        # The labelled rows travel with the alert as a training-ready CSV.
        assert alert.labelled_data is not None
        store = await open_store(settings.artifact_store_url())
        rows = list(csv.reader(io.StringIO((await store.get(alert.labelled_data)).decode())))
        assert rows[0] == [*(f"f{i}" for i in range(8)), "y"] and len(rows) == 41

        token = await service.infra.auth.issue("reader", "viewer")  # type: ignore[union-attr]
        async with http(service, token) as client:
            latest = (await client.get(f"/v1/models/{drifting}/windows")).json()
            data = next(w for w in latest["windows"] if w["kind"] == "data")
            assert data["count"] == WINDOW and data["drifted"] is False
            assert data["metrics"]["requests"] == WINDOW
            assert "latency_p99_ms" in data["metrics"] and "psi.f2" in data["metrics"]
            series = (
                await client.get(f"/v1/models/{drifting}/series", params={"metric": "psi.f2"})
            ).json()["points"]
            values = [p["value"] for p in series]
            assert len(values) == 4 and min(values[1:3]) > 5 * max(values[0], values[3])
            history = (
                await client.get(
                    "/v1/alerts", params={"model_name": drifting, "include_resolved": True}
                )
            ).json()["alerts"]
            assert [a["alert_id"] for a in history] == [alert.alert_id]
            assert (await client.get("/v1/alerts", params={"model_name": drifting})).json()[
                "alerts"
            ] == []
        async with http(service) as anonymous:
            assert (await anonymous.get(f"/v1/models/{drifting}/windows")).status_code == 401
