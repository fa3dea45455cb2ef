"""The desired-state transitions on the real database: idempotent, and announced exactly once
however many replicas apply them, in whatever order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from importlib import resources

import asyncpg
import pytest

from services.deployer.store.approvals import activate, fail, record_approval
from services.deployer.store.desired_state import load_desired_state
from services.deployer.store.transitions import promote, rollback, stop_serving
from shared.bus.unit_of_work import Transactions
from shared.events.common import ArtifactRef, DeploymentStrategy
from shared.events.governance import Decision, ModelApproved
from shared.runtime import ServiceDefinition, ServiceParts, connect_and_migrate
from shared.settings import Settings

pytestmark = pytest.mark.integration

REF = ArtifactRef(uri="file:///nowhere", sha256="0" * 64, size=1)
NOW = datetime.now(UTC)


@pytest.fixture
async def pool(settings: Settings, unique: str) -> AsyncIterator[asyncpg.Pool]:
    async def build(_: object) -> ServiceParts:
        return ServiceParts()

    schema = f"deployer_state_{unique}"
    migrations = resources.files("services.deployer") / "migrations"
    pool = await connect_and_migrate(ServiceDefinition(schema, migrations, build), settings)
    yield pool
    await pool.execute(f'DROP SCHEMA "{schema}" CASCADE')
    await pool.close()


def approval(version: int, kind: str = "replace") -> ModelApproved:
    decision = Decision(
        policy="p",
        policy_version="1",
        policy_digest="0" * 64,
        checks=[],
        strategy=DeploymentStrategy(kind=kind),
    )  # type: ignore[arg-type]
    return ModelApproved(model_name="m", version=version, artifact=REF, decision=decision)


async def record(
    pool: asyncpg.Pool, version: int, event_id: str, when: datetime, kind: str = "replace"
) -> bool:
    async with Transactions(pool, "deployer").begin() as uow:
        return await record_approval(
            uow, approval(version, kind), event_id=event_id, event_time=when
        )


async def pending(pool: asyncpg.Pool, version: int):  # type: ignore[no-untyped-def]
    return (await load_desired_state(pool)).versions[("m", version)]


async def events(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT topic FROM outbox ORDER BY id")
    return [r["topic"] for r in rows]


async def test_two_replicas_record_activate_and_announce_once(pool: asyncpg.Pool) -> None:
    assert await record(pool, 1, "e1", NOW)
    assert not await record(pool, 1, "e1", NOW)  # the other replica, same event
    first = await pending(pool, 1)

    async def activate_as(replica: str) -> str:
        async with Transactions(pool, "deployer").begin() as uow:
            return await activate(uow, first, replica=replica)

    outcomes = await asyncio.gather(activate_as("a"), activate_as("b"))
    assert sorted(outcomes) == ["activated", "not_pending"]
    assert await events(pool) == ["model.deployed"]
    route = (await load_desired_state(pool)).routes["m"]
    assert route.stable_version == 1


async def test_an_approval_that_lost_the_race_to_a_later_one_is_superseded(
    pool: asyncpg.Pool,
) -> None:
    await record(pool, 1, "e1", NOW)
    await record(pool, 2, "e2", NOW + timedelta(seconds=1))
    one, two = await pending(pool, 1), await pending(pool, 2)
    async with Transactions(pool, "deployer").begin() as uow:
        assert await activate(uow, two, replica="a") == "activated"
    async with Transactions(pool, "deployer").begin() as uow:
        assert await activate(uow, one, replica="a") == "superseded"  # loaded too late
    assert (await load_desired_state(pool)).routes["m"].stable_version == 2


async def test_a_failure_is_announced_once_and_names_what_still_serves(pool: asyncpg.Pool) -> None:
    await record(pool, 1, "e1", NOW)
    async with Transactions(pool, "deployer").begin() as uow:
        await activate(uow, await pending(pool, 1), replica="a")
    await record(pool, 2, "e2", NOW)
    broken = await pending(pool, 2)
    for _ in range(2):
        async with Transactions(pool, "deployer").begin() as uow:
            await fail(uow, broken, stage="verify", reason="sha256 mismatch")
    assert await events(pool) == ["model.deployed", "deployment.failed"]
    payload = await pool.fetchval("SELECT value FROM outbox WHERE topic = 'deployment.failed'")
    assert b'"still_serving":1' in payload


async def test_a_replayed_suspension_older_than_a_reapproval_is_ignored(pool: asyncpg.Pool) -> None:
    await record(pool, 1, "e1", NOW)
    async with Transactions(pool, "deployer").begin() as uow:
        await activate(uow, await pending(pool, 1), replica="a")
    async with Transactions(pool, "deployer").begin() as uow:
        assert await stop_serving(
            uow, "m", 1, status="suspended", reason="bias", event_time=NOW + timedelta(minutes=1)
        )
    assert await record(pool, 1, "e3", NOW + timedelta(hours=1))  # approved again, later
    async with Transactions(pool, "deployer").begin() as uow:  # a new replica replays the old one
        assert not await stop_serving(
            uow, "m", 1, status="suspended", reason="bias", event_time=NOW + timedelta(minutes=1)
        )
    assert (await pending(pool, 1)).status == "pending"


async def test_promotion_and_rollback_by_several_callers_happen_once(pool: asyncpg.Pool) -> None:
    await record(pool, 1, "e1", NOW)
    async with Transactions(pool, "deployer").begin() as uow:
        await activate(uow, await pending(pool, 1), replica="a")
    await record(pool, 2, "e2", NOW, kind="canary")
    async with Transactions(pool, "deployer").begin() as uow:
        await activate(uow, await pending(pool, 2), replica="a")

    async def promote_as(actor: str) -> bool:
        async with Transactions(pool, "deployer").begin() as uow:
            return (await promote(uow, "m", version=2, reason="n requests", actor=actor)).changed

    assert sorted(await asyncio.gather(promote_as("a"), promote_as("b"))) == [False, True]
    async with Transactions(pool, "deployer").begin() as uow:  # evidence about a promoted candidate
        late = await rollback(
            uow, "m", version=2, reason="drift", actor="deployer", candidate_only=True
        )
    assert not late.changed
    route = (await load_desired_state(pool)).routes["m"]
    assert (route.stable_version, route.candidate_version, route.previous_version) == (2, None, 1)
    assert await events(pool) == ["model.deployed", "model.deployed", "model.promoted"]
