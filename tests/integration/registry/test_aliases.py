"""Aliases move with full history; "where did champion point at time T" comes from it."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import orjson
import pytest

from tests.integration.registry.conftest import LOOP, Registry
from tests.support.onnx_models import logistic_regression_onnx

pytestmark = [pytest.mark.integration, LOOP]


async def register(client: httpx.AsyncClient, name: str, versions: int) -> None:
    for _ in range(versions):
        response = await client.post(
            f"/v1/models/{name}/versions",
            files={"artifact": ("m.onnx", logistic_regression_onnx().onnx)},
            data={"metadata": orjson.dumps({"task": "classification"}).decode()},
        )
        assert response.status_code == 201, response.text


async def test_champion_history_answers_where_it_pointed_at_any_time(
    registry: Registry, unique: str
) -> None:
    name = f"aliased-{unique}"
    async with registry.client(registry.scientist) as client:
        await register(client, name, 3)
        moves = []
        for version in (1, 2, 3):
            moved = await client.put(
                f"/v1/models/{name}/aliases/champion", json={"version": version}
            )
            assert moved.status_code == 200, moved.text
            moves.append(datetime.fromisoformat(moved.json()["since"]))
        again = await client.put(f"/v1/models/{name}/aliases/champion", json={"version": 3})
        assert datetime.fromisoformat(again.json()["since"]) == moves[2]  # no move, no history

        async def at(when: datetime) -> httpx.Response:
            return await client.get(
                f"/v1/models/{name}/aliases/champion", params={"at": when.isoformat()}
            )

        before = await at(moves[0] - timedelta(milliseconds=1))
        assert before.status_code == 404
        for expected, (start, end) in enumerate(
            zip(moves, [*moves[1:], None], strict=True), start=1
        ):
            assert (await at(start)).json()["version"] == expected
            if end is not None:
                midway = start + (end - start) / 2
                assert (await at(midway)).json()["version"] == expected

        await client.put(f"/v1/models/{name}/aliases/challenger", json={"version": 2})
        assert (await client.get(f"/v1/models/{name}/aliases")).json() == {
            "challenger": 2,
            "champion": 3,
        }
        assert (await client.delete(f"/v1/models/{name}/aliases/challenger")).status_code == 204
        assert (await client.delete(f"/v1/models/{name}/aliases/challenger")).status_code == 404
        assert (await client.get(f"/v1/models/{name}/aliases/challenger")).status_code == 404
        history = (await client.get(f"/v1/models/{name}/aliases/champion/history")).json()
        challenger = (await client.get(f"/v1/models/{name}/aliases/challenger/history")).json()
        missing = await client.put(f"/v1/models/{name}/aliases/champion", json={"version": 9})
        version = (await client.get(f"/v1/models/{name}/versions/3")).json()

    assert [(m["version"], m["actor"]) for m in history] == [(1, "dana"), (2, "dana"), (3, "dana")]
    assert [m["version"] for m in challenger] == [2, None]
    assert missing.status_code == 404
    assert version["aliases"] == ["champion"]


async def test_only_data_scientists_move_aliases(registry: Registry, unique: str) -> None:
    async with registry.client() as client:
        denied = await client.put(f"/v1/models/m-{unique}/aliases/champion", json={"version": 1})
    async with registry.client(registry.scientist) as client:
        numeric = await client.put(f"/v1/models/m-{unique}/aliases/1", json={"version": 1})
    assert denied.status_code == 403
    assert numeric.status_code == 400  # an alias never looks like a version number
