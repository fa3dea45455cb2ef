"""``modelbus deploy`` and ``modelbus predict`` against a running deployer, authenticated."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
import pytest

from modelbus.cli import main
from shared.events.common import DeploymentStrategy
from shared.runtime import ServiceProcess
from tests.integration.deployer.harness import Lifecycle, deployed_as, serving
from tests.support.onnx_models import logistic_regression_onnx, tagged

pytestmark = pytest.mark.integration

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[")


async def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI (blocking, so in a thread: the server runs in this loop); its output
    without the in-process service's log lines."""
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, _without_logs(out), _without_logs(err)


def _without_logs(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not LOG_LINE.match(line))


async def test_status_predict_promote_and_rollback_from_the_shell(
    deployer: ServiceProcess,
    client: httpx.AsyncClient,
    lifecycle: Lifecycle,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built = logistic_regression_onnx()
    model = lifecycle.name("shell")
    await lifecycle.approve(model, 1, built.onnx)
    await serving(client, model, 1)
    await lifecycle.approve(
        model,
        2,
        tagged(built.onnx, "v2"),
        DeploymentStrategy(kind="canary", canary_weight=0.25, promote_after_requests=1_000_000),
    )
    await deployed_as(client, model, 2, "canary")
    assert deployer.infra is not None
    monkeypatch.setenv("MODELBUS_DEPLOYER_URL", f"http://127.0.0.1:{deployer.port}")

    monkeypatch.setenv("MODELBUS_TOKEN", await deployer.infra.auth.issue("viewer", "viewer"))
    code, out, _ = await cli(capsys, "deploy", "status", model)
    rows = [line.split() for line in out.splitlines() if line.startswith(model)]
    assert code == 0 and rows == [
        [model, "stable", "1", "75%", "active", "yes"],
        [model, "canary", "2", "25%", "active", "yes"],
    ]
    row = json.dumps({"X": built.X_holdout[:2].tolist()})
    code, out, _ = await cli(capsys, "predict", model, "--json", row, "--version", "1")
    answer = json.loads(out)
    assert code == 0 and answer["model_version"] == "1"
    assert answer["outputs"][0]["data"] == built.expected[:2].tolist()
    code, _, err = await cli(capsys, "deploy", "promote", model)
    assert code == 1 and "403" in err and "approver" in err  # a viewer may not

    monkeypatch.setenv("MODELBUS_TOKEN", await deployer.infra.auth.issue("ann", "approver"))
    code, out, _ = await cli(
        capsys, "deploy", "promote", model, "--version", "2", "--reason", "canary looks fine"
    )
    assert code == 0 and out.strip() == "version 2 promoted to stable"
    code, out, _ = await cli(capsys, "deploy", "rollback", model, "--reason", "second thoughts")
    assert code == 0 and out.strip() == "version 2 rolled back; version 1 serves"
    code, out, _ = await cli(capsys, "deploy", "rollback", model, "--version", "2")
    assert code == 0 and out.startswith("nothing to do")
