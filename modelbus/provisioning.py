"""Provisioning infrastructure for least privilege: database roles, Kafka topics and ACLs.

Run once per database and broker with administrative credentials (``modelbus up`` does
it for embedded Postgres; ``modelbus provision`` for infrastructure of your own), before
the services start with their own credentials. Both steps are idempotent.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import asyncpg

from modelbus.embedded import secret_file
from shared.http.auth import AUTH_DDL
from shared.store import roles


def local_passwords(secrets_dir: Path) -> dict[str, str]:
    """A password per database role, generated once into ``secrets_dir`` (mode 0600)."""
    return {role: secret_file(secrets_dir / f"postgres-{role}") for role in roles.login_roles()}


async def provision_database(admin_url: str, passwords: Mapping[str, str]) -> dict[str, str]:
    """Create the roles, schemas and grants of :mod:`shared.store.roles`; return each
    role's URL (the admin URL's server and database, the role's user and password)."""
    conn = await asyncpg.connect(admin_url)
    try:
        await roles.provision(conn, passwords, AUTH_DDL)
    finally:
        await conn.close()
    return {role: roles.url_as(admin_url, role, passwords[role]) for role in roles.login_roles()}
