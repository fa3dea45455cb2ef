"""A scorecard goes the way of any model: compiled, measured on its own test cases by the
registry, approved by policy on those numbers, served, and deciding as its rules read."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as triton

from modelbus.cli import main
from services.registry.rules.compile import evaluate
from services.registry.rules.scorecard import parse_scorecard
from tests.integration.lifecycle.test_measured_evidence import SUFFIX, Platform, platform
from tests.support.scorecards import FIELDS, SCORECARD_YAML, scorecard_rows

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]
__all__ = ["platform"]  # the module's services, shared with the measured-evidence tests

OWNED = SCORECARD_YAML.replace(
    "kind: scorecard\n", "kind: scorecard\nmetadata: {owner: credit-risk, risk_tier: low}\n"
)


def _decide(port: int, token: str, model: str, rows: list[dict[str, object]]) -> list[str]:
    """tritonclient's HTTP client, unmodified: text inputs as BYTES, numbers as FP32."""
    client = triton.InferenceServerClient(f"127.0.0.1:{port}")
    inputs = []
    for name, kind in FIELDS.items():
        text = kind == "string"
        values = np.array([[r[name]] for r in rows], dtype=object if text else np.float32)
        tensor = triton.InferInput(name, list(values.shape), "BYTES" if text else "FP32")
        tensor.set_data_from_numpy(values, binary_data=True)
        inputs.append(tensor)
    result = client.infer(model, inputs, outputs=[triton.InferRequestedOutput("label")],
                          headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    return [
        v.decode() if isinstance(v, bytes) else str(v) for v in result.as_numpy("label").ravel()
    ]


async def test_a_scorecard_passes_its_test_cases_is_approved_and_decides_as_its_rules(
    platform: Platform,
    unique: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = f"scorecard-{SUFFIX}-{unique}"
    (tmp_path / "rules.yaml").write_text(OWNED)
    monkeypatch.setenv("MODELBUS_REGISTRY_URL", f"http://127.0.0.1:{platform.registry.port}")
    monkeypatch.setenv("MODELBUS_TOKEN", platform.scientist)
    argv = ["models", "register-rules", name, str(tmp_path / "rules.yaml")]
    assert await asyncio.to_thread(main, argv) == 0  # the services share this loop
    out = capsys.readouterr().out
    assert f"registered {name} version 1" in out and "measured by the registry on 5 rows" in out

    async with platform.registry_client() as client:
        version = (await client.get(f"/v1/models/{name}/versions/1")).json()
        again = await client.post(f"/v1/models/{name}/rules", content=OWNED.encode())
    assert again.status_code == 200 and again.json()["version"] == 1  # one version per document
    measured = version["measured"]
    assert measured["by"] == "registry" and measured["rows"] == 5
    assert measured["metrics"]["accuracy"] == 1.0 and measured["parity_passed"] is True

    approved = await platform.decision("model.approved", name)
    assert approved.decision.policy.startswith("rules")
    await platform.reaches(name, 1, "serving")

    card = parse_scorecard(OWNED.encode())
    rows = scorecard_rows(1_000, seed=11)
    served = await asyncio.to_thread(_decide, platform.deployer.port, platform.admin, name, rows)
    assert served == [evaluate(card, r)[0] for r in rows]


async def test_a_scorecard_failing_one_of_its_test_cases_is_rejected(
    platform: Platform, unique: str
) -> None:
    name = f"scorecard-wrong-{SUFFIX}-{unique}"
    wrong = OWNED.replace("employment: salaried},\n     decision: refer",
                          "employment: salaried},\n     decision: approve", 1)  # fmt: skip
    async with platform.registry_client() as client:
        response = await client.post(f"/v1/models/{name}/rules", content=wrong.encode())
        refused = await client.post(f"/v1/models/{name}/rules", content=b"kind: [")
    assert response.status_code == 201, response.text
    assert response.json()["measured"]["metrics"]["accuracy"] == pytest.approx(0.8)
    rejected = await platform.decision("model.rejected", name)
    assert "metric.accuracy" in rejected.failed_checks
    checks = {c.name: c for c in rejected.decision.checks}
    assert not checks["metric.accuracy"].passed and checks["metric.accuracy"].value == 0.8
    assert refused.status_code == 400 and "not valid YAML" in refused.json()["error"]
