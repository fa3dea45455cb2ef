"""Labels joined whatever their order or lateness, orphans expired and counted, duplicate
predictions counted once; performance alerts and the CLI on the same traffic."""

from __future__ import annotations

import asyncio
import random

import numpy as np
import pytest

from modelbus.cli import main
from services.monitor.bootstrap import definition
from services.monitor.settings import MonitorSettings
from shared.events.envelope import new_event
from shared.settings import Settings
from tests.integration.monitor.helpers import (
    events_of,
    labels,
    prediction,
    publish_many,
    registered,
)
from tests.support.polling import eventually
from tests.support.services import http, running

pytestmark = pytest.mark.integration

HORIZON_S = 4.0
THRESHOLDS = {
    "window_size": 20,
    "min_rows": 10,
    "performance_window": 20,
    "performance_min_labels": 5,
    "recovery_windows": 1,
    "window_seconds": 3600,
}


async def test_late_out_of_order_and_duplicate_deliveries(
    settings: Settings,
    unique: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = f"labels-{unique}"
    rng = np.random.default_rng(1)
    config = MonitorSettings(tick_s=0.2, label_horizon_s=HORIZON_S)
    async with running(definition(config), settings) as service:
        assert service.infra is not None
        pool = service.infra.pool
        bootstrap = settings.kafka_bootstrap
        await publish_many(
            bootstrap,
            [
                await registered(
                    settings,
                    model,
                    rng.normal(size=(2000, 4)),
                    thresholds=THRESHOLDS,
                    metrics={"accuracy": 0.95},
                )
            ],
        )
        ids = [f"r{i}" for i in range(20)]
        # Ground truth for the first ten arrives before their predictions.
        await publish_many(bootstrap, [labels(model, {r: 1 for r in ids[:10]})])
        traffic = [
            new_event(prediction(model, rng.normal(size=4), request_id=r), source="t") for r in ids
        ]
        again = prediction(model, rng.normal(size=4), request_id="r3")  # new event, same request
        await publish_many(bootstrap, [*traffic, traffic[7], again])
        # The rest arrives late, shuffled; one label twice; five never find a prediction.
        late = ids[10:]
        random.Random(2).shuffle(late)
        await publish_many(
            bootstrap,
            [
                *(labels(model, {r: 0}) for r in late),
                labels(model, {"r5": 1}),
                labels(model, {f"orphan{i}": 1 for i in range(5)}),
            ],
        )

        async def label_counts() -> dict[str, int] | None:
            token = await service.infra.auth.issue("reader", "viewer")  # type: ignore[union-attr]
            async with http(service, token) as client:
                counts = (await client.get(f"/v1/models/{model}/labels")).json()
            return counts if counts["expired"] == 5 else None

        counts = await eventually(label_counts, timeout=HORIZON_S + 30, what="orphans expired")
        assert counts == {
            "model_name": model,
            "received": 25,
            "matched": 20,
            "unmatched": 0,
            "expired": 5,
            "duplicates": 1,
        }
        assert (
            await pool.fetchval("SELECT count(*) FROM predictions WHERE model_name = $1", model)
            == 20
        )

        # One data window of twenty requests: the duplicates were not counted.
        metrics = await events_of(bootstrap, "monitor.metrics", model, 2)
        data = [m for m in metrics if "requests" in m.metrics]
        scored = [m for m in metrics if "labelled" in m.metrics]
        assert [d.metrics["requests"] for d in data] == [20.0]
        # Half the labels say the prediction (class 1) was wrong.
        assert scored[0].metrics["labelled"] == 20 and scored[0].metrics["accuracy"] == 0.5
        alert = (await events_of(bootstrap, "performance.degraded", model, 1))[0]
        assert (alert.metric, alert.value, alert.baseline) == ("accuracy", 0.5, 0.95)
        assert alert.threshold == pytest.approx(0.90)
        assert alert.labelled_data is not None

        # The model is right again: the episode resolves.
        better = [prediction(model, rng.normal(size=4), request_id=f"s{i}") for i in range(20)]
        await publish_many(bootstrap, [*better, labels(model, {p.request_id: 1 for p in better})])
        resolved = (await events_of(bootstrap, "monitor.alert_resolved", model, 1))[0]
        assert (resolved.alert_id, resolved.kind) == (alert.alert_id, "performance")

        token = await service.infra.auth.issue("cli", "viewer")
        monkeypatch.setenv("MODELBUS_MONITOR_URL", f"http://127.0.0.1:{service.port}")
        monkeypatch.setenv("MODELBUS_TOKEN", token)
        assert await asyncio.to_thread(main, ["monitor", model]) == 0
        shown = capsys.readouterr().out
        assert f"model {model}" in shown and "performance window" in shown
        assert "accuracy 1.000" in shown and "5 expired" in shown
        assert "latency p50/p95/p99" in shown and "open alerts: none" in shown
