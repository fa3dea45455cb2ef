"""Every inference becomes exactly one ``predictions.logged`` record, failures included."""

from __future__ import annotations

import httpx
import orjson
import pytest

from shared.runtime import ServiceProcess
from tests.integration.deployer.harness import (
    Lifecycle,
    RawClient,
    admin_token,
    events_about,
    serving,
    v2_body,
)
from tests.support.onnx_models import logistic_regression_onnx
from tests.unit.deployer.models import string_lookup_onnx

pytestmark = pytest.mark.integration

REQUESTS = 10_000


async def test_ten_thousand_requests_give_ten_thousand_records(
    deployer: ServiceProcess, client: httpx.AsyncClient, lifecycle: Lifecycle, kafka_bootstrap: str
) -> None:
    built = logistic_regression_onnx()
    model = lifecycle.name("logged")
    await lifecycle.approve(model, 1, built.onnx)
    await serving(client, model, 1)

    good = v2_body(built.X_holdout[:1])
    bad = v2_body(built.X_holdout[:1, :7])  # wrong shape: a 400, logged as a failure
    bodies = [
        orjson.dumps(dict(bad if i % 100 == 0 else good, id=f"req-{i}")) for i in range(REQUESTS)
    ]
    answers = await RawClient(deployer.port, await admin_token(deployer)).post_all(
        f"/v2/models/{model}/infer", bodies
    )
    statuses = [status for status, _ in answers]
    assert statuses.count(400) == REQUESTS // 100 and statuses.count(200) == REQUESTS * 99 // 100

    records = await events_about(
        kafka_bootstrap,
        "predictions.logged",
        model,
        until=lambda found: len(found) >= REQUESTS,
        timeout=120,
    )
    assert len(records) == REQUESTS
    assert len({r.data.request_id for r in records}) == REQUESTS
    failed = [r.data for r in records if r.data.status == "error"]
    assert len(failed) == REQUESTS // 100 and all("shape" in (f.error or "") for f in failed)
    assert {r.data.arm for r in records} == {"stable"}


async def test_redacted_fields_never_reach_the_log(
    client: httpx.AsyncClient, lifecycle: Lifecycle, kafka_bootstrap: str
) -> None:
    model = lifecycle.name("private")
    await lifecycle.approve(model, 1, string_lookup_onnx(), redact=("S",))
    await serving(client, model, 1)
    response = await client.post(
        f"/v2/models/{model}/infer",
        json={
            "id": "secret-1",
            "inputs": [
                {"name": "S", "datatype": "BYTES", "shape": [2], "data": ["a", "alice@example.com"]}
            ],
        },
    )
    assert response.json()["outputs"][0]["data"] == [1, -1]
    (record,) = await events_about(
        kafka_bootstrap, "predictions.logged", model, until=lambda found: len(found) >= 1
    )
    assert record.data.inputs == {"S": "[redacted]"}
    assert record.data.outputs == {"Y": [1, -1]}
