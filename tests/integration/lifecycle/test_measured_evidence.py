"""Evidence the platform measures, across the registry, governance and the deployer.

A model that only *says* it is good (self-reported metrics and parity) goes to people and
does not serve; the same model registered with evaluation data is measured in the
registry's sandbox, approved by policy on the measured numbers (the decision names them)
and served. A hand-built graph with two FP64 inputs, from no training framework at all,
goes the same way and answers inference requests.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import pytest_asyncio

from modelbus.cli import main
from services.deployer.bootstrap import definition as deployer
from services.deployer.settings import DeployerSettings
from services.governance.bootstrap import definition as governance
from services.governance.settings import GovernanceSettings
from services.registry.bootstrap import definition as registry
from shared.runtime import ServiceProcess
from shared.settings import Settings
from tests.support.bus import collect
from tests.support.events import DECISION_KEY, SIGNING_KEY_FILE
from tests.support.onnx_models import (
    logistic_regression_eval_csv,
    logistic_regression_onnx,
    tagged,
    two_inputs_eval_csv,
    two_inputs_fp64_onnx,
    two_inputs_fp64_predict,
)
from tests.support.polling import eventually
from tests.support.services import http, running

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

SUFFIX = "evidence"
AUDIT_KEY = "measured-evidence-tests-4d2b8f6a1c3e5d7f9b0a"


@dataclass
class Platform:
    registry: ServiceProcess
    deployer: ServiceProcess
    bootstrap: str
    scientist: str
    admin: str

    def registry_client(self) -> httpx.AsyncClient:
        # A registration runs in a sandbox process: on a loaded machine it takes a while.
        return http(self.registry, self.scientist, timeout=120)

    def deployer_client(self) -> httpx.AsyncClient:
        return http(self.deployer, self.admin)

    async def status(self, name: str, version: int) -> str:
        async with self.registry_client() as client:
            response = await client.get(f"/v1/models/{name}/versions/{version}")
            return str(response.json()["status"]) if response.status_code == 200 else ""

    async def reaches(self, name: str, version: int, status: str) -> None:
        async def there() -> bool:
            return await self.status(name, version) == status

        await eventually(there, timeout=90, what=f"{name} v{version} {status}")

    async def decision(self, topic: str, name: str) -> Any:
        [event] = await collect(self.bootstrap, topic, until=lambda found: len(found) >= 1,
                                where=lambda e: e.data.model_name == name, timeout=60)  # fmt: skip
        return event.data


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(
    database_url: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Platform]:
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        home=tmp_path_factory.mktemp("evidence-home"),
        http_port=0,
        artifact_source_dirs=[tmp_path_factory.getbasetemp()],
        decision_keys=[DECISION_KEY],
    )
    audit = GovernanceSettings(audit_key=AUDIT_KEY, signing_key_file=SIGNING_KEY_FILE)  # type: ignore[arg-type]
    serving = DeployerSettings(replica_id=f"evidence-{SUFFIX}", models=f"*-{SUFFIX}-*",
                               reconcile_interval_s=0.1, gc_young_threshold=0)  # fmt: skip
    async with (
        running(registry(), settings) as reg,
        running(governance(audit), settings) as gov,
        running(deployer(serving), settings) as dep,
    ):
        assert reg.infra is not None and gov.infra is not None
        scientist = await reg.infra.auth.issue("dana", "data-scientist")
        admin = await reg.infra.auth.issue("root", "admin")
        yield Platform(reg, dep, kafka_bootstrap, scientist, admin)


def upload_form(
    onnx: bytes, metadata: dict[str, Any], evaluation: tuple[str, str] | None = None
) -> dict[str, Any]:
    files: dict[str, Any] = {"artifact": ("model.onnx", onnx, "application/onnx")}
    if evaluation is not None:
        files["eval_data"] = ("holdout.csv", evaluation[0].encode(), "text/csv")
        files["reference_predictions"] = ("preds.csv", evaluation[1].encode(), "text/csv")
    return {"files": files, "data": {"metadata": json.dumps(metadata)}}


async def test_self_reported_evidence_ends_in_review_and_does_not_serve(
    platform: Platform, unique: str
) -> None:
    name = f"claims-{SUFFIX}-{unique}"
    metadata = {"task": "classification", "metrics": {"accuracy": 0.99}, "parity_passed": True,
                "metadata": {"owner": "dana", "risk_tier": "low"}}  # fmt: skip
    async with platform.registry_client() as client:
        response = await client.post(f"/v1/models/{name}/versions",
                                     **upload_form(logistic_regression_onnx().onnx, metadata))  # fmt: skip
    assert response.status_code == 201, response.text
    version = response.json()
    assert version["measured"] is None and version["metrics"] == {}
    assert version["claimed"] == {"metrics": {"accuracy": 0.99}, "fairness": {},
                                  "parity_passed": True}  # fmt: skip

    review = await platform.decision("review.requested", name)
    assert review.required_approvals == 1
    checks = {c.name: c for c in review.decision.checks}
    assert not checks["evidence.measured"].passed
    assert checks["metric.accuracy"].value is None  # the claim is not a value
    await platform.reaches(name, 1, "pending_review")
    async with platform.deployer_client() as client:
        assert (await client.get(f"/v2/models/{name}/ready")).status_code != 200


async def test_the_same_model_with_eval_data_is_measured_approved_and_served(
    platform: Platform,
    unique: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = f"measured-{SUFFIX}-{unique}"
    built = logistic_regression_onnx()
    data, reference = logistic_regression_eval_csv()
    (tmp_path / "model.onnx").write_bytes(tagged(built.onnx, unique))
    (tmp_path / "holdout.csv").write_text(data)
    (tmp_path / "preds.csv").write_text(reference)
    (tmp_path / "claims.json").write_text(json.dumps({"accuracy": 0.99}))
    monkeypatch.setenv("MODELBUS_REGISTRY_URL", f"http://127.0.0.1:{platform.registry.port}")
    monkeypatch.setenv("MODELBUS_TOKEN", platform.scientist)
    argv = ["models", "register", name, str(tmp_path / "model.onnx"), "--owner", "dana",
            "--metrics", str(tmp_path / "claims.json"),
            "--eval-data", str(tmp_path / "holdout.csv"), "--target", "y",
            "--reference-predictions", str(tmp_path / "preds.csv")]  # fmt: skip
    assert await asyncio.to_thread(main, argv) == 0  # the services share this loop
    out = capsys.readouterr().out
    assert f"registered {name} version 1" in out and "measured by the registry on 114 rows" in out

    async with platform.registry_client() as client:
        version = (await client.get(f"/v1/models/{name}/versions/1")).json()
    measured = version["measured"]
    y_true = np.asarray([int(line.rsplit(",", 1)[1]) for line in data.splitlines()[1:]])
    accuracy = float(np.mean(built.expected == y_true))
    assert measured["by"] == "registry" and measured["rows"] == 114
    assert measured["metrics"]["accuracy"] == pytest.approx(accuracy)
    assert {"roc_auc", "f1"} <= set(measured["metrics"]) and measured["parity_passed"] is True
    assert version["claimed"]["metrics"] == {"accuracy": 0.99}

    approved = await platform.decision("model.approved", name)
    check = {c.name: c for c in approved.decision.checks}["metric.accuracy"]
    assert check.passed and check.value == pytest.approx(accuracy)
    assert (
        f"{accuracy:g}" in check.message and "measured by the registry on 114 rows" in check.message
    )
    await platform.reaches(name, 1, "serving")


async def test_a_hand_built_graph_with_two_fp64_inputs_goes_the_whole_way_and_serves(
    platform: Platform, unique: str
) -> None:
    name = f"handmade-{SUFFIX}-{unique}"
    metadata = {"task": "classification", "target": "y",
                "metadata": {"owner": "dana", "risk_tier": "low",
                             "sensitive_attribute": "group"}}  # fmt: skip
    form = upload_form(tagged(two_inputs_fp64_onnx(), unique), metadata, two_inputs_eval_csv())
    async with platform.registry_client() as client:
        response = await client.post(f"/v1/models/{name}/versions", **form)
    assert response.status_code == 201, response.text
    measured = response.json()["measured"]
    assert measured["parity_passed"] is True and measured["metrics"]["accuracy"] > 0.8
    assert set(measured["fairness"]) >= {"demographic_parity_difference"}

    await platform.decision("model.approved", name)
    await platform.reaches(name, 1, "serving")
    a, b = np.array([0.3, -1.2, 2.0]), np.array([1.5, 0.1, -0.4])
    body = {"inputs": [
        {"name": "a", "datatype": "FP64", "shape": [3], "data": a.tolist()},
        {"name": "b", "datatype": "FP64", "shape": [3], "data": b.tolist()},
    ]}  # fmt: skip
    async with platform.deployer_client() as client:
        response = await client.post(f"/v2/models/{name}/infer", json=body)
    assert response.status_code == 200, response.text
    outputs = {o["name"]: o for o in response.json()["outputs"]}
    assert outputs["label"]["data"] == two_inputs_fp64_predict(a, b).tolist()
