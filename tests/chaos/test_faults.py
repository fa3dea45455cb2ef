"""One closed loop on Apache Kafka through every fault a laptop or a cluster sees.

During the demo's lifecycle (train, approve, serve, drift, retrain, canary, promote) each
service is SIGKILLed once, each at a different phase, and ``modelbus up``'s supervisor
restarts it; Apache Kafka is restarted once on its durable logs; Postgres is stopped for
5 s. Then: the loop closed, no lifecycle step happened twice (on the bus and in the
services' tables), the audit chain verifies, and the requests that failed all failed
while the deployer itself was down. The figures are printed (``-s`` shows them).

The phases are found by watching the services' tables, never by sleeping; a phase that
passed too quickly to be caught (a training job that finished between two looks) is
reported as such, and the kill still happens.
"""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from modelbus.demo.platform import Platform
from modelbus.demo.scenario import DemoResult, run
from modelbus.embedded import EmbeddedPostgres, pick_free_port
from modelbus.stack import CONSOLE, PROCESSES, SERVICES, RunningStack, StackSettings, running_stack
from tests.support.infra import Broker
from tests.support.lifecycle import duplicated_effects, duplicated_rows, model_events, redeliveries

# One algorithm, one setting: the tier tests faults and scale, not the search, and a
# loaded 2-core machine takes minutes over the default one.
ONE_CANDIDATE = [{"algorithm": "random_forest", "search_space": {"max_depth": [8]}}]

pytestmark = [pytest.mark.chaos, pytest.mark.apache_kafka]

PHASE_TIMEOUT_S = 300.0


@dataclass
class Kill:
    service: str
    phase: str
    caught: bool  # the phase was still under way when the signal was sent
    at: float
    ready_after_s: float | None = None


@dataclass
class Chaos:
    stack: RunningStack
    broker: Broker
    postgres: EmbeddedPostgres
    database_url: str
    kills: list[Kill] = field(default_factory=list)
    kafka_restart_s: float | None = None
    postgres_outage_s: float | None = None
    model_name: str | None = None
    started: float = field(default_factory=time.monotonic)

    async def query(self, sql: str, *args: Any) -> Any:
        """One value, or None while the database cannot be reached."""
        try:
            conn = await asyncpg.connect(self.database_url, timeout=5)
        except (OSError, asyncpg.PostgresError):
            return None
        try:
            return await conn.fetchval(sql, *args)
        except (OSError, asyncpg.PostgresError):
            return None
        finally:
            await conn.close()

    async def until(self, probe: Callable[[], Awaitable[Any]], what: str) -> Any:
        deadline = time.monotonic() + PHASE_TIMEOUT_S
        while not (value := await probe()):
            assert time.monotonic() < deadline, f"phase not reached: {what}"
            await asyncio.sleep(0.05)
        return value

    async def kill(self, service: str, phase: str, still: Callable[[], Awaitable[Any]]) -> None:
        caught = bool(await still())
        svc = self.stack.services[service]
        os.kill(svc.popen.pid, signal.SIGKILL)
        kill = Kill(service, phase, caught, time.monotonic())
        self.kills.append(kill)
        print(
            f"chaos: +{kill.at - self.started:.0f}s SIGKILL {service} ({phase}{'' if caught else ', phase already over'})"
        )
        supervisor = self.stack.supervisor
        assert supervisor is not None
        restarts = supervisor.states[service].restarts
        await self.until(
            lambda: _true(
                supervisor.states[service].restarts > restarts
                and service not in supervisor.recovering()
            ),
            f"{service} restarted and ready",
        )
        kill.ready_after_s = time.monotonic() - kill.at
        print(f"chaos: {service} ready again after {kill.ready_after_s:.1f}s")

    async def run(self) -> None:
        q = self.query
        since = await q("SELECT now()")
        name = await self.until(
            lambda: q(
                "SELECT model_name FROM trainer.jobs WHERE created_at > $1"
                " ORDER BY created_at LIMIT 1",
                since,
            ),
            "the demo's training job",
        )
        self.model_name = name

        # registry: the trainer's result is out and the registry is registering it.
        await self.until(
            lambda: q(
                "SELECT 1 FROM trainer.jobs WHERE model_name = $1 AND status = 'succeeded'", name
            ),
            "the first training job succeeded",
        )
        await self.kill(
            "registry",
            "mid-registration",
            lambda: q(
                "SELECT NOT EXISTS (SELECT 1 FROM registry.versions WHERE model_name = $1)", name
            ),
        )

        # governance: it has decided on v1; the decision's events may still be unsent.
        await self.until(
            lambda: q(
                "SELECT 1 FROM governance.versions WHERE model_name = $1 AND decided_at IS NOT NULL",
                name,
            ),
            "governance decided on v1",
        )
        await self.kill(
            "governance",
            "between decision and publish",
            lambda: q("SELECT EXISTS (SELECT 1 FROM governance.outbox WHERE sent_at IS NULL)"),
        )

        # deployer: under the demo's live traffic.
        await self.until(
            lambda: q(
                "SELECT count(*) >= 100 FROM monitor.predictions WHERE model_name = $1", name
            ),
            "100 predictions served",
        )
        await self.kill("deployer", "under traffic", lambda: _true(True))

        # monitor: a data window is open with predictions counted in it.
        open_window = (
            "SELECT EXISTS (SELECT 1 FROM monitor.windows WHERE model_name = $1"
            " AND kind = 'data' AND closed_at IS NULL AND count > 0)"
        )
        await self.until(lambda: q(open_window, name), "an open data window with predictions")
        await self.kill("monitor", "mid-window", lambda: q(open_window, name))

        # trainer: the retraining job the drift alert started, while it trains.
        second_job = (
            "SELECT status FROM trainer.jobs WHERE model_name = $1"
            " ORDER BY created_at OFFSET 1 LIMIT 1"
        )
        await self.until(
            lambda: q(f"SELECT ({second_job}) IN ('running', 'succeeded', 'failed')", name),
            "the retraining job started",
        )
        await self.kill(
            "trainer", "mid-training", lambda: q(f"SELECT ({second_job}) = 'running'", name)
        )

        # Apache Kafka: stopped and started again on its logs, while traffic flows and v2 goes
        # through registration and review.
        started = time.monotonic()
        print(f"chaos: +{started - self.started:.0f}s restarting Apache Kafka")
        await asyncio.to_thread(self.broker.stop)
        await asyncio.to_thread(self.broker.start_again)
        self.kafka_restart_s = time.monotonic() - started
        print(f"chaos: Apache Kafka back after {self.kafka_restart_s:.1f}s")

        # Postgres: 5 s away while the new version is being canaried.
        await self.until(
            lambda: q(
                "SELECT 1 FROM deployer.versions WHERE model_name = $1 AND version >= 2", name
            ),
            "v2 approved at the deployer",
        )
        started = time.monotonic()
        print(f"chaos: +{started - self.started:.0f}s stopping Postgres for 5 s")
        await asyncio.to_thread(self.postgres.stop)
        await asyncio.sleep(5.0)  # the outage itself is the fault being injected
        await asyncio.to_thread(self.postgres.start)
        self.postgres_outage_s = time.monotonic() - started
        print(f"chaos: Postgres back after {self.postgres_outage_s:.1f}s")


async def _true(value: Any) -> Any:
    return value


def failures_outside_deployer_downtime(
    result: DemoResult, chaos: Chaos
) -> tuple[int, Counter[str]]:
    """(how many failed while the deployer was down, why the others failed).

    The deployer is down from its kill until the supervisor saw it ready again. Not until
    the first answer after the kill: a response the killed process had already sent can
    reach the client just after the signal, which would close the window at once.
    """
    traffic = result.traffic
    assert traffic is not None
    kill = next(k for k in chaos.kills if k.service == "deployer")
    assert kill.ready_after_s is not None
    back = kill.at + kill.ready_after_s
    during = sum(kill.at <= t <= back for t in traffic.failed_at)
    outside = Counter(
        f"{why} at +{t - chaos.started:.0f}s"
        for t, why in zip(traffic.failed_at, traffic.failed_why, strict=True)
        if not kill.at <= t <= back
    )
    return during, outside


@pytest.mark.timeout(900)
async def test_the_loop_closes_through_kills_a_broker_restart_and_a_database_outage(
    postgres: tuple[str, EmbeddedPostgres | None],
    broker: Broker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    database_url, server = postgres
    if not broker.is_apache:
        pytest.skip(
            "restarting the broker on its logs needs Apache Kafka (Tansu keeps memory only)"
        )
    if server is None:
        pytest.skip("stopping the database needs the session's embedded Postgres")
    # A killed trainer's job is claimed again once its lease runs out: keep that short.
    monkeypatch.setenv("MODELBUS_TRAINER_LEASE_S", "8")
    monkeypatch.setenv("MODELBUS_TRAINER_HEARTBEAT_S", "2")
    settings = StackSettings(
        home=Path(tempfile.mkdtemp(prefix="modelbus-chaos-")),
        database_url=database_url,
        kafka_bootstrap=broker.bootstrap,
        # A fresh broker creates its offsets topic on the first group join: slow when loaded.
        ready_timeout_s=300,
        **{f"{name}_port": pick_free_port() for name in PROCESSES},
    )
    async with running_stack(settings) as stack:
        chaos = Chaos(stack, broker, server, database_url)
        faults = asyncio.create_task(chaos.run())
        demo = asyncio.create_task(
            run(
                Platform.of(stack),
                shift=True,
                echo=print,
                candidates=ONE_CANDIDATE,
                step_timeout_s=300,
            )
        )
        # A fault that could not be injected (a broker that did not come back) fails at once.
        await asyncio.wait({faults, demo}, return_when=asyncio.FIRST_EXCEPTION)
        if faults.done() and faults.exception() is not None:
            demo.cancel()
            await asyncio.gather(demo, return_exceptions=True)
            faults.result()
        result = await demo
        await asyncio.wait_for(faults, 60)  # every fault was injected before the loop closed
        assert stack.supervisor is not None
        restarts = {n: s.restarts for n, s in stack.supervisor.states.items()}

    assert chaos.model_name == result.model_name
    events = await model_events(broker.bootstrap, result.model_name)
    effects = duplicated_effects(events)
    rows = await duplicated_rows(database_url, result.model_name)
    during, outside = failures_outside_deployer_downtime(result, chaos)
    print(
        "\nchaos figures:"
        f"\n  kills        {', '.join(f'{k.service} {k.phase} (caught: {k.caught}, ready after {k.ready_after_s:.1f}s)' for k in chaos.kills)}"
        f"\n  restarts     {restarts}"
        f"\n  kafka        restarted in {chaos.kafka_restart_s:.1f}s"
        f"\n  postgres     away {chaos.postgres_outage_s:.1f}s"
        f"\n  requests     {len(result.traffic.served_at) if result.traffic else 0} served, "
        f"{during} failed while the deployer was down, {outside.total()} failed otherwise"
        f"\n  duplicates   {len(effects)} lifecycle steps, {sum(rows.values())} rows "
        f"({redeliveries(events)} harmless redeliveries of one event id)"
        f"\n  audit        {result.audit}"
        f"\n  loop         versions {result.versions}, closed: {result.closed_loop}"
    )  # fmt: skip
    assert result.closed_loop and result.versions[0] == 1 and result.versions[-1] >= 2
    assert [k.service for k in chaos.kills] == [
        "registry", "governance", "deployer", "monitor", "trainer"
    ]  # fmt: skip
    assert restarts == {**{name: 1 for name in SERVICES}, CONSOLE: 0}
    assert effects == {}, effects
    assert rows == {}, rows
    assert result.audit_ok, result.audit
    assert not outside, f"requests failed while the deployer was up: {dict(outside)}"
