"""The inference use case: answers, logs for every outcome, shadows, and evidence to decisions."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import orjson
import pytest

from services.deployer.runtime.codec import parse_request
from services.deployer.serving.evidence import Evidence, RolloutVerdict
from services.deployer.serving.inference import Inference, InferenceFailed
from services.deployer.serving.prediction_log import PredictionLog
from services.deployer.serving.table import ServedModel, ServingTable
from shared.errors import InvalidInput, NotFound
from shared.events.common import DeploymentStrategy
from tests.support.onnx_models import logistic_regression_onnx
from tests.unit.deployer.conftest import MakeServed
from tests.unit.deployer.models import failing_for_large_first_feature

X = logistic_regression_onnx().X_holdout


def body(rows: np.ndarray, **extra: object) -> bytes:
    doc = {
        "inputs": [
            {
                "name": "X",
                "datatype": "FP32",
                "shape": list(rows.shape),
                "data": rows.ravel().tolist(),
            }
        ],
        **extra,
    }
    return json.dumps(doc).encode()


def setup(model: ServedModel) -> tuple[Inference, PredictionLog, list[RolloutVerdict]]:
    table = ServingTable()
    table.models[model.name] = model
    log = PredictionLog(capacity=10_000, enabled=True, source="deployer")
    decisions: list[RolloutVerdict] = []
    return Inference(table, log, decisions.append), log, decisions


async def infer(
    inference: Inference,
    raw: bytes,
    version: int | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, object]:
    payload, header_length = await inference.infer(
        "m", version, parse_request(raw), (headers or {}).get
    )
    assert header_length is None
    return orjson.loads(payload)  # type: ignore[no-any-return]


async def test_answers_echo_the_id_and_honour_requested_outputs(make_served: MakeServed) -> None:
    inference, log, _ = setup(ServedModel("m", 1, make_served(1)))
    answer = await infer(inference, body(X[:2], id="r-9", outputs=[{"name": "label"}]))
    assert answer["id"] == "r-9" and answer["model_version"] == "1"
    assert answer["outputs"] == [
        {
            "name": "label",
            "datatype": "INT64",
            "shape": [2],
            "data": logistic_regression_onnx().expected[:2].tolist(),
        }
    ]
    with pytest.raises(InvalidInput, match="unknown output 'nope'"):
        await infer(inference, body(X[:1], outputs=[{"name": "nope"}]))
    with pytest.raises(NotFound):
        await infer(inference, body(X[:1]), version=5)
    statuses = [r.error is None for r in log._buffer]
    assert statuses == [True, False]  # the unknown output was logged as a failure


async def test_shadow_never_changes_the_answer_and_both_arms_are_logged(
    make_served: MakeServed,
) -> None:
    stable = make_served(1)
    shadow = make_served(2, onnx=failing_for_large_first_feature(logistic_regression_onnx().onnx))
    evidence = Evidence("m", 2, DeploymentStrategy(kind="shadow", promote_after_requests=1000), 1.0)
    inference, log, _ = setup(ServedModel("m", 1, stable, shadow, "shadow", evidence=evidence))
    for i in range(10):
        answer = await infer(inference, body(X[i : i + 1], id=f"r{i}"))
        assert answer["model_version"] == "1"
    await asyncio.gather(*inference._shadows)
    arms = sorted((r.request_id, r.arm, r.error is None) for r in log._buffer)
    assert arms == sorted(
        [(f"r{i}", "stable", True) for i in range(10)]
        + [(f"r{i}", "shadow", False) for i in range(10)]
    )
    assert evidence.candidate.errors == 10 and evidence.stable.count == 10


async def test_candidate_failures_are_500s_and_evidence_rolls_it_back(
    make_served: MakeServed,
) -> None:
    stable = make_served(1)
    bad = make_served(2, onnx=failing_for_large_first_feature(logistic_regression_onnx().onnx))
    evidence = Evidence("m", 2, DeploymentStrategy(kind="canary", promote_after_requests=50), 1.0)
    inference, log, decisions = setup(
        ServedModel("m", 1, stable, bad, "canary", 0.5, evidence=evidence)
    )
    failures = 0
    for i in range(200):
        try:
            await infer(inference, body(X[i % len(X) : i % len(X) + 1]))
        except InferenceFailed as exc:
            assert "version 2 failed" in exc.message
            failures += 1
    assert failures > 0
    assert [(d.kind, d.version) for d in decisions] == [("rollback", 2)]
    assert sum(r.error is not None for r in log._buffer) == failures


async def test_bad_input_is_logged_but_is_no_evidence_against_the_model(
    make_served: MakeServed,
) -> None:
    evidence = Evidence("m", 2, DeploymentStrategy(kind="canary"), 1.0)
    inference, log, _ = setup(
        ServedModel("m", 1, make_served(1), make_served(2), "canary", 1.0, evidence=evidence)
    )
    with pytest.raises(InvalidInput):
        await infer(inference, body(np.zeros((1, 4), np.float32)))
    assert evidence.candidate.count == 0
    (logged,) = log._buffer
    assert logged.arm == "canary" and "shape" in (logged.error or "")
