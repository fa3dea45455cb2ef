"""One training run end to end, on small files, and the process around it."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import numpy as np
import onnxruntime as ort
import orjson
import pytest

from services.trainer.runner import (
    Limits,
    WarmStarter,
    child_env,
    run_training,
    start_process,
    write_inputs,
)
from services.trainer.training import process
from services.trainer.training.errors import DataError
from services.trainer.training.process import ARTIFACTS, RESULT
from services.trainer.training.train import Inputs, train
from shared.events.common import ArtifactRef
from shared.events.training import DatasetSpec, TrainingRequested


def table(rows: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    lines = ["income,age,score,label"]
    for _ in range(rows):
        income, age = rng.normal(50, 10), rng.integers(18, 80)
        label = "good" if income + rng.normal(0, 5) > 50 else "bad"
        score = "" if rng.random() < 0.1 else f"{rng.normal():.3f}"
        lines.append(f"{income:.2f},{age},{score},{label}")
    return "\n".join(lines) + "\n"


def ref(data: bytes, path: Path) -> ArtifactRef:
    path.write_bytes(data)
    return ArtifactRef(uri=path.as_uri(), sha256=hashlib.sha256(data).hexdigest(), size=len(data))


def csv_request(tmp_path: Path, **fields: object) -> tuple[TrainingRequested, Path]:
    path = tmp_path / "data.csv"
    dataset = ref(table(150, 0).encode(), path)
    request = TrainingRequested(
        request_id="r1",
        model_name="credit",
        task="classification",
        target="label",
        dataset=DatasetSpec(artifact=dataset, format="csv"),
        candidates=[{"algorithm": "logistic_regression", "search_space": {"C": [0.1, 1.0]}}],
        metric="f1",
        metadata={"sensitive_attribute": "age"},
        **fields,
    )
    return request, path


def test_a_csv_with_text_labels_and_gaps_trains_to_a_checked_model(tmp_path: Path) -> None:
    extra_path = tmp_path / "extra.csv"
    extra = ref(table(40, 1).encode(), extra_path)
    request, path = csv_request(tmp_path, extra_data=extra)
    stages: list[str] = []
    out = train(Inputs(request, path, extra_path), lambda stage, _: stages.append(stage))
    summary = out.summary
    assert summary["params"]["training_rows"] == 120 + 40  # extra rows join the training split
    assert summary["params"]["classes"] == ["bad", "good"]
    assert summary["params"]["pipeline"] == ["impute", "scale", "LogisticRegression"]
    assert summary["dataset_sha256"] != request.dataset.artifact.sha256  # type: ignore[union-attr]
    assert len(summary["candidates"]) == 2 and summary["metrics"]["f1"] > 0.5
    assert set(summary["fairness"]) >= {"demographic_parity_difference"}
    assert stages[0].startswith("loading") and stages[-1] == "done"
    session = ort.InferenceSession(out.model, providers=["CPUExecutionProvider"])
    labels, _ = session.run(None, {"input": np.array([[80.0, 30, np.nan]], np.float32)})
    assert labels.tolist() == ["good"]
    profile = orjson.loads(out.profile)
    assert profile["features"][2]["missing_rate"] > 0
    # The holdout's scores and truth, for the monitor to calibrate its estimates on.
    holdout = profile["holdout"]
    assert holdout["classes"] == ["bad", "good"] and len(holdout["scores"]) == 30
    assert set(holdout["actual"]) <= {"bad", "good"} and len(holdout["predicted"]) == 30
    assert out.reference_sample.decode().splitlines()[0] == "income,age,score,label"


def test_a_single_class_dataset_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    dataset = ref(b"a,label\n" + b"".join(b"%d,x\n" % i for i in range(30)), path)
    request = TrainingRequested(
        request_id="r",
        model_name="m",
        task="classification",
        target="label",
        dataset=DatasetSpec(artifact=dataset),
    )
    with pytest.raises(DataError, match="single class"):
        train(Inputs(request, path), lambda *_: None)


async def test_the_training_process_reports_progress_and_leaves_its_outputs(
    tmp_path: Path,
) -> None:
    request, path = csv_request(tmp_path)
    write_inputs(tmp_path / "job", request, path.read_bytes(), None)
    stages: list[tuple[str, float]] = []
    result = await run_training(tmp_path / "job", lambda s, f: stages.append((s, f)), timeout_s=120)
    assert result["status"] == "succeeded", result
    assert stages[-1] == ("done", 1.0)
    assert all((tmp_path / "job" / name).stat().st_size > 0 for name in ARTIFACTS.values())


def test_a_refused_dataset_is_a_result_not_a_crash(tmp_path: Path) -> None:
    request, _ = csv_request(tmp_path)
    write_inputs(tmp_path / "job", request, b"income,age\n1,2\n", None)
    result = process.run(tmp_path / "job")
    assert result == {"status": "failed", "error_class": "DataError", "reason": result["reason"]}
    assert "target column 'label'" in result["reason"]
    assert orjson.loads((tmp_path / "job" / RESULT).read_bytes()) == result


async def test_the_training_process_exits_when_its_parent_goes_away(tmp_path: Path) -> None:
    request, path = csv_request(tmp_path)
    write_inputs(tmp_path / "job", request, path.read_bytes(), None)
    proc = await start_process(Limits())
    assert proc.stdin is not None
    proc.stdin.close()  # what the kernel does when the trainer dies
    assert await asyncio.wait_for(proc.wait(), 60) == 3


async def test_warm_processes_are_started_ahead_and_used_for_jobs(tmp_path: Path) -> None:
    starter = WarmStarter(Limits())
    await starter.prepare()
    first = await starter.take()
    second = await starter.take()  # the one started by the first take
    assert first.pid != second.pid and first.returncode is None
    request, path = csv_request(tmp_path)
    write_inputs(tmp_path / "job", request, path.read_bytes(), None)
    result = await run_training(tmp_path / "job", lambda *_: None, timeout_s=120, process=first)
    assert result["status"] == "succeeded", result
    second.kill()
    await second.wait()
    await starter.close()


async def test_cancelling_a_training_kills_its_process(tmp_path: Path) -> None:
    request, path = csv_request(tmp_path)
    write_inputs(tmp_path / "job", request, path.read_bytes(), None)
    started = asyncio.Event()
    task = asyncio.create_task(
        run_training(tmp_path / "job", lambda *_: started.set(), timeout_s=120)
    )
    await asyncio.wait_for(started.wait(), 60)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not (tmp_path / "job" / RESULT).exists()


def test_the_training_child_gets_no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELBUS_DATABASE_URL", "postgresql://trainer:secret@db/modelbus")
    monkeypatch.setenv("MODELBUS_KAFKA_SASL_PASSWORD", "kafka-secret")
    monkeypatch.setenv("PGPASSWORD", "libpq-secret")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    env = child_env(concurrent_jobs=1)
    assert not [k for k in env if k.startswith(("MODELBUS_", "PG"))]
    assert env["OMP_NUM_THREADS"] == "1" and "PYTHONPATH" in env
