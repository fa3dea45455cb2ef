"""Least privilege in Postgres: one login role per service, owning only its schema.

The model (``provision`` runs it, as a superuser or the database owner, once per
database and again after an upgrade; it is idempotent):

- ``modelbus_<service>`` owns schema ``<service>``. The service connects as it and runs
  its own migrations there at start-up (the shared inbox, outbox and quarantine tables
  are migrations applied into each service's schema, so they need no grant). It cannot
  create schemas, and sees no other service's schema.
- ``modelbus_tokens`` owns schema ``auth``: only the token command (``modelbus token``),
  connecting as it, may write tokens. Services get no privilege on ``auth.tokens``, only
  EXECUTE on ``auth.principal_for(id, hash)``, a SECURITY DEFINER function that returns
  the name and role of an unrevoked token whose secret hashes to ``hash``: verifying a
  token needs its secret, and no service can list tokens or their hashes.
- ``modelbus_artifacts`` (no login) owns schema ``artifacts`` (the Postgres artifact
  store): every service may read blobs, the ones that store artifacts
  (:data:`ARTIFACT_WRITERS`) may also insert; nobody but the owner updates or deletes.
- ``PUBLIC`` loses CONNECT and TEMP on the database and CREATE on schema ``public``; the
  service roles get CONNECT and TEMP (governance stages replays in a temporary table).

A deployment that gives every service one owner URL still works (each piece of DDL
checks what exists first), without the separation.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote, urlsplit, urlunsplit

from shared.settings import DEFAULT_PORTS
from shared.store.artifacts import BLOBS_DDL
from shared.store.auth_outbox import migrate_auth_outbox
from shared.store.db import Connection

SERVICES: tuple[str, ...] = tuple(DEFAULT_PORTS)
TOKENS_ROLE = "modelbus_tokens"
ARTIFACTS_ROLE = "modelbus_artifacts"
ARTIFACT_WRITERS = ("registry", "trainer", "monitor")


def service_role(service: str) -> str:
    return f"modelbus_{service}"


def login_roles() -> tuple[str, ...]:
    """Every role that needs a password: the services' and the token command's."""
    return (*(service_role(s) for s in SERVICES), TOKENS_ROLE)


def url_as(url: str, role: str, password: str) -> str:
    """``url`` with its user and password replaced: the same server and database as ``role``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{quote(role, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


async def _exec(conn: Connection, template: str, *args: str) -> None:
    """Run DDL built with ``format()`` on the server (identifiers %I, literals %L)."""
    placeholders = ", ".join(f"${i + 1}::text" for i in range(len(args)))
    sql = await conn.fetchval(f"SELECT format('{template}', {placeholders})", *args)
    await conn.execute(sql)


async def _ensure_login_role(conn: Connection, role: str, password: str) -> None:
    if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
        await _exec(conn, "CREATE ROLE %I LOGIN", role)
    # SCRAM-SHA-256 (password_encryption's default): the server keeps a verifier, not this.
    await _exec(
        conn,
        "ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
        " PASSWORD %L",
        role,
        password,
    )


async def _ensure_owned_schema(conn: Connection, schema: str, owner: str) -> None:
    """Schema ``schema`` exists and it and everything in it belong to ``owner``."""
    await _exec(conn, "CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I", schema, owner)
    await _exec(conn, "ALTER SCHEMA %I OWNER TO %I", schema, owner)
    # Tables first: their serial sequences follow them (and refuse a change of their own).
    for kinds, kind in ((["r", "p"], "TABLE"), (["v"], "VIEW"), (["S"], "SEQUENCE")):
        rows = await conn.fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = $1 AND c.relkind::text = ANY($3::text[])"
            " AND pg_get_userbyid(c.relowner) <> $2 AND NOT c.relispartition",
            schema,
            owner,
            kinds,
        )
        for row in rows:
            await _exec(conn, f"ALTER {kind} %I.%I OWNER TO %I", schema, row["relname"], owner)
    functions = await conn.fetch(
        "SELECT p.oid::regprocedure::text AS signature FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = $1 AND pg_get_userbyid(p.proowner) <> $2",
        schema,
        owner,
    )
    for row in functions:
        await conn.execute(f'ALTER FUNCTION {row["signature"]} OWNER TO "{owner}"')


async def provision(conn: Connection, passwords: Mapping[str, str], auth_ddl: str) -> None:
    """Create or update every role, schema and grant of the model above.

    ``passwords`` maps each of :func:`login_roles` to its password; ``auth_ddl`` creates
    the ``auth`` schema's objects (``shared.http.auth.AUTH_DDL``; passed in because
    ``shared.store`` does not import the HTTP layer). Needs a superuser (it runs DDL as
    the owning roles with SET ROLE).
    """
    missing = [r for r in login_roles() if not passwords.get(r)]
    if missing:
        raise ValueError(f"no password for {', '.join(missing)}")
    database = await conn.fetchval("SELECT current_database()")
    services = [service_role(s) for s in SERVICES]
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('modelbus-roles'))")
        for role in login_roles():
            await _ensure_login_role(conn, role, passwords[role])
        if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", ARTIFACTS_ROLE):
            await _exec(conn, "CREATE ROLE %I NOLOGIN", ARTIFACTS_ROLE)

        await _exec(conn, "REVOKE ALL ON DATABASE %I FROM PUBLIC", database)
        await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        for role in (*services, TOKENS_ROLE):
            await _exec(conn, "GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I", database, role)

        for service in SERVICES:
            await _ensure_owned_schema(conn, service, service_role(service))

        await _ensure_owned_schema(conn, "auth", TOKENS_ROLE)
        await _exec(conn, "SET LOCAL ROLE %I", TOKENS_ROLE)
        await migrate_auth_outbox(conn)  # the token events' outbox, as every schema has it
        await conn.execute(auth_ddl)
        await conn.execute("RESET ROLE")
        await conn.execute("REVOKE ALL ON ALL TABLES IN SCHEMA auth FROM PUBLIC")
        await conn.execute("REVOKE ALL ON FUNCTION auth.principal_for(text, text) FROM PUBLIC")
        for role in services:
            await _exec(conn, "GRANT USAGE ON SCHEMA auth TO %I", role)
            await _exec(
                conn, "GRANT EXECUTE ON FUNCTION auth.principal_for(text, text) TO %I", role
            )
        # Governance relays the token command's audit events (auth.outbox) to Kafka.
        relay = service_role("governance")
        await _exec(
            conn,
            "GRANT SELECT, INSERT, UPDATE, DELETE ON auth.outbox, auth.outbox_quarantine TO %I",
            relay,
        )
        await _exec(conn, "GRANT USAGE ON SEQUENCE auth.outbox_id_seq TO %I", relay)

        await _ensure_owned_schema(conn, "artifacts", ARTIFACTS_ROLE)
        await _exec(conn, "SET LOCAL ROLE %I", ARTIFACTS_ROLE)
        await conn.execute(BLOBS_DDL)
        await conn.execute("RESET ROLE")
        for service in SERVICES:
            role = service_role(service)
            privileges = "SELECT, INSERT" if service in ARTIFACT_WRITERS else "SELECT"
            await _exec(conn, "GRANT USAGE ON SCHEMA artifacts TO %I", role)
            await _exec(conn, f"GRANT {privileges} ON artifacts.blobs TO %I", role)
