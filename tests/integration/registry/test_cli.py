"""``modelbus models ...`` against a running registry."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from pathlib import Path

import pytest

from modelbus.cli import main
from tests.integration.registry.conftest import LOOP, Registry
from tests.support.onnx_models import regression_onnx

pytestmark = [pytest.mark.integration, LOOP]
# The registry runs in this process and logs to the same stdout as the CLI prints to.
SERVICE_LOG = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[")


async def test_register_list_show_and_alias_from_the_cli(
    registry: Registry,
    unique: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MODELBUS_REGISTRY_URL", f"http://127.0.0.1:{registry.service.port}")
    monkeypatch.setenv("MODELBUS_TOKEN", registry.scientist)
    name = f"cli-{unique}"
    model = tmp_path / "model.onnx"
    model.write_bytes(regression_onnx().onnx)
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"rmse": 53.1}))
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({"features": {"bmi": {"mean": 0.0}}}))

    async def cli(*argv: str) -> tuple[int, str]:
        code = await asyncio.to_thread(main, ["models", *argv])  # the service shares this loop
        captured = capsys.readouterr()
        lines = (captured.out + captured.err).splitlines(keepends=True)
        return code, "".join(line for line in lines if not SERVICE_LOG.match(line))

    code, out = await cli("register", name, str(model), "--task", "regression",
                          "--owner", "dana", "--risk-tier", "high", "--tag", "team=pricing",
                          "--description", "diabetes progression", "--metrics", str(metrics),
                          "--profile", str(profile))  # fmt: skip
    assert code == 0 and f"registered {name} version 1" in out
    code, out = await cli("list", "--name", unique, "--owner", "dana")
    assert code == 0
    header, row = out.strip().splitlines()
    assert header.split()[:4] == ["NAME", "LATEST", "OWNER", "RISK"]
    assert row.split()[:4] == [name, "1", "dana", "high"] and "diabetes progression" in row
    code, out = await cli("alias", name, "champion", "1")
    assert code == 0 and f"{name}@champion -> version 1" in out
    code, out = await cli("show", name)
    assert json.loads(out)["aliases"] == {"champion": 1}
    code, out = await cli("show", name, "1")
    shown = json.loads(out)
    # Reported by the uploader, not measured: a claim, and nothing to decide on.
    assert shown["claimed"]["metrics"] == {"rmse": 53.1} and shown["task"] == "regression"
    assert shown["metrics"] == {} and shown["measured"] is None
    assert shown["metadata"]["tags"] == {"team": "pricing"} and shown["registered_by"].startswith(
        "token:"
    )
    assert shown["reference_profile"]["sha256"] == hashlib.sha256(profile.read_bytes()).hexdigest()
    assert registry.stored(shown["reference_profile"]["sha256"])
    code, out = await cli("show", name, "2")
    assert code == 1 and out.startswith("error: 404")  # one line, no traceback
