"""Data a model cannot be trained on ends in training.failed with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.events.common import ArtifactRef
from shared.events.training import DatasetSpec, TrainingFailed
from shared.runtime import ServiceProcess
from shared.settings import Settings
from tests.integration.trainer.helpers import csv_dataset, jobs_of, outcomes, request
from tests.support.bus import publish

pytestmark = pytest.mark.integration


async def test_bad_data_fails_the_job_with_the_reason(
    trainer: ServiceProcess, settings: Settings, unique: str, tmp_path: Path
) -> None:
    no_target = csv_dataset(tmp_path / "a.csv", "a,b\n1,2\n3,4\n")
    one_class = csv_dataset(
        tmp_path / "b.csv", "a,label\n" + "".join(f"{i},yes\n" for i in range(50))
    )
    wrong_type = csv_dataset(
        tmp_path / "c.csv", "a,label\n1,0\nlots,1\n", schema={"a": "float", "label": "int"}
    )
    good = csv_dataset(tmp_path / "d.csv", "a,label\n1,0\n2,1\n")
    assert good.artifact is not None
    corrupt = DatasetSpec(
        artifact=ArtifactRef(uri=good.artifact.uri, sha256="0" * 64, size=good.artifact.size)
    )
    cases = {
        "target column 'label' is not in the dataset": request(
            f"no-target-{unique}", no_target, target="label"
        ),
        "single class": request(f"one-class-{unique}", one_class, target="label"),
        "column 'a': the value is not a number": request(
            f"wrong-type-{unique}", wrong_type, target="label"
        ),
        "does not match its claim check": request(f"corrupt-{unique}", corrupt, target="label"),
    }
    await publish(settings.kafka_bootstrap, *cases.values())
    for reason, ask in cases.items():
        [event] = await outcomes(settings.kafka_bootstrap, "training.failed", ask.request_id)
        failed: TrainingFailed = event.data
        assert reason in failed.reason, failed
        assert "lots" not in failed.reason  # a cell value never travels in an error
        [job] = await jobs_of(settings.database_url, ask.model_name)
        assert (job["status"], job["id"]) == ("failed", failed.job_id)
        assert reason in job["failure_reason"]
