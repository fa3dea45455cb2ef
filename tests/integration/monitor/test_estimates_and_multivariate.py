"""Through the monitor service: performance estimated before labels, then measured once they
arrive; and a flipped correlation raised as multivariate drift while its control stays quiet."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from services.monitor.bootstrap import definition
from shared.events.deployment import PredictionLogged
from shared.events.monitoring import DriftDetected, PerformanceDegraded
from shared.reference_builder import holdout_scores
from shared.settings import Settings
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
from tests.support.shifts import correlated_pair, sized_population

pytestmark = pytest.mark.integration

WINDOW = 1000
THRESHOLDS = {
    "window_size": WINDOW,
    "performance_window": WINDOW,
    "min_rows": 100,
    "recovery_windows": 1,
    "window_seconds": 3600,
}


def _scored(model: str, classifier: LogisticRegression, rows: np.ndarray) -> list[Any]:
    """What the deployer logs for each row: the label and the class probabilities."""
    scores = classifier.predict_proba(rows)
    return [
        PredictionLogged(
            request_id=uuid.uuid4().hex,
            model_name=model,
            version=1,
            arm="stable",
            time=datetime.now(UTC).isoformat(),
            inputs={"input": [row.tolist()]},
            outputs={"label": [int(s.argmax())], "probabilities": [s.tolist()]},
            latency_ms=3.0,
            status="ok",
        )
        for row, s in zip(rows, scores, strict=True)
    ]


async def _closed(service: Any, model: str, kind: str, count: int) -> list[dict[str, Any]]:
    pool = service.infra.pool

    async def done() -> bool:
        closed = await pool.fetchval(
            "SELECT count(*) FROM windows WHERE model_name = $1 AND kind = $2"
            " AND closed_at IS NOT NULL",
            model,
            kind,
        )
        return bool(closed >= count)

    await eventually(done, timeout=90, what=f"{count} {kind} windows of {model} closed")
    token = await service.infra.auth.issue(f"reader-{uuid.uuid4().hex[:6]}", "viewer")
    async with http(service, token) as client:
        answer = await client.get(
            f"/v1/models/{model}/windows/history", params={"kind": kind, "limit": 10}
        )
    windows: list[dict[str, Any]] = answer.json()["windows"]
    return windows


async def test_estimated_performance_before_labels_then_measured(
    settings: Settings, unique: str
) -> None:
    rng = np.random.default_rng(1)
    model = f"cbpe-{unique}"
    x, y = sized_population(rng, 4000)
    classifier = LogisticRegression(max_iter=1000).fit(x[:2000], y[:2000])
    holdout = holdout_scores(
        classifier.predict_proba(x[2000:]), classifier.predict(x[2000:]), y[2000:], [0, 1]
    )
    async with running(definition(FAST), settings) as service:
        version = await registered(
            settings, model, x[:2000], thresholds=THRESHOLDS, holdout=holdout
        )
        await publish_many(settings.kafka_bootstrap, [version])

        plain, _ = sized_population(rng, WINDOW)
        await publish_many(settings.kafka_bootstrap, _scored(model, classifier, plain))
        first = (await _closed(service, model, "data", 1))[0]["metrics"]
        assert abs(first["estimated_accuracy"] - first["estimated_accuracy_reference"]) <= 0.02
        assert first["estimated_accuracy"] > first["estimated_accuracy_threshold"]

        shifted, truth = sized_population(rng, WINDOW, shifted=True)
        traffic = _scored(model, classifier, shifted)
        await publish_many(settings.kafka_bootstrap, traffic)
        second = (await _closed(service, model, "data", 2))[-1]["metrics"]
        # Before any label: the drop is in the window, and it raised an alert.
        assert second["estimated_accuracy"] < second["estimated_accuracy_threshold"]
        alerts = await events_of(settings.kafka_bootstrap, "performance.degraded", model, 1)
        alert: PerformanceDegraded = alerts[0]
        assert alert.metric == "estimated_accuracy"
        assert alert.value == pytest.approx(second["estimated_accuracy"])
        assert alert.baseline == pytest.approx(second["estimated_accuracy_reference"])
        assert not await service.infra.pool.fetchval(
            "SELECT count(*) FROM windows WHERE model_name = $1 AND kind = 'performance'", model
        )

        # The labels arrive: measured beside estimated.
        truth_by_id = {p.request_id: int(v) for p, v in zip(traffic, truth, strict=True)}
        await publish_many(settings.kafka_bootstrap, [labels(model, truth_by_id)])
        measured = (await _closed(service, model, "performance", 1))[0]["metrics"]
        assert measured["labelled"] == WINDOW
        assert abs(second["estimated_accuracy"] - measured["accuracy"]) <= 0.03
        token = await service.infra.auth.issue(f"beside-{unique}", "viewer")
        async with http(service, token) as client:
            answer = await client.get(f"/v1/models/{model}/estimates")
        assert answer.status_code == 200
        (beside,) = answer.json()["windows"]
        assert beside["measured"]["accuracy"] == pytest.approx(measured["accuracy"])
        assert abs(beside["estimated"]["accuracy"] - beside["measured"]["accuracy"]) <= 0.03
        assert len(beside["data_windows"]) >= 1


def _plain(model: str, rows: np.ndarray) -> list[Any]:
    return [prediction(model, r) for r in rows]


async def test_flipped_correlation_raises_multivariate_drift_only(
    settings: Settings, unique: str
) -> None:
    rng = np.random.default_rng(2)
    flipped, control = f"flip-{unique}", f"steady-{unique}"
    reference = correlated_pair(rng, 20_000)
    async with running(definition(FAST), settings) as service:
        await publish_many(
            settings.kafka_bootstrap,
            [
                await registered(settings, m, reference, thresholds=THRESHOLDS, sample_rows=5000)
                for m in (flipped, control)
            ],
        )
        await publish_many(
            settings.kafka_bootstrap,
            _plain(flipped, correlated_pair(rng, WINDOW, flipped=True))
            + _plain(control, correlated_pair(rng, WINDOW)),
        )
        alerts = await events_of(settings.kafka_bootstrap, "drift.detected", flipped, 1)
        alert: DriftDetected = alerts[0]
        assert alert.multivariate is not None and alert.multivariate.drifted
        assert alert.multivariate.statistic > alert.multivariate.threshold
        assert alert.top_features == [], "no feature drifted on its own"
        window = (await _closed(service, flipped, "data", 1))[0]
        assert window["drifted"] is True and window["metrics"]["drifted_features"] == 0
        steady = (await _closed(service, control, "data", 1))[0]
        assert steady["drifted"] is False and steady["metrics"]["multivariate_drifted"] == 0.0
        assert not await service.infra.pool.fetchval(
            "SELECT count(*) FROM alerts WHERE model_name = $1", control
        )
