"""Per-principal job limits and the bus door's caps, against the trainer's tables in a
schema of the test's own (no worker runs: what is queued stays queued)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from importlib import resources

import pytest

from services.trainer import submission
from services.trainer.handlers import on_training_requested
from services.trainer.store import job_queries, jobs
from services.trainer.training.bounds import Caps
from shared.bus.unit_of_work import Transactions
from shared.errors import Refused, TooManyRequests
from shared.events.envelope import new_event
from shared.events.training import TrainingFailed
from shared.runtime import ServiceDefinition, ServiceParts, connect_and_migrate
from shared.settings import Settings
from tests.integration.trainer.helpers import QUICK, request

pytestmark = pytest.mark.integration


@pytest.fixture
async def transactions(database_url: str, unique: str) -> AsyncIterator[Transactions]:
    async def build(_: object) -> ServiceParts:
        return ServiceParts()

    schema = f"trainer_limits_{unique}"
    migrations = resources.files("services.trainer") / "migrations"
    definition = ServiceDefinition(schema, migrations, build)
    pool = await connect_and_migrate(definition, Settings(database_url=database_url))
    yield Transactions(pool, "trainer")
    await pool.execute(f'DROP SCHEMA "{schema}" CASCADE')
    await pool.close()


async def test_over_http_a_principal_at_its_limit_is_told_to_wait(
    transactions: Transactions,
) -> None:
    first, second = (request(f"m{i}", "iris", candidates=QUICK) for i in range(2))
    job, created = await submission.submit(transactions, first, "pat", max_jobs=1)
    assert created and job["principal"] == "pat"
    with pytest.raises(TooManyRequests) as refused:
        await submission.submit(transactions, second, "pat", max_jobs=1)
    assert refused.value.status_code == 429 and refused.value.retry_after_s > 0
    assert "pat has 1 training jobs queued or running" in refused.value.message
    assert "MODELBUS_TRAINER_MAX_JOBS_PER_PRINCIPAL" in refused.value.message
    # A repeat of the accepted request is still answered; someone else is not held up.
    again, created = await submission.submit(transactions, first, "pat", max_jobs=1)
    assert (again["job_id"], created) == (job["job_id"], False)
    _, created = await submission.submit(transactions, second, "quinn", max_jobs=1)
    assert created


async def test_on_the_bus_a_principal_beyond_its_limit_waits_queued(
    transactions: Transactions,
) -> None:
    pool, caps = transactions.pool, Caps()
    asked = [
        request(f"b{i}", "iris", candidates=QUICK, metadata={"owner": owner})
        for i, owner in enumerate(["pat", "pat", "pat", "quinn"])
    ]
    for ask in asked:  # consumed in this order
        event = new_event(ask, source="pipeline")
        async with transactions.begin(cause=event) as uow:
            await on_training_requested(event, uow, caps=caps)
    async with pool.acquire() as conn:
        claims = [await jobs.claim(conn, 30.0, per_principal=2) for _ in range(4)]
    claimed = [c.request.model_name if c else None for c in claims]
    assert claimed == ["b0", "b1", "b3", None]  # pat's third waits behind its two running
    async with pool.acquire() as conn:
        assert claims[0] is not None
        await jobs.finish(conn, claims[0], succeeded=True, outcome={})
        after = await jobs.claim(conn, 30.0, per_principal=2)
        assert after is not None and after.request.model_name == "b2"
        queued = await job_queries.find(conn, model=None, status="queued", limit=10)
    assert queued == []


async def test_a_bus_request_beyond_the_caps_is_refused_naming_the_cap(
    transactions: Transactions,
) -> None:
    ask = request("huge", "iris", candidates=QUICK, max_trials_per_candidate=10**6)
    event = new_event(ask, source="pipeline")
    with pytest.raises(Refused) as refused:
        async with transactions.begin(cause=event) as uow:
            await on_training_requested(event, uow, caps=Caps())
    [notice] = refused.value.notices
    assert isinstance(notice, TrainingFailed) and notice.request_id == ask.request_id
    assert "max_trials_per_candidate is 1000000" in notice.reason
    assert "MODELBUS_TRAINER_MAX_TRIALS_PER_CANDIDATE" in notice.reason
    assert notice.error_class == "CapExceeded" and notice.reason in refused.value.message
    async with transactions.pool.acquire() as conn:
        assert await job_queries.of_request(conn, ask.request_id) is None  # nothing kept


async def test_a_request_known_from_http_is_not_checked_again_on_the_bus(
    transactions: Transactions,
) -> None:
    """The trainer's own announcement, consumed after the caps were lowered: still one job."""
    ask = request("known", "iris", candidates=QUICK)
    job, _ = await submission.submit(transactions, ask, "pat", max_jobs=1)
    event = new_event(ask, source="trainer")
    async with transactions.begin(cause=event) as uow:
        await on_training_requested(event, uow, caps=Caps(max_trials_per_candidate=1))
    async with transactions.pool.acquire() as conn:
        known = await job_queries.of_request(conn, ask.request_id)
    assert known is not None and known["job_id"] == job["job_id"]


async def test_bus_jobs_count_against_the_owner_else_the_source(
    transactions: Transactions,
) -> None:
    owned = new_event(request("o", "iris", metadata={"owner": "pat"}), source="pipeline")
    anonymous = new_event(request("a", "iris", metadata={}), source="pipeline")
    assert jobs.bus_principal(owned) == "pat"
    assert jobs.bus_principal(anonymous) == "/modelbus/pipeline"
    async with transactions.begin() as uow:
        await jobs.record(uow.conn, anonymous, jobs.bus_principal(anonymous))
        assert await jobs.unfinished_of(uow.conn, "/modelbus/pipeline") == 1
