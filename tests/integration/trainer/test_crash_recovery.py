"""A trainer killed in the middle of a job: after a restart the job completes, once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
import pytest

from modelbus.embedded import pick_free_port
from shared.settings import Settings
from tests.integration.trainer.helpers import abandon_jobs_of, jobs_of, outcomes, request
from tests.support.bus import publish
from tests.support.polling import eventually

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]

# Slow enough to be caught mid-flight: four forests of 100 trees, cross-validated.
SLOW = [
    {
        "algorithm": "random_forest",
        "search_space": {"n_estimators": [100], "max_depth": [None, 4, 6, 8]},
    }
]


class TrainerProcess:
    """``python -m modelbus service trainer`` with a short lease, logging to a file."""

    def __init__(self, settings: Settings, home: Path) -> None:
        self.env = {
            **os.environ,
            "MODELBUS_DATABASE_URL": settings.database_url,
            "MODELBUS_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "MODELBUS_HTTP_PORT": str(pick_free_port()),
            "MODELBUS_HOME": str(home),
            "MODELBUS_TRAINER_LEASE_S": "3",
            "MODELBUS_TRAINER_HEARTBEAT_S": "0.5",
            "MODELBUS_TRAINER_POLL_S": "0.2",
        }
        self.home = home
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, log_name: str) -> None:
        with (self.home / log_name).open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "modelbus", "service", "trainer"],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def ready(self) -> None:
        """Wait for /readyz: the schema is migrated and the consumer has joined its group."""
        url = f"http://127.0.0.1:{self.env['MODELBUS_HTTP_PORT']}/readyz"

        async def answers() -> bool:
            try:
                async with httpx.AsyncClient(trust_env=False) as client:
                    return (await client.get(url, timeout=2)).status_code == 200
            except httpx.HTTPError:
                return False

        await eventually(answers, timeout=90, interval=0.2, what="trainer ready")

    def kill_tree(self) -> int:
        """SIGKILL the trainer and every process it started; how many there were."""
        assert self.process is not None
        parent = psutil.Process(self.process.pid)
        tree = [*parent.children(recursive=True), parent]
        for proc in tree:
            proc.kill()
        psutil.wait_procs(tree, timeout=10)
        return len(tree)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill_tree()


@pytest.fixture
async def trainer_process(
    settings: Settings, tmp_path: Path, unique: str
) -> AsyncIterator[TrainerProcess]:
    home = tmp_path / "home"
    home.mkdir()
    process = TrainerProcess(settings, home)
    yield process
    process.stop()
    await abandon_jobs_of(settings.database_url, unique)


async def test_a_job_interrupted_by_a_killed_trainer_completes_once_after_restart(
    trainer_process: TrainerProcess, settings: Settings, unique: str
) -> None:
    model = f"crash-{unique}"
    ask = request(model, "breast_cancer", candidates=SLOW)
    trainer_process.start("first.log")
    await trainer_process.ready()
    await publish(settings.kafka_bootstrap, ask)

    async def mid_search() -> dict[str, Any] | None:
        jobs = await jobs_of(settings.database_url, model)
        return jobs[0] if jobs and "(trial " in jobs[0]["progress"] else None

    caught = await eventually(mid_search, timeout=120, interval=0.1, what="job mid-search")
    assert caught is not None
    assert caught["status"] == "running" and caught["attempts"] == 1
    # This trainer holds the job (another one sharing the database could have claimed it).
    assert caught["id"] in (trainer_process.home / "first.log").read_text()
    assert trainer_process.kill_tree() >= 2  # the trainer and its training process

    trainer_process.start("second.log")
    [completed] = await outcomes(
        settings.kafka_bootstrap, "training.completed", ask.request_id, timeout=150
    )
    [job] = await jobs_of(settings.database_url, model)
    assert (job["status"], job["attempts"]) == ("succeeded", 2)
    assert completed.data.job_id == job["id"]
    conn = await asyncpg.connect(settings.database_url)
    try:
        outcomes_written = await conn.fetchval(
            "SELECT count(*) FROM trainer.outbox WHERE key = $1"
            " AND topic IN ('training.completed', 'training.failed')",
            model,
        )
    finally:
        await conn.close()
    assert outcomes_written == 1
