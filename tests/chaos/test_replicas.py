"""Two replicas of every service on one Apache Kafka and one Postgres (``modelbus up
--replicas 2``): the loop closes, each lifecycle step happens once, both deployers serve
the promoted version and agree on every other, and the monitor's partitions are spread
over both of its replicas."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from sklearn.datasets import load_breast_cancer

from modelbus.demo.platform import Platform
from modelbus.demo.scenario import run
from modelbus.embedded import pick_free_port, port_is_free
from modelbus.stack import SERVICES, StackSettings, running_stack
from shared.http.auth import issue_token
from tests.support.bus import kafka_options
from tests.support.infra import Broker
from tests.support.lifecycle import duplicated_effects, duplicated_rows, model_events

# One algorithm, one setting: the tier tests faults and scale, not the search, and a
# loaded 2-core machine takes minutes over the default one.
ONE_CANDIDATE = [{"algorithm": "random_forest", "search_space": {"max_depth": [8]}}]

pytestmark = [pytest.mark.chaos]

STEP = 100  # replica 2 listens on its service's port + 100


def free_ports_for_two_replicas() -> dict[str, int]:
    ports: dict[str, int] = {}
    for name in SERVICES:
        while True:
            port = pick_free_port()
            if port + STEP < 65536 and port_is_free("127.0.0.1", port + STEP):
                ports[f"{name}_port"] = port
                break
    return ports


async def monitor_assignments(bootstrap: str) -> dict[str, set[tuple[str, int]]]:
    """The monitor group's members and the partitions each holds, from the coordinator."""
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups(["monitor"])
    finally:
        await admin.close()
    held: dict[str, set[tuple[str, int]]] = {}
    for group in response.groups:
        members = next(f for f in group[5:] if isinstance(f, list))
        for member in members:
            assignment = ConsumerProtocolMemberAssignment.decode(member[-1])
            held[member[0]] = {(t, p) for t, parts in assignment.assignment for p in parts}
    return held


def infer_body() -> dict[str, Any]:
    row = load_breast_cancer().data[:1].astype(np.float32)
    return {
        "inputs": [
            {"name": "input", "shape": [1, 30], "datatype": "FP32", "data": row[0].tolist()}
        ],
        "outputs": [{"name": "label"}],
    }


@pytest.mark.timeout(900)
async def test_two_replicas_of_every_service_close_the_loop_once(
    database_url: str, broker: Broker
) -> None:
    settings = StackSettings(
        home=Path(tempfile.mkdtemp(prefix="modelbus-replicas-")),
        database_url=database_url,
        kafka_bootstrap=broker.bootstrap,
        # A fresh broker creates its offsets topic on the first group join: slow when loaded.
        ready_timeout_s=300,
        replicas=2,
        replica_port_step=STEP,
        console_port=pick_free_port(),  # one console, however many replicas
        **free_ports_for_two_replicas(),
    )
    async with running_stack(settings) as stack:
        replicated = [svc for svc in stack.services.values() if svc.service in SERVICES]
        assert len(replicated) == 2 * len(SERVICES)
        result = await run(
            Platform.of(stack), shift=True, echo=print, candidates=ONE_CANDIDATE, step_timeout_s=300
        )
        assignments = await monitor_assignments(broker.bootstrap)
        token = await issue_token(database_url, "replica-check", "viewer", created_by="test")

        async def answers() -> dict[str, dict[int, int]]:
            served: dict[str, dict[int, int]] = {}
            for deployer in ("deployer", "deployer-2"):
                async with httpx.AsyncClient(
                    base_url=stack.services[deployer].url,
                    headers={"Authorization": f"Bearer {token}"},
                    trust_env=False,
                    timeout=30,
                ) as client:
                    served[deployer] = {}
                    for version in result.versions:
                        response = await client.post(
                            f"/v2/models/{result.model_name}/versions/{version}/infer",
                            json=infer_body(),
                        )
                        served[deployer][version] = response.status_code
            return served

        # Each replica applies the last promotion on its own reconcile pass: they agree
        # within one, not necessarily at the moment the demo saw it.
        served = await answers()
        deadline = time.monotonic() + 30
        while served["deployer"] != served["deployer-2"] and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            served = await answers()

    events = await model_events(broker.bootstrap, result.model_name)
    effects = duplicated_effects(events)
    rows = await duplicated_rows(database_url, result.model_name)
    print(
        f"\nreplicas: versions {result.versions}, closed {result.closed_loop}, "
        f"failed requests {result.failed_requests}; served {served}; monitor partitions "
        f"{ {m[-8:]: len(p) for m, p in assignments.items()} }; duplicates {effects} {rows}"
    )
    assert result.closed_loop and result.versions[-1] >= 2
    assert effects == {}, effects
    assert rows == {}, rows
    assert result.audit_ok, result.audit
    # The promoted version serves on both; the one it replaced is kept loaded for a
    # rollback but no longer answers when addressed, on either replica alike.
    assert served["deployer"] == served["deployer-2"], served
    assert served["deployer"][result.versions[-1]] == 200, served
    # Two members, each holding partitions, none held twice.
    assert len(assignments) == 2 and all(assignments.values()), assignments
    first, second = assignments.values()
    assert not first & second
