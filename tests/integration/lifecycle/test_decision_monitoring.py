"""A scorecard registered with a reference table is monitored like any model: its
profile is built from the table, and traffic shifted on one input raises drift named for
that input. Without a table its registration says that it is not drift-monitored."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from modelbus.cli import main
from services.deployer.bootstrap import definition as deployer
from services.deployer.settings import DeployerSettings
from services.governance.bootstrap import definition as governance
from services.governance.settings import GovernanceSettings
from services.monitor.bootstrap import definition as monitor
from services.monitor.settings import MonitorSettings
from services.registry.api.rules import NOT_MONITORED
from services.registry.bootstrap import definition as registry
from shared.events.reference_profile import parse_reference_profile
from shared.events.registry import ModelRegistered
from shared.runtime import ServiceProcess
from shared.settings import Settings
from shared.store.artifacts import open_store
from tests.support.bus import collect
from tests.support.events import DECISION_KEY, SIGNING_KEY_FILE
from tests.support.polling import eventually
from tests.support.scorecards import FIELDS, SCORECARD_YAML, rows_csv, scorecard_rows
from tests.support.services import http, running

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

SUFFIX = "watched"
AUDIT_KEY = "decision-monitoring-tests-7a1c9e3b5d2f4a6c8e0b"
WINDOW = 200
WATCHED = SCORECARD_YAML.replace(
    "kind: scorecard\n",
    "kind: scorecard\nmetadata: {owner: credit-risk, risk_tier: low, monitor_thresholds: "
    f"{{window_size: {WINDOW}, min_rows: 100, window_seconds: 3600}}}}\n",
)


@dataclass
class Platform:
    registry: ServiceProcess
    deployer: ServiceProcess
    bootstrap: str
    settings: Settings
    scientist: str
    admin: str

    async def version(self, name: str) -> dict[str, Any]:
        async with http(self.registry, self.scientist) as client:
            response = await client.get(f"/v1/models/{name}/versions/1")
        return dict(response.json()) if response.status_code == 200 else {}

    async def registered(self, name: str) -> ModelRegistered:
        [event] = await collect(self.bootstrap, "model.registered", until=lambda found: len(found) >= 1,
                                where=lambda e: e.data.model_name == name, timeout=60)  # fmt: skip
        return event.data  # type: ignore[no-any-return]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def platform(
    database_url: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Platform]:
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        home=tmp_path_factory.mktemp("watched-home"),
        http_port=0,
        decision_keys=[DECISION_KEY],
    )
    audit = GovernanceSettings(audit_key=AUDIT_KEY, signing_key_file=SIGNING_KEY_FILE)  # type: ignore[arg-type]
    serving = DeployerSettings(replica_id=f"watched-{SUFFIX}", models=f"*-{SUFFIX}-*",
                               reconcile_interval_s=0.1, gc_young_threshold=0)  # fmt: skip
    async with (
        running(registry(), settings) as reg,
        running(governance(audit), settings),
        running(deployer(serving), settings) as dep,
        running(monitor(MonitorSettings(tick_s=0.2)), settings),
    ):
        assert reg.infra is not None
        scientist = await reg.infra.auth.issue("dana", "data-scientist")
        admin = await reg.infra.auth.issue("root", "admin")
        yield Platform(reg, dep, kafka_bootstrap, settings, scientist, admin)


def _body(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "inputs": [
            {
                "name": name,
                "datatype": "BYTES" if kind == "string" else "FP32",
                "shape": [len(rows), 1],
                "data": [r[name] for r in rows],
            }
            for name, kind in FIELDS.items()
        ]
    }


def _register(name: str, rules: Path, *extra: str) -> int:
    return main(["models", "register-rules", name, str(rules), *extra])


async def test_a_scorecard_with_a_reference_table_has_drift_named_for_the_shifted_input(
    platform: Platform,
    unique: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = f"scorecard-{SUFFIX}-{unique}"
    (tmp_path / "rules.yaml").write_text(WATCHED)
    (tmp_path / "rows.csv").write_bytes(rows_csv(scorecard_rows(2_000, seed=3)))
    monkeypatch.setenv("MODELBUS_REGISTRY_URL", f"http://127.0.0.1:{platform.registry.port}")
    monkeypatch.setenv("MODELBUS_TOKEN", platform.scientist)
    argv = ("--reference", str(tmp_path / "rows.csv"))
    assert await asyncio.to_thread(_register, name, tmp_path / "rules.yaml", *argv) == 0
    out = capsys.readouterr().out
    assert "drift monitoring: input and prediction drift against a reference table of 2000" in out

    registered = await platform.registered(name)
    assert registered.reference_profile is not None
    store = await open_store(platform.settings.artifact_store_url())
    profile = parse_reference_profile(await store.get(registered.reference_profile))
    assert profile.feature_names == list(FIELDS) and profile.rows == 2_000
    assert {f.name: f.kind for f in profile.features}["country"] == "categorical"
    assert profile.prediction is not None and profile.prediction.kind == "categorical"

    async def serving() -> bool:
        return (await platform.version(name)).get("status") == "serving"

    await eventually(serving, timeout=120, what=f"{name} serving")
    # The traffic: like the table but every application from one watched country.
    traffic = scorecard_rows(WINDOW + 50, seed=4)
    for row in traffic:
        row["country"] = "PL"
    headers = {"Authorization": f"Bearer {platform.admin}"}
    base = f"http://127.0.0.1:{platform.deployer.port}"
    # One application per request: a window holds window_size predictions (requests).
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        for row in traffic:
            answer = await client.post(f"/v2/models/{name}/infer", json=_body([row]))
            assert answer.status_code == 200, answer.text

    [alert] = await collect(platform.bootstrap, "drift.detected", until=lambda found: len(found) >= 1,
                            where=lambda e: e.data.model_name == name, timeout=120)  # fmt: skip
    # A feature drifts when its test and a distance agree: only the shifted input did.
    assert alert.data.top_features == ["country"]
    assert {f.method for f in alert.data.features if f.feature == "country" and f.drifted} >= {
        "chi2",
        "psi",
    }


async def test_a_scorecard_without_a_reference_table_says_it_is_not_drift_monitored(
    platform: Platform,
    unique: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = f"scorecard-plain-{SUFFIX}-{unique}"
    (tmp_path / "rules.yaml").write_text(WATCHED)
    monkeypatch.setenv("MODELBUS_REGISTRY_URL", f"http://127.0.0.1:{platform.registry.port}")
    monkeypatch.setenv("MODELBUS_TOKEN", platform.scientist)
    assert await asyncio.to_thread(_register, name, tmp_path / "rules.yaml") == 0
    assert f"drift monitoring: {NOT_MONITORED}" in capsys.readouterr().out
    assert (await platform.registered(name)).reference_profile is None
    assert (await platform.version(name))["params"]["monitoring"] == NOT_MONITORED

    few = rows_csv(scorecard_rows(10, seed=5))
    wrong = b"income,amount\n1,2\n"
    async with http(platform.registry, platform.scientist, timeout=120) as client:
        answers = [
            await client.post(f"/v1/models/{name}/rules",
                              files={"rules": ("r.yaml", WATCHED.encode()), "reference": ("t.csv", table)})
            for table in (few, wrong)
        ]  # fmt: skip
    assert [a.status_code for a in answers] == [400, 400]
    assert "at least 50 rows" in answers[0].json()["error"]
    assert "every input field" in answers[1].json()["error"]
