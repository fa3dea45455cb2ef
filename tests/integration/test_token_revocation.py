"""Tokens across services: a revocation reaches every service within the cache bound, and a
client guessing tokens is slowed to 429 before its guesses cost database round trips."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from services.monitor.bootstrap import definition as monitor
from services.trainer.bootstrap import definition as trainer
from shared.runtime import ServiceProcess
from shared.settings import Settings
from tests.support.polling import eventually
from tests.support.services import http, running

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

CACHE_S = 1.0


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def two_services(
    database_url: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[ServiceProcess, ServiceProcess]]:
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        home=Path(tmp_path_factory.mktemp("tokens")),
        http_port=0,
        auth_cache_s=CACHE_S,
        auth_max_failures=5,
        auth_failure_window_s=60,
    )
    async with running(trainer(), settings) as one, running(monitor(), settings) as other:
        yield one, other


async def test_a_revoked_token_is_refused_everywhere_within_the_cache_bound(
    two_services: tuple[ServiceProcess, ServiceProcess],
) -> None:
    one, other = two_services
    assert one.infra is not None
    token = await one.infra.auth.issue("temp", "viewer")
    token_id = token.split("_")[1]
    paths = {one: "/v1/jobs", other: "/v1/alerts"}
    for service, path in paths.items():
        async with http(service, token) as client:
            assert (await client.get(path)).status_code == 200, path

    await one.infra.auth.revoke(token_id)

    async with http(one, token) as client:
        assert (await client.get(paths[one])).status_code == 401  # this service: at once

    async def refused_by_the_other() -> bool:
        async with http(other, token) as client:
            return (await client.get(paths[other])).status_code == 401

    # Within CACHE_S of the revocation; the deadline leaves room for a loaded machine.
    await eventually(
        refused_by_the_other, timeout=CACHE_S + 10, what="the other service refusing it"
    )


async def test_guessing_tokens_is_answered_429_with_retry_after(
    two_services: tuple[ServiceProcess, ServiceProcess],
) -> None:
    one, _ = two_services
    assert one.infra is not None
    statuses = []
    for i in range(8):
        guess = f"mb_{i:012x}_{'A' * 43}"
        async with http(one, guess) as client:
            response = await client.get("/v1/jobs")
            statuses.append(response.status_code)
    # At most 5 failures per window from one address (the revocation test's count too).
    refused = statuses.count(401)
    assert 1 <= refused <= 5 and statuses == [401] * refused + [429] * (8 - refused), statuses
    assert int(response.headers["retry-after"]) >= 1
