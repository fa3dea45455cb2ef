"""The desired-state transitions on the real database: idempotent, and announced exactly once
however many replicas apply them, in whatever order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from importlib import resources

import asyncpg
import pytest

from services.deployer.store.approvals import activate, fail, record_approval
from services.deployer.store.desired_state import load_desired_state
from services.deployer.store.registrations import record_registration, release_awaiting
from services.deployer.store.transitions import promote, rollback, stop_serving
from shared.bus.unit_of_work import Transactions
from shared.events.common import ArtifactRef, DeploymentStrategy
from shared.events.governance import Decision, ModelApproved
from shared.runtime import ServiceDefinition, ServiceParts, connect_and_migrate
from shared.settings import Settings

pytestmark = pytest.mark.integration

REF = ArtifactRef(uri="file:///nowhere", sha256="0" * 64, size=1)


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
    pool: asyncpg.Pool, version: int, event_id: str, govseq: int, kind: str = "replace"
) -> bool:
    """The registry's registration of ``version`` (REF), then governance's approval."""
    async with Transactions(pool, "deployer").begin() as uow:
        await record_registration(uow.conn, "m", version, REF)
        status = await record_approval(
            uow, approval(version, kind), event_id=event_id, govseq=govseq
        )
        return status is not None


async def pending(pool: asyncpg.Pool, version: int):  # type: ignore[no-untyped-def]
    return (await load_desired_state(pool)).versions[("m", version)]


async def events(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT topic FROM outbox ORDER BY id")
    return [r["topic"] for r in rows]


async def test_two_replicas_record_activate_and_announce_once(pool: asyncpg.Pool) -> None:
    assert await record(pool, 1, "e1", 1)
    assert not await record(pool, 1, "e1", 1)  # the other replica, same event
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
    await record(pool, 1, "e1", 1)
    await record(pool, 2, "e2", 2)
    one, two = await pending(pool, 1), await pending(pool, 2)
    async with Transactions(pool, "deployer").begin() as uow:
        assert await activate(uow, two, replica="a") == "activated"
    async with Transactions(pool, "deployer").begin() as uow:
        assert await activate(uow, one, replica="a") == "superseded"  # loaded too late
    assert (await load_desired_state(pool)).routes["m"].stable_version == 2


async def test_a_failure_is_announced_once_and_names_what_still_serves(pool: asyncpg.Pool) -> None:
    await record(pool, 1, "e1", 1)
    async with Transactions(pool, "deployer").begin() as uow:
        await activate(uow, await pending(pool, 1), replica="a")
    await record(pool, 2, "e2", 2)
    broken = await pending(pool, 2)
    for _ in range(2):
        async with Transactions(pool, "deployer").begin() as uow:
            await fail(uow, broken, stage="verify", reason="sha256 mismatch")
    assert await events(pool) == ["model.deployed", "deployment.failed"]
    payload = await pool.fetchval("SELECT value FROM outbox WHERE topic = 'deployment.failed'")
    assert b'"still_serving":1' in payload


async def test_a_replayed_suspension_older_than_a_reapproval_is_ignored(pool: asyncpg.Pool) -> None:
    await record(pool, 1, "e1", 1)
    async with Transactions(pool, "deployer").begin() as uow:
        await activate(uow, await pending(pool, 1), replica="a")
    async with Transactions(pool, "deployer").begin() as uow:
        assert await stop_serving(uow, "m", 1, status="suspended", reason="bias", govseq=5)
    assert await record(pool, 1, "e3", 10)  # approved again, later
    async with Transactions(pool, "deployer").begin() as uow:  # a new replica replays the old one
        assert not await stop_serving(uow, "m", 1, status="suspended", reason="bias", govseq=5)
    assert (await pending(pool, 1)).status == "pending"


async def test_a_suspension_decides_by_governance_sequence_whichever_arrives_first(
    pool: asyncpg.Pool,
) -> None:
    """The suspension (govseq 7) is consumed before the approval it follows (govseq 3) from
    its own topic: the approval never serves. A later re-approval (govseq 9) does."""
    async with Transactions(pool, "deployer").begin() as uow:
        assert not await stop_serving(uow, "m", 1, status="suspended", reason="bias", govseq=7)
    assert not await record(pool, 1, "e1", 3)
    assert ("m", 1) not in (await load_desired_state(pool)).versions
    assert await record(pool, 1, "e2", 9)
    assert (await pending(pool, 1)).status == "pending"


async def test_an_approval_waits_for_the_registration_and_loads_only_its_artifact(
    pool: asyncpg.Pool,
) -> None:
    forged = REF.model_copy(update={"uri": "file:///elsewhere", "sha256": "f" * 64})
    async with Transactions(pool, "deployer").begin() as uow:
        bad = approval(1).model_copy(update={"artifact": forged})
        assert await record_approval(uow, bad, event_id="e1", govseq=1) == "awaiting_registration"
        good = approval(2)
        assert await record_approval(uow, good, event_id="e2", govseq=2) == "awaiting_registration"
    assert not (await load_desired_state(pool)).pending()
    for version in (1, 2):
        async with Transactions(pool, "deployer").begin() as uow:
            registered = await record_registration(uow.conn, "m", version, REF)
            await release_awaiting(uow.conn, "m", version, registered)
    state = await load_desired_state(pool)
    assert [(v.version, v.artifact) for v in state.pending()] == [(2, REF)]
    refused = await pool.fetchrow("SELECT status, reason FROM versions WHERE version = 1")
    assert (
        refused["status"] == "failed" and "not the one the registry registered" in refused["reason"]
    )


async def test_an_approval_and_its_registration_applied_at_once_still_meet(
    pool: asyncpg.Pool,
) -> None:
    """Two topics, two concurrent transactions: neither may miss the other."""

    async def approve(version: int) -> None:
        async with Transactions(pool, "deployer").begin() as uow:
            await record_approval(uow, approval(version), event_id=f"e{version}", govseq=version)
            await asyncio.sleep(0.05)  # still uncommitted while the registration runs

    async def register(version: int) -> None:
        async with Transactions(pool, "deployer").begin() as uow:
            registered = await record_registration(uow.conn, "m", version, REF)
            await release_awaiting(uow.conn, "m", version, registered)

    for version in range(1, 6):
        await asyncio.gather(approve(version), register(version))
    state = await load_desired_state(pool)
    assert sorted(v.version for v in state.pending()) == [1, 2, 3, 4, 5]


async def test_a_digest_that_differs_from_the_registration_fails_at_once(
    pool: asyncpg.Pool,
) -> None:
    async with Transactions(pool, "deployer").begin() as uow:
        await record_registration(uow.conn, "m", 1, REF)
        bad = approval(1).model_copy(
            update={"artifact": REF.model_copy(update={"sha256": "e" * 64})}
        )
        assert await record_approval(uow, bad, event_id="e1", govseq=1) == "failed"
    assert await events(pool) == ["deployment.failed"]
    assert not (await load_desired_state(pool)).pending()


async def test_promotion_and_rollback_by_several_callers_happen_once(pool: asyncpg.Pool) -> None:
    await record(pool, 1, "e1", 1)
    async with Transactions(pool, "deployer").begin() as uow:
        await activate(uow, await pending(pool, 1), replica="a")
    await record(pool, 2, "e2", 2, kind="canary")
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
