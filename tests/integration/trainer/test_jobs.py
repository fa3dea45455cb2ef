"""One job per request however it arrives, followed over HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from modelbus.cli import main
from shared.events.envelope import new_event
from shared.runtime import ServiceProcess
from shared.settings import Settings
from tests.integration.trainer.helpers import QUICK, jobs_of, outcomes, request
from tests.support.bus import publish
from tests.support.polling import eventually
from tests.support.services import http

pytestmark = pytest.mark.integration


async def test_a_request_sent_many_times_is_one_job_and_one_outcome(
    trainer: ServiceProcess,
    settings: Settings,
    unique: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert trainer.infra is not None
    model = f"twice-{unique}"
    scientist = await trainer.infra.auth.issue("ana", "data-scientist")
    viewer = await trainer.infra.auth.issue("vic", "viewer")
    monkeypatch.setenv("MODELBUS_TRAINER_URL", f"http://127.0.0.1:{trainer.port}")
    monkeypatch.setenv("MODELBUS_TOKEN", scientist)

    # First from the command line, then the same request over HTTP.
    argv = [
        "train",
        model,
        "--dataset",
        "iris",
        "--request-id",
        f"req-{unique}",
        "--candidate",
        'logistic_regression={"C": [1.0]}',
    ]
    assert await asyncio.to_thread(main, argv) == 0
    job_id = capsys.readouterr().out.split()[1]
    ask = request(
        model, "iris", candidates=QUICK, request_id=f"req-{unique}", metadata={"owner": "ana"}
    )
    body = ask.model_dump(mode="json", by_alias=True)
    async with http(trainer, scientist) as client:
        again = await client.post("/v1/training-requests", json=body)
        refused = await client.post("/v1/training-requests", json={**body, "metric": "rmse"})
    assert again.status_code == 200 and again.json()["job_id"] == job_id, again.text
    assert refused.status_code == 400 and "rmse" in refused.json()["error"]

    # The same request from the bus: once as a new event, once redelivered.
    event = new_event(ask, source="pipeline")
    published = await publish(settings.kafka_bootstrap, event, event, ask)

    async with http(trainer, viewer) as client:
        assert (await client.post("/v1/training-requests", json=body)).status_code == 403

        async def finished() -> dict[str, Any] | None:
            job = (await client.get(f"/v1/jobs/{job_id}")).json()
            return job if job["status"] == "succeeded" else None

        job = await eventually(finished, timeout=90, what="job succeeded")
        assert job is not None
        listed = (await client.get("/v1/jobs", params={"model": model})).json()["jobs"]
        assert (await client.get("/v1/jobs/nope")).status_code == 404
    assert job["attempts"] == 1 and job["progress_fraction"] == 1
    assert job["outcome"]["artifact"]["sha256"] and job["request"]["request_id"] == ask.request_id
    assert [j["job_id"] for j in listed] == [job_id]
    assert await asyncio.to_thread(main, ["jobs", "--model", model]) == 0
    assert "succeeded" in capsys.readouterr().out

    [completed] = await outcomes(settings.kafka_bootstrap, "training.completed", ask.request_id)
    assert completed.data.job_id == job_id
    # Every copy of the request has reached the trainer's inbox, and still one job and
    # one outcome event exist.
    conn = await asyncpg.connect(settings.database_url)
    try:
        copies = list({e.id for e in published} | {completed.causationid})
        assert len(copies) == 3
        await eventually(
            lambda: conn.fetchval(
                "SELECT count(*) = 3 FROM trainer.inbox WHERE event_id = ANY($1::text[])", copies
            ),
            timeout=30,
            what="every copy consumed",
        )
        emitted = await conn.fetchval(
            "SELECT count(*) FROM trainer.outbox WHERE topic = 'training.completed' AND key = $1",
            model,
        )
    finally:
        await conn.close()
    assert emitted == 1
    assert len(await jobs_of(settings.database_url, model)) == 1
