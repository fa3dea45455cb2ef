"""The issue's acceptance at the trainer: a 10^6-trial search is refused at both doors; a
job beyond its memory limit fails with that reason, and the trainer takes the next job."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from services.trainer.bootstrap import definition
from services.trainer.settings import TrainerSettings
from shared.runtime import ServiceProcess
from shared.settings import Settings
from tests.integration.trainer.helpers import (
    QUICK,
    abandon_jobs_of,
    csv_dataset,
    jobs_of,
    outcomes,
    request,
)
from tests.support.bus import collect, publish
from tests.support.services import http, running

pytestmark = pytest.mark.integration

# An iris job with QUICK maps ~0.55 GB (the imports ~0.4 GB) with one BLAS thread; the
# limit leaves it room, and a file of 10M cells needs ~0.65 GB once read.
MEMORY_MB = 900


@pytest.fixture
async def bounded(
    settings: Settings, unique: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[ServiceProcess]:
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(name, "1")  # the same address space on any number of cores
    own = TrainerSettings(poll_s=0.1, max_workers=1, job_memory_mb=MEMORY_MB)
    async with running(definition(own), settings) as service:
        yield service
    await abandon_jobs_of(settings.database_url, unique)


# Two trainings in child processes, one of them reading 10M cells, after the session's
# Postgres and Kafka start when this test runs first: more than the default 300 s on a
# loaded machine.
@pytest.mark.timeout(600)
async def test_a_job_beyond_its_memory_limit_fails_and_the_trainer_takes_the_next(
    bounded: ServiceProcess, settings: Settings, unique: str, tmp_path: Path
) -> None:
    # Two-digit cells: a few bytes each in the file, ~64 bytes each once read. Within the
    # byte and cell caps: only the memory limit stops it.
    columns, rows = 250, 40_000
    header = ",".join(f"f{i}" for i in range(columns - 1)) + ",label\n"
    row = ",".join(str(10 + i % 89) for i in range(columns - 1)) + ",1\n"
    big = csv_dataset(tmp_path / "big.csv", header + row * rows)
    hog = request(f"hog-{unique}", big, target="label", candidates=QUICK)
    await publish(settings.kafka_bootstrap, hog)
    [failed] = await outcomes(
        settings.kafka_bootstrap, "training.failed", hog.request_id, timeout=300
    )
    assert f"exceeded its memory limit of {MEMORY_MB} MB" in failed.data.reason, failed.data
    assert failed.data.error_class == "MemoryLimitExceeded"
    [job] = await jobs_of(settings.database_url, hog.model_name)
    assert job["status"] == "failed" and job["attempts"] == 1

    after = request(f"after-hog-{unique}", "iris", candidates=QUICK)
    await publish(settings.kafka_bootstrap, after)
    [done] = await outcomes(
        settings.kafka_bootstrap, "training.completed", after.request_id, timeout=300
    )
    assert done.data.model_name == after.model_name and bounded.ready.is_set()


async def test_a_million_trial_search_is_refused_over_http_and_on_the_bus(
    bounded: ServiceProcess, settings: Settings, unique: str
) -> None:
    assert bounded.infra is not None
    token = await bounded.infra.auth.issue("dana", "data-scientist")
    huge = request(f"huge-{unique}", "iris", candidates=QUICK, max_trials_per_candidate=10**6)
    body = huge.model_dump(mode="json", by_alias=True)
    async with http(bounded, token) as client:
        response = await client.post("/v1/training-requests", json=body)
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["code"] == "cap_exceeded"
    assert error["detail"] == {
        "cap": "max_trials_per_candidate",
        "limit": 50,
        "setting": "MODELBUS_TRAINER_MAX_TRIALS_PER_CANDIDATE",
    }
    assert await jobs_of(settings.database_url, huge.model_name) == []

    [sent] = await publish(settings.kafka_bootstrap, huge)
    [failed] = await outcomes(settings.kafka_bootstrap, "training.failed", huge.request_id)
    assert "max_trials_per_candidate is 1000000" in failed.data.reason
    assert "MODELBUS_TRAINER_MAX_TRIALS_PER_CANDIDATE" in failed.data.reason
    [letter] = await collect(
        settings.kafka_bootstrap,
        "training.requested.dlq",
        raw=True,
        where=lambda r: orjson.loads(r.value).get("id") == sent.id,
        until=lambda found: len(found) >= 1,
    )
    headers = {k: v.decode() for k, v in letter.headers}
    assert "MODELBUS_TRAINER_MAX_TRIALS_PER_CANDIDATE" in headers["modelbus.dlq.error_message"]
    assert await jobs_of(settings.database_url, huge.model_name) == []
