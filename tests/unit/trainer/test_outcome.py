"""A finished run becomes stored artifacts and a training.completed payload."""

from __future__ import annotations

from pathlib import Path

import orjson

from services.trainer.outcome import completed_event, failed_event, store_outputs
from services.trainer.store.jobs import Claim
from services.trainer.training.process import ARTIFACTS
from shared.events.envelope import new_event
from shared.events.training import DatasetSpec, TrainingRequested
from shared.store.artifacts import FileArtifactStore

SUMMARY = {
    "algorithm": "mlp",
    "metrics": {"accuracy": 0.9},
    "params": {"hyperparameters": {"alpha": 0.01}, "feature_names": ["a"]},
    "candidates": [
        {
            "algorithm": "mlp",
            "params": {"alpha": 0.01},
            "cv_score": 0.8,
            "cv_std": 0.01,
            "fit_time_s": 0.2,
        }
    ],
    "dataset_sha256": "ab" * 32,
    "feature_importance": {"a": 0.1},
    "fairness": {},
    "training_s": 1.0,
}


def claim() -> Claim:
    request = TrainingRequested(
        request_id="r",
        model_name="m",
        task="classification",
        dataset=DatasetSpec(builtin="iris"),
        parent_version=2,
        reason="drift",
        metadata={"owner": "ana"},
    )
    return Claim("job1", "token", 1, new_event(request, source="test"))


async def test_artifacts_are_stored_and_the_profile_names_the_sample(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    for field, name in ARTIFACTS.items():
        content = orjson.dumps({"features": []}) if field == "profile" else field.encode()
        (work / name).write_bytes(content)
    store = FileArtifactStore(tmp_path / "store")
    refs = await store_outputs(store, work)
    profile = orjson.loads(await store.get(refs["profile"]))
    assert profile["reference_sample"]["sha256"] == refs["reference_sample"].sha256
    assert await store.get(refs["model"]) == b"model"
    assert refs["model"].media_type == "application/onnx"

    done = completed_event(claim(), SUMMARY, refs, 3.5)
    assert (done.job_id, done.algorithm, done.parity_passed) == ("job1", "mlp", True)
    assert (done.parent_version, done.reason, done.metadata.owner) == (2, "drift", "ana")
    assert done.reference_profile == refs["profile"] and done.importance == refs["importance"]
    assert done.candidates[0].fit_time_s == 0.2


def test_failures_carry_the_reason_and_the_job() -> None:
    failed = failed_event(claim(), "x" * 5000, "DataError")
    assert (failed.job_id, failed.error_class, len(failed.reason)) == ("job1", "DataError", 4000)
