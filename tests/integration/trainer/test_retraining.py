"""Drift and performance alerts retrain models that opted in, one retraining at a time."""

from __future__ import annotations

import functools
import json

import pytest

from shared.events.common import Window
from shared.events.monitoring import DriftDetected, PerformanceDegraded
from shared.runtime import ServiceProcess
from shared.settings import Settings
from tests.integration.trainer.helpers import QUICK, jobs_of, outcomes, request
from tests.support.bus import collect, publish
from tests.support.polling import eventually

pytestmark = pytest.mark.integration

WINDOW = Window(start="2026-01-01T00:00:00Z", end="2026-01-01T01:00:00Z", count=300)


async def test_alerts_retrain_opted_in_models_once_at_a_time(
    trainer: ServiceProcess, settings: Settings, unique: str
) -> None:
    auto, manual = f"auto-{unique}", f"manual-{unique}"
    first = request(
        auto,
        "wine",
        candidates=QUICK,
        metric="accuracy",
        seed=5,
        metadata={"owner": "ana", "retraining": "auto"},
    )
    await publish(settings.kafka_bootstrap, first, request(manual, "wine", candidates=QUICK))
    for model in (auto, manual):
        await eventually(
            functools.partial(jobs_of, settings.database_url, model),
            timeout=30,
            what=f"job for {model}",
        )

    drift = [
        DriftDetected(
            model_name=auto,
            version=3,
            arm="stable",
            alert_id=f"d{i}-{unique}",
            window=WINDOW,
            features=[],
            top_features=["alcohol"],
        )
        for i in range(2)
    ]
    decay = PerformanceDegraded(
        model_name=manual,
        version=1,
        arm="stable",
        alert_id=f"p-{unique}",
        metric="accuracy",
        value=0.5,
        baseline=0.9,
        threshold=0.1,
        window=WINDOW,
    )
    alerts = await publish(settings.kafka_bootstrap, *drift, decay, source="monitor")

    [asked] = await collect(
        settings.kafka_bootstrap,
        "training.requested",
        until=lambda found: len(found) >= 1,
        where=lambda e: e.data.model_name == auto and e.data.reason != "manual",
    )
    retraining = asked.data
    assert (retraining.reason, retraining.parent_version) == ("drift", 3)
    assert retraining.candidates == first.candidates and retraining.seed == 5
    assert retraining.metadata == first.metadata
    assert asked.causationid == alerts[0].id
    assert asked.correlationid == alerts[0].correlationid

    assert trainer.infra is not None
    await eventually(
        lambda: trainer.infra.pool.fetchval(  # type: ignore[union-attr]
            "SELECT count(*) = 3 FROM inbox WHERE event_id = ANY($1::text[])",
            [a.id for a in alerts],
        ),
        timeout=30,
        what="every alert consumed",
    )
    [done] = await outcomes(settings.kafka_bootstrap, "training.completed", retraining.request_id)
    assert (done.data.parent_version, done.data.reason) == (3, "drift")
    assert done.correlationid == alerts[0].correlationid
    jobs = {m: await jobs_of(settings.database_url, m) for m in (auto, manual)}
    assert [j["reason"] for j in jobs[auto]] == ["manual", "drift"]  # the second alert waited
    assert [j["reason"] for j in jobs[manual]] == ["manual"]  # never opted in
    await outcomes(settings.kafka_bootstrap, "training.completed", first.request_id)

    # Alerts on version 3 keep coming until its retrained child is promoted: no new job.
    # An alert on another version is news.
    late = drift[0].model_copy(update={"alert_id": f"late-{unique}"})
    child = drift[0].model_copy(update={"alert_id": f"child-{unique}", "version": 4})
    _, child_alert = await publish(settings.kafka_bootstrap, late, child, source="monitor")
    [again] = await collect(
        settings.kafka_bootstrap,
        "training.requested",
        until=lambda found: len(found) >= 1,
        where=lambda e: e.data.model_name == auto and e.data.parent_version == 4,
    )
    assert again.causationid == child_alert.id
    jobs = {auto: await jobs_of(settings.database_url, auto)}
    parents = [json.loads(j["request"]).get("parent_version") for j in jobs[auto]]
    assert parents == [None, 3, 4], parents
