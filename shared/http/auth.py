"""Bearer tokens with roles, shared by every service's HTTP API.

Tokens look like ``mb_<id>_<secret>``; only the SHA-256 of the secret is stored (in the
``auth`` schema, which only the token command's role may write). Services verify through
the SECURITY DEFINER function ``auth.principal_for(id, hash)`` and may read nothing else
there (:mod:`shared.store.roles`).
Secrets are 256 random bits, so a plain hash is enough: nothing is guessable offline.

Every route must declare who may call it with :func:`require`; the route-enumeration test
fails for any route without it, except the :data:`shared.http.app.PUBLIC_PATHS`. The
request guard (:mod:`shared.http.guard`) checks the token before the body is read;
:func:`require` then only checks the role.

Checks are cached (:mod:`shared.http.token_cache`): valid and invalid answers in separate
LRUs, a revocation reaching every other service within ``cache_s`` (this one at once);
a client failing ``max_failures`` checks per ``failure_window_s`` is refused with 429
before it costs another database round trip, and at most ``lookup_concurrency`` lookups
hold pool connections at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import Depends, Request

from shared.bus import outbox
from shared.errors import Forbidden, InvalidInput, TooManyRequests, Unauthorized
from shared.events.envelope import new_event
from shared.events.identity import TokenIssued, TokenRevoked
from shared.http.token_cache import AnswerCache, FailureLimiter
from shared.store.auth_outbox import AUTH_SCHEMA, migrate_auth_outbox
from shared.store.db import is_connection_error

Role = Literal["viewer", "data-scientist", "approver", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "data-scientist", "approver", "admin")

# Which roles satisfy a requirement. Admin can do everything; everyone can read.
GRANTS: dict[Role, frozenset[Role]] = {
    "viewer": frozenset(ROLES),
    "data-scientist": frozenset({"data-scientist", "admin"}),
    "approver": frozenset({"approver", "admin"}),
    "admin": frozenset({"admin"}),
}

# The token store, inside an existing ``auth`` schema (shared.store.roles creates it for
# the token command's role; :meth:`TokenAuthority.ensure_schema` when one role owns all),
# after its outbox (shared.store.auth_outbox: the shared migrations, as in every schema).
# Services verify through ``principal_for`` only: it answers for a token id and the hash
# of its secret, so a service that may call it still cannot read or list tokens.
AUTH_DDL = """
CREATE TABLE IF NOT EXISTS auth.tokens (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    role        text NOT NULL,
    secret_hash text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text,
    revoked_at  timestamptz
);
CREATE OR REPLACE FUNCTION auth.principal_for(token_id text, token_hash text)
RETURNS TABLE (name text, role text)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT t.name, t.role FROM auth.tokens t
    WHERE t.id = token_id AND t.secret_hash = token_hash AND t.revoked_at IS NULL
$$;
REVOKE ALL ON FUNCTION auth.principal_for(text, text) FROM PUBLIC;
"""
# Read from the catalog tables under the statement's snapshot, not through to_regclass's
# catalog cache: a process that waited on the advisory lock below may not yet have seen
# the invalidation from the one that created the schema, and would then create it twice.
_HAS_AUTH = (
    "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p"
    " JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace"
    " WHERE n.nspname = 'auth' AND p.proname = 'principal_for')"
    " AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c"
    " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = 'auth' AND c.relname = 'outbox')"
)


@dataclass(frozen=True)
class Principal:
    """Who called: ``name`` is what the token was issued for (free text, not unique);
    :attr:`id` is what decisions, four-eyes and the audit record."""

    name: str
    role: Role
    token_id: str

    @property
    def id(self) -> str:
        """The principal id: unique per token, never reused (``token:<token id>``)."""
        return principal_id(self.token_id)


def principal_id(token_id: str) -> str:
    return f"token:{token_id}"


# What issue() makes: mb_<12 hex>_<43 urlsafe characters>. Anything else fails without a query.
_TOKEN = re.compile(r"mb_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenAuthority:
    """Issues and checks tokens; checks are cached and failures limited per client."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        cache_s: float = 10.0,
        *,
        negative_cache_s: float = 5.0,
        cache_size: int = 10_000,
        max_failures: int = 20,
        failure_window_s: float = 60.0,
        lookup_concurrency: int = 4,
        outage_grace_s: float = 60.0,
    ) -> None:
        self.pool = pool
        self.cache_s = cache_s
        self._valid: AnswerCache[Principal] = AnswerCache(cache_size, cache_s)
        # While the database cannot be reached, a token that was valid within the last
        # cache_s + outage_grace_s still passes: a few seconds of database outage must not
        # fail every request once the short cache runs out. Nothing can be revoked while
        # the database is down, so this lengthens the revocation bound only for a service
        # cut off from a database the others still reach.
        self._known: AnswerCache[Principal] = AnswerCache(cache_size, cache_s + outage_grace_s)
        self._invalid: AnswerCache[bool] = AnswerCache(cache_size, negative_cache_s)
        self._failures = FailureLimiter(max_failures, failure_window_s)
        self._lookups = asyncio.Semaphore(lookup_concurrency)

    async def ensure_schema(self) -> None:
        """Create the token store if it is missing: only where one role owns everything.

        A provisioned database (:mod:`shared.store.roles`) already has it, and there the
        service's role may only call ``auth.principal_for``, so nothing is run.
        """
        async with self.pool.acquire() as conn:
            if await conn.fetchval(_HAS_AUTH):
                return
            try:
                async with conn.transaction():
                    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('auth-schema'))")
                    if not await conn.fetchval(_HAS_AUTH):
                        await conn.execute("CREATE SCHEMA IF NOT EXISTS auth")
                        await migrate_auth_outbox(conn)
                        await conn.execute(AUTH_DDL)
            except asyncpg.UniqueViolationError:
                # Another process created it while this one was checking: seen with
                # replicas starting together. Its transaction made all of it, or none.
                if not await conn.fetchval(_HAS_AUTH):
                    raise

    async def issue(self, name: str, role: str, created_by: str | None = None) -> str:
        if role not in ROLES:
            raise InvalidInput(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        issued = TokenIssued(
            principal_id=principal_id(token_id),
            token_id=token_id,
            name=name,
            role=role,
            created_by=created_by,
        )
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO auth.tokens (id, name, role, secret_hash, created_by)"
                " VALUES ($1, $2, $3, $4, $5)",
                token_id,
                name,
                role,
                _hash(secret),
                created_by,
            )
            await outbox.add(conn, new_event(issued, source="auth"), schema=AUTH_SCHEMA)
        return f"mb_{token_id}_{secret}"

    async def revoke(self, token_id: str, revoked_by: str | None = None) -> bool:
        """Revoke a token; ``False`` if it was unknown or already revoked (nothing audited)."""
        async with self.pool.acquire() as conn, conn.transaction():
            revoked = await conn.fetchval(
                "UPDATE auth.tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL"
                " RETURNING true",
                token_id,
            )
            if revoked:
                event = TokenRevoked(
                    principal_id=principal_id(token_id), token_id=token_id, revoked_by=revoked_by
                )
                await outbox.add(conn, new_event(event, source="auth"), schema=AUTH_SCHEMA)
        self._valid.evict(lambda p: p.token_id == token_id)
        self._known.evict(lambda p: p.token_id == token_id)
        return bool(revoked)

    async def authenticate(self, token: str, client: str | None = None) -> Principal | None:
        """The token's principal, or None; :class:`TooManyRequests` if ``client`` (its
        address) failed too often lately. A cached valid token passes regardless."""
        principal = self._valid.get(token)
        if principal is not None:
            return principal
        if client is not None:
            wait = self._failures.retry_after(client)
            if wait is not None:
                raise TooManyRequests(
                    "too many failed token checks from this address; try again later",
                    retry_after_s=wait,
                )
        if self._invalid.get(token) is None and _TOKEN.fullmatch(token):
            async with self._lookups:
                try:
                    principal = await self._lookup(token)
                except Exception as exc:
                    known = self._known.get(token)
                    if known is None or not is_connection_error(exc):
                        raise
                    return known
        if principal is not None:
            self._valid.put(token, principal)
            self._known.put(token, principal)
            return principal
        self._invalid.put(token, True)
        if client is not None:
            self._failures.failed(client)
        return None

    async def _lookup(self, token: str) -> Principal | None:
        _, token_id, secret = token.split("_", 2)
        row = await self.pool.fetchrow(
            "SELECT name, role FROM auth.principal_for($1, $2)", token_id, _hash(secret)
        )
        if row is None:
            return None
        return Principal(row["name"], row["role"], token_id)


async def issue_token(database_url: str, name: str, role: str, *, created_by: str) -> str:
    """A token issued straight against the database: the admin bootstrap and local tools."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        authority = TokenAuthority(pool)
        await authority.ensure_schema()
        return await authority.issue(name, role, created_by=created_by)
    finally:
        await pool.close()


AuthDependency = Callable[[Request], Awaitable[Principal]]


def require(role: Role) -> AuthDependency:
    """A FastAPI dependency: the caller's principal, if its role satisfies ``role``.

    The authority is taken from ``app.state.auth``, set when the service is wired.
    """

    if role not in GRANTS:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")

    async def dependency(request: Request) -> Principal:
        return await check_role(request.scope, role)

    dependency.required_role = role  # type: ignore[attr-defined]  # read by the route audit
    return dependency


# The one way a route declares who may call it: a parameter of one of these types (``_:
# Viewer`` when the route does not need the principal). The route audit finds the role.
Viewer = Annotated[Principal, Depends(require("viewer"))]
DataScientist = Annotated[Principal, Depends(require("data-scientist"))]
Approver = Annotated[Principal, Depends(require("approver"))]
Admin = Annotated[Principal, Depends(require("admin"))]


# Where the request guard leaves the principal it authenticated, in the ASGI scope.
PRINCIPAL = "modelbus.principal"


async def check_role(scope: Any, role: Role) -> Principal:
    """The caller's principal if its role satisfies ``role`` (401/403/429 otherwise).

    The guard's principal when it ran first; else the token is checked here, with the
    authority found on the app (``scope["app"].state.auth``).
    """
    principal: Principal | None = scope.get(PRINCIPAL)
    if principal is None:
        principal = await authenticate_scope(scope, scope["app"].state.auth)
    return granted(principal, role)


def granted(principal: Principal, role: Role) -> Principal:
    """``principal`` if its role satisfies ``role``; 403 otherwise."""
    if principal.role not in GRANTS[role]:
        raise Forbidden(f"this needs the {role} role; your token has {principal.role}")
    return principal


async def authenticate_scope(scope: Any, authority: TokenAuthority) -> Principal:
    """The principal of the request's bearer token, read from the raw ASGI headers."""
    header = b""
    for name, value in scope["headers"]:
        if name == b"authorization":
            header = value
            break
    client = scope.get("client")
    return await authenticate_bearer(
        header.decode("latin-1"), authority, client[0] if client else None
    )


async def authenticate_bearer(
    header: str, authority: TokenAuthority, client: str | None
) -> Principal:
    """The principal of an ``Authorization: Bearer <token>`` value, whatever carried it (an
    HTTP header, gRPC metadata); ``client`` is the caller's address, for failure limits."""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token")
    principal = await authority.authenticate(token.strip(), client)
    if principal is None:
        raise Unauthorized("invalid or revoked token")
    return principal


@dataclass(frozen=True)
class RouteRole:
    """A route of an app and the role its dependencies require (``None``: nothing required),
    with the body limit its endpoint declares (``shared.http.guard.body_limit``), if any."""

    path: str
    methods: frozenset[str]
    role: Role | None
    max_body_bytes: int | None = None


def route_roles(app: Any) -> Iterator[RouteRole]:
    """Every route of a FastAPI ``app`` with its required role, for the deny-by-default audit.

    Routers included into the app are walked with their effective (prefixed) paths and
    inherited dependencies; a route counts as protected when any dependency in its tree was
    made by :func:`require`, or, for a raw Starlette route (no dependencies: the inference
    hot path), when its endpoint says which ``required_role`` it checks itself.
    """
    try:  # recent FastAPI keeps included routers nested; this walks them
        from fastapi.routing import iter_route_contexts

        routes: Any = iter_route_contexts(app.routes)
    except ImportError:  # older FastAPI flattens included routes into app.routes
        routes = app.routes
    for route in routes:
        dependant = getattr(route, "dependant", None)
        methods = getattr(route, "methods", None) or {"WEBSOCKET"}
        endpoint = getattr(route, "endpoint", None)
        role = _required_role(dependant) or getattr(endpoint, "required_role", None)
        limit = getattr(endpoint, "max_body_bytes", None)
        yield RouteRole(route.path, frozenset(methods), role, limit)


def _required_role(dependant: Any) -> Role | None:
    if dependant is None:
        return None
    role: Role | None = getattr(dependant.call, "required_role", None)
    if role is not None:
        return role
    for sub in dependant.dependencies:
        found = _required_role(sub)
        if found is not None:
            return found
    return None
