"""Least privilege in Postgres: a role per service, tokens writable by the token role only.

A database of its own per test module, provisioned as ``modelbus up`` provisions embedded
Postgres (``shared/store/roles.py``); the rest of the suite runs as the test superuser.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import pytest_asyncio

from modelbus.embedded import EmbeddedPostgres
from modelbus.provisioning import provision_database
from services.trainer.bootstrap import definition as trainer
from shared.http.auth import TokenAuthority, issue_token
from shared.runtime import connect_and_migrate
from shared.settings import Settings
from shared.store.roles import SERVICES, TOKENS_ROLE, login_roles, service_role
from tests.integration.trainer.helpers import QUICK, request
from tests.support.polling import eventually
from tests.support.services import http, running

LOOP = pytest.mark.asyncio(loop_scope="module")
pytestmark = [pytest.mark.integration, LOOP]


def _with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def role_urls(database_url: str) -> AsyncIterator[dict[str, str]]:
    name = f"roles_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        passwords = {role: secrets.token_urlsafe(24) for role in login_roles()}
        urls = await provision_database(_with_database(database_url, name), passwords)
        # Provisioning twice changes nothing (it runs at every `modelbus up`).
        assert await provision_database(_with_database(database_url, name), passwords) == urls
        yield urls
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def test_the_trainers_role_cannot_read_or_write_tokens(role_urls: dict[str, str]) -> None:
    token = await issue_token(role_urls[TOKENS_ROLE], "ana", "admin", created_by="test")
    conn = await asyncpg.connect(role_urls[service_role("trainer")])
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("SELECT * FROM auth.tokens")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(
                "INSERT INTO auth.tokens (id, name, role, secret_hash) VALUES ('x', 'x', 'admin', 'x')"
            )
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE SCHEMA sneaky")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE registry.planted (x int)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("DELETE FROM artifacts.blobs")
    finally:
        await conn.close()
    # ...and still verifies tokens, through auth.principal_for, given the secret.
    pool = await asyncpg.create_pool(role_urls[service_role("trainer")], min_size=1, max_size=1)
    try:
        principal = await TokenAuthority(pool).authenticate(token)
        assert principal is not None and (principal.name, principal.role) == ("ana", "admin")
        assert await TokenAuthority(pool).authenticate(token[:-4] + "AAAA") is None
    finally:
        await pool.close()


async def test_every_service_migrates_its_own_schema_as_its_own_role(
    role_urls: dict[str, str], tmp_path: Path
) -> None:
    import importlib

    for service in SERVICES:
        definition = importlib.import_module(f"services.{service}.bootstrap").definition()
        settings = Settings(database_url=role_urls[service_role(service)], home=tmp_path)
        pool = await connect_and_migrate(definition, settings)
        try:
            owners = await pool.fetch(
                "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = $1", service
            )
            assert [r["tableowner"] for r in owners] == [service_role(service)]
        finally:
            await pool.close()


async def test_the_trainer_serves_on_its_own_role_and_kafka_user(
    role_urls: dict[str, str], broker, tmp_path: Path, unique: str
) -> None:
    fields = {"database_url": role_urls[service_role("trainer")], "home": tmp_path, "http_port": 0}
    settings = (
        broker.settings_for("trainer", **fields)
        if broker.has_acls
        else Settings(kafka_bootstrap=broker.bootstrap, **fields)
    )
    scientist = await issue_token(role_urls[TOKENS_ROLE], "dana", "data-scientist", created_by="t")
    async with running(trainer(), settings) as service, http(service, scientist) as client:
        ask = request(f"roles-{unique}", "iris", candidates=QUICK)
        body = ask.model_dump(mode="json", by_alias=True)
        accepted = await client.post("/v1/training-requests", json=body)
        assert accepted.status_code == 202, accepted.text
        job_url = f"/v1/jobs/{accepted.json()['job_id']}"

        async def finished() -> bool:
            status = (await client.get(job_url)).json()["status"]
            return status in ("succeeded", "failed")

        # Trained by a child without credentials, recorded as the trainer's role.
        await eventually(finished, timeout=180, what="the training job finished")
        assert (await client.get(job_url)).json()["status"] == "succeeded"
        assert (
            await client.get("/v1/jobs", headers={"Authorization": "Bearer nope"})
        ).status_code == 401


async def test_a_connection_without_the_password_is_refused(
    postgres: tuple[str, EmbeddedPostgres | None],
) -> None:
    database_url, server = postgres
    if server is None:
        pytest.skip("the test database was given from outside")
    parts = urlsplit(database_url)
    socket_dir = server.data_dir / "sockets"
    # The local socket too, where `trust` used to let any local user in.
    assert (socket_dir / f".s.PGSQL.{server.port}").exists()
    for password in ("", "wrong"):
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(
                host=str(socket_dir), port=server.port, user="postgres", password=password
            )
    for user in ("postgres", service_role("trainer")):
        bare = urlunsplit(parts._replace(netloc=f"{user}@{parts.hostname}:{parts.port}"))
        with pytest.raises(
            (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)
        ):
            await asyncpg.connect(bare, password="")
        wrong = urlunsplit(parts._replace(netloc=f"{user}:wrong@{parts.hostname}:{parts.port}"))
        with pytest.raises(asyncpg.InvalidPasswordError):
            await asyncpg.connect(wrong)
