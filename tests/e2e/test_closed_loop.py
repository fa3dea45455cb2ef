"""The whole lifecycle with every service as a process, on the session's Apache Kafka.

With shifted traffic: drift is detected, the model is retrained on the labelled traffic,
approved, canaried and promoted. With unshifted traffic: no drift alert at all.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from modelbus.demo.platform import Platform
from modelbus.demo.scenario import run
from modelbus.embedded import pick_free_port
from modelbus.stack import PROCESSES, StackSettings, running_stack

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
