"""The sandbox at the registry's doors: a model is measured on evaluation data sent by
upload or by claim check, a model that wants more memory than the sandbox has is refused
naming the limit (and the registry goes on), and a model's first version pins its risk
tier until an approver lowers it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.registry.settings import RegistrySettings
from shared.events.common import ArtifactRef, ModelMetadata
from shared.events.registry import EvaluationData, ModelSubmitted
from shared.http.auth import principal_id
from shared.store.artifacts import sha256_hex
from tests.integration.registry.conftest import LOOP, Registry
from tests.support.bus import collect, publish
from tests.support.onnx_models import (
    memory_hog_onnx,
    regression_onnx,
    tagged,
    two_inputs_eval_csv,
    two_inputs_fp64_onnx,
)

pytestmark = [pytest.mark.integration, LOOP]
# Every registration runs in a sandbox process; on a loaded machine one can take a while
# (a bound on waiting, not a timing).
PATIENCE_S = 120


def form(onnx: bytes, metadata: dict[str, Any], eval_csv: str | None = None) -> dict[str, Any]:
    files: dict[str, Any] = {"artifact": ("model.onnx", onnx, "application/onnx")}
    if eval_csv is not None:
        files["eval_data"] = ("holdout.csv", eval_csv.encode(), "text/csv")
    return {"files": files, "data": {"metadata": json.dumps(metadata)}}


def ref(path: Path) -> ArtifactRef:
    data = path.read_bytes()
    return ArtifactRef(uri=path.as_uri(), sha256=sha256_hex(data), size=len(data))


async def test_a_model_over_the_memory_limit_is_refused_and_the_registry_goes_on(
    registry: Registry, unique: str
) -> None:
    limit = RegistrySettings().sandbox_memory_mb
    hog = tagged(memory_hog_onnx(), unique)  # a few hundred bytes asking for 6.4 GB
    metadata = {"task": "regression", "target": "y"}
    async with registry.client(registry.scientist, timeout=PATIENCE_S) as client:
        # Loading alone does not fold the constant: validation passes without measuring.
        loaded = await client.post(f"/v1/models/hog-{unique}/versions", **form(hog, metadata))
        assert loaded.status_code == 201, loaded.text
        assert loaded.json()["measured"] is None
        # Running it on evaluation data asks for the memory, and the sandbox has less.
        refused = await client.post(f"/v1/models/hog-{unique}/versions",
                                    **form(hog, metadata, "X,y\n1,2\n3,4\n"))  # fmt: skip
        assert refused.status_code == 422
        assert refused.json()["detail"]["failed_checks"] == ["sandbox_limits"]
        assert f"memory limit of {limit} MB" in refused.json()["error"]

        regressor = regression_onnx()
        rows = "\n".join(
            ",".join(f"{v:.9g}" for v in x) + f",{float(p):.9g}"
            for x, p in zip(regressor.X_holdout, regressor.expected, strict=True)
        )
        header = ",".join(f"x{i}" for i in range(regressor.X_holdout.shape[1])) + ",y"
        after = await client.post(f"/v1/models/next-{unique}/versions",
                                  **form(regressor.onnx, metadata, f"{header}\n{rows}\n"))  # fmt: skip
    assert after.status_code == 201, after.text
    measured = after.json()["measured"]
    assert measured["rows"] == len(regressor.expected)
    assert measured["metrics"]["r2"] == pytest.approx(1.0, abs=1e-6)  # y is its own prediction


async def test_evaluation_data_by_claim_check_is_measured_and_outside_reads_are_refused(
    registry: Registry, unique: str, tmp_path: Path
) -> None:
    data, reference = two_inputs_eval_csv(rows=200, seed=3)
    (tmp_path / "model.onnx").write_bytes(tagged(two_inputs_fp64_onnx(), unique))
    (tmp_path / "holdout.csv").write_text(data)
    (tmp_path / "preds.csv").write_text(reference)
    good = ModelSubmitted(
        submission_id=f"eval-{unique}",
        model_name=f"bus-{unique}",
        artifact=ref(tmp_path / "model.onnx"),
        task="classification",
        metrics={"accuracy": 1.0},
        metadata=ModelMetadata(owner="ci", sensitive_attribute="group"),
        evaluation=EvaluationData(
            data=ref(tmp_path / "holdout.csv"),
            target="y",
            reference_predictions=ref(tmp_path / "preds.csv"),
        ),
    )
    forbidden = good.model_copy(update={
        "submission_id": f"environ-{unique}", "model_name": f"environ-{unique}",
        "evaluation": EvaluationData(target="y", data=ArtifactRef(
            uri="file:///proc/self/environ", sha256="0" * 64, size=1)),
    })  # fmt: skip
    await publish(registry.bootstrap, forbidden, good, source="ci")
    [registered] = await collect(registry.bootstrap, "model.registered",
                                 until=lambda found: len(found) >= 1,
                                 where=lambda e: e.data.model_name == good.model_name)  # fmt: skip
    measured = registered.data.measured
    assert measured.by == "registry" and measured.rows == 200 and measured.parity_passed
    assert measured.dataset_sha256 == good.evaluation.data.sha256  # type: ignore[union-attr]
    assert registered.data.claimed.metrics == {"accuracy": 1.0}
    assert registered.data.metrics == measured.metrics  # what is decided on is the measured
    [failed] = await collect(registry.bootstrap, "model.registration_failed",
                             until=lambda found: len(found) >= 1,
                             where=lambda e: e.data.model_name == forbidden.model_name)  # fmt: skip
    assert failed.data.failed_checks == ["source"] and "evaluation data" in failed.data.reason


async def test_the_first_version_pins_the_risk_tier_until_an_approver_lowers_it(
    registry: Registry, unique: str
) -> None:
    assert registry.service.infra is not None
    approver = await registry.service.infra.auth.issue("ann", "approver")
    name = f"tier-{unique}"
    model = regression_onnx().onnx

    def at(tier: str, note: str) -> dict[str, Any]:
        return form(tagged(model, note), {"task": "regression", "metadata": {"risk_tier": tier}})

    async with registry.client(registry.scientist, timeout=PATIENCE_S) as client:
        assert (
            await client.post(f"/v1/models/{name}/versions", **at("high", "1"))
        ).status_code == 201
        lower = await client.post(f"/v1/models/{name}/versions", **at("low", "2"))
        assert lower.status_code == 422
        assert lower.json()["detail"]["failed_checks"] == ["risk_tier"]
        assert "pinned at risk tier 'high'" in lower.json()["error"]
        asked = {"risk_tier": "low", "reason": "scoped to internal use"}
        forbidden = await client.post(f"/v1/models/{name}/risk-tier", json=asked)
        assert forbidden.status_code == 403  # a data scientist cannot lower it
    async with registry.client(approver, timeout=PATIENCE_S) as client:
        lowered = await client.post(f"/v1/models/{name}/risk-tier", json=asked)
        assert lowered.status_code == 200, lowered.text
        [entry] = lowered.json()["lowerings"]
        ann = principal_id(approver.split("_")[1])  # recorded by principal, not by name
        assert (entry["previous"], entry["risk_tier"], entry["actor"]) == ("high", "low", ann)
        again = await client.post(f"/v1/models/{name}/risk-tier", json=asked)
        assert again.status_code == 409  # not lower than the floor now in force
    async with registry.client(registry.scientist, timeout=PATIENCE_S) as client:
        retried = await client.post(f"/v1/models/{name}/versions", **at("low", "3"))
        assert retried.status_code == 201, retried.text
    [audited] = await collect(registry.bootstrap, "model.risk_tier_lowered",
                              until=lambda found: len(found) >= 1,
                              where=lambda e: e.data.model_name == name)  # fmt: skip
    assert audited.data.reason == "scoped to internal use"
