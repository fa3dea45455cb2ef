"""What the services answer the console, on real Postgres: who a token names, the audit
log's head and last checkpoint, closed windows over time, and a review's checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from shared.http.auth import ROLES
from tests.support.built_services import Built

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


@asynccontextmanager
async def client(built: Built, role: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=built.app)
    headers = {"Authorization": f"Bearer {built.tokens[role]}"}  # type: ignore[index]
    async with httpx.AsyncClient(
        transport=transport, base_url="http://probe", headers=headers
    ) as http:
        yield http


async def test_whoami_names_the_token_and_its_role(built: dict[str, Built]) -> None:
    for role in ROLES:
        async with client(built["governance"], role) as governance:
            answer = await governance.get("/v1/whoami")
        assert answer.status_code == 200
        me = answer.json()
        assert (me["name"], me["role"]) == (f"probe-{role}", role)
        assert me["id"].startswith("token:")  # the principal id four-eyes compares
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=built["governance"].app), base_url="http://probe"
    ) as anonymous:
        assert (await anonymous.get("/v1/whoami")).status_code == 401


async def test_the_audit_head_and_checkpoint_of_an_empty_log(built: dict[str, Built]) -> None:
    async with client(built["governance"], "viewer") as governance:
        answer = await governance.get("/v1/audit/checkpoints/latest")
    assert answer.status_code == 200
    assert answer.json() == {"head_seq": 0, "seq": None, "chain_hash": None, "created_at": None}


async def test_the_audit_head_after_a_checkpoint_is_signed(built: dict[str, Built]) -> None:
    async with client(built["governance"], "admin") as governance:
        made = (await governance.post("/v1/audit/checkpoints")).json()
        head = (await governance.get("/v1/audit/checkpoints/latest")).json()
    assert head["head_seq"] >= made["seq"]
    if made["seq"]:
        assert head["seq"] == made["seq"] and head["chain_hash"] == made["chain_hash"]


async def test_window_history_answers_by_kind_and_refuses_an_unknown_kind(
    built: dict[str, Built],
) -> None:
    async with client(built["monitor"], "viewer") as monitor:
        data = await monitor.get("/v1/models/nobody/windows/history", params={"kind": "data"})
        performance = await monitor.get("/v1/models/nobody/windows/history?kind=performance")
        unknown = await monitor.get("/v1/models/nobody/windows/history", params={"kind": "x"})
        too_many = await monitor.get("/v1/models/nobody/windows/history?limit=501")
    assert data.status_code == 200 and data.json()["windows"] == []
    assert performance.status_code == 200 and performance.json()["kind"] == "performance"
    assert unknown.status_code == 400 and too_many.status_code == 400


async def test_the_trail_filters_by_type_and_correlation_chain(built: dict[str, Built]) -> None:
    async with client(built["governance"], "viewer") as governance:
        by_type = await governance.get("/v1/audit", params={"action": "model.promoted"})
        by_chain = await governance.get("/v1/audit", params={"correlation_id": "c-1"})
        too_long = await governance.get("/v1/audit", params={"action": "x" * 101})
    assert by_type.status_code == 200 and by_type.json() == []
    assert by_chain.status_code == 200 and by_chain.json() == []
    assert too_long.status_code == 400
