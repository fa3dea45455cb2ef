"""The whole lifecycle with every service as a process, on the session's Apache Kafka.

With shifted traffic: drift is detected, the model is retrained on the labelled traffic,
approved, canaried and promoted. With unshifted traffic: no drift alert at all. On the
generated credit applications (text and numeric columns): the model trained from the
raw table serves what scikit-learn answers to tritonclient, and drift on a text column
is detected and named.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio

from modelbus.demo.platform import Platform
from modelbus.demo.scenario import run
from modelbus.embedded import pick_free_port
from modelbus.stack import PROCESSES, StackSettings, running_stack
from services.trainer.training import mixed
from shared.http.auth import issue_token
from tests.support.credit_serving import applications, fitted_pipeline, served_answers

pytestmark = pytest.mark.e2e


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def platform(database_url: str, kafka_bootstrap: str) -> AsyncIterator[Platform]:
    ports = {f"{name}_port": pick_free_port() for name in PROCESSES}
    os.environ.setdefault("MODELBUS_GOVERNANCE_AUDIT_KEY", "e2e-" + os.urandom(24).hex())
    with tempfile.TemporaryDirectory(
        prefix="modelbus-e2e-loop-", ignore_cleanup_errors=True
    ) as home:
        settings = StackSettings(
            home=Path(home),
            database_url=database_url,
            kafka_bootstrap=kafka_bootstrap,
            **ports,
        )
        async with running_stack(settings) as stack:
            yield Platform.of(stack)


@pytest.mark.asyncio(loop_scope="module")
async def test_drift_leads_to_a_retrained_version_promoted_on_evidence(platform: Platform) -> None:
    result = await run(platform, shift=True, echo=print)
    assert result.drift_detected
    assert set(result.drifted_features) & {"mean radius", "mean perimeter", "mean area"}
    assert result.closed_loop and result.versions[0] == 1 and result.versions[-1] >= 2
    assert result.failed_requests == 0
    assert result.audit_ok, result.audit


@pytest.mark.asyncio(loop_scope="module")
async def test_unshifted_traffic_raises_no_drift_alert(platform: Platform) -> None:
    result = await run(platform, shift=False, echo=print)
    assert not result.drift_detected
    assert result.versions == [1] and result.failed_requests == 0
    assert result.audit_ok, result.audit


@pytest.mark.asyncio(loop_scope="module")
async def test_credit_applications_serve_what_scikit_learn_answers_and_name_drift(
    platform: Platform, tmp_path: Path
) -> None:
    pipeline, layout = fitted_pipeline(tmp_path)
    frame = applications(60, seed=123)
    token = await issue_token(platform.database_url, "e2e-credit", "admin", created_by="e2e")
    port = int(platform.endpoints["deployer"].rsplit(":", 1)[1])
    served: dict[str, object] = {}

    async def through_tritonclient(model: str, version: int) -> None:
        served.update(await asyncio.to_thread(served_answers, port, token, model, frame, layout))

    result = await run(
        platform,
        shift=True,
        echo=print,
        dataset="credit",
        serving_check=through_tritonclient,
        stop_after_drift=True,
    )

    metadata = served["metadata"]
    assert {i["name"]: i["datatype"] for i in metadata["inputs"]} == {  # type: ignore[index]
        n: "BYTES" if n in layout.categorical else "FP32" for n in layout.features
    }
    expected = mixed.as_float32(frame, layout)
    labels, proba = served["label"], served["probabilities"]
    assert list(labels) == list(pipeline.predict(expected))  # type: ignore[call-overload]
    assert np.abs(proba - pipeline.predict_proba(expected)).max() < 1e-4  # type: ignore[operator]
    assert frame["country"].iloc[-1] == "Atlantis"  # never seen in training: answered anyway
    assert result.drift_detected and "country" in result.drifted_features
    assert result.failed_requests == 0
    assert result.audit_ok, result.audit
