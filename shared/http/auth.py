"""Bearer tokens with roles, shared by every service's HTTP API.

Tokens look like ``mb_<id>_<secret>``; only the SHA-256 of the secret is stored (in the
``auth`` schema, an identity component every service may read, like the artifact store).
Secrets are 256 random bits, so a plain hash is enough: nothing is guessable offline.

Every route must declare who may call it with :func:`require`; the route-enumeration test
fails for any route without it, except the :data:`shared.http.app.PUBLIC_PATHS`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import Depends, Request

from shared.errors import Forbidden, InvalidInput, Unauthorized

Role = Literal["viewer", "data-scientist", "approver", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "data-scientist", "approver", "admin")

# Which roles satisfy a requirement. Admin can do everything; everyone can read.
GRANTS: dict[Role, frozenset[Role]] = {
    "viewer": frozenset(ROLES),
    "data-scientist": frozenset({"data-scientist", "admin"}),
    "approver": frozenset({"approver", "admin"}),
    "admin": frozenset({"admin"}),
}

_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS auth;
CREATE TABLE IF NOT EXISTS auth.tokens (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    role        text NOT NULL,
    secret_hash text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text,
    revoked_at  timestamptz
);
"""


@dataclass(frozen=True)
class Principal:
    name: str
    role: Role
    token_id: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenAuthority:
    """Issues and checks tokens. Checks are cached briefly: the inference path must not pay
    a database round trip per request, and a revocation takes effect within ``cache_s``."""

    def __init__(self, pool: asyncpg.Pool, cache_s: float = 10.0) -> None:
        self.pool = pool
        self.cache_s = cache_s
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    async def ensure_schema(self) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('auth-schema'))")
            await conn.execute(_SCHEMA)

    async def issue(self, name: str, role: str, created_by: str | None = None) -> str:
        if role not in ROLES:
            raise InvalidInput(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        await self.pool.execute(
            "INSERT INTO auth.tokens (id, name, role, secret_hash, created_by)"
            " VALUES ($1, $2, $3, $4, $5)",
            token_id,
            name,
            role,
            _hash(secret),
            created_by,
        )
        return f"mb_{token_id}_{secret}"

    async def revoke(self, token_id: str) -> None:
        await self.pool.execute(
            "UPDATE auth.tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
            token_id,
        )
        self._cache.clear()

    async def authenticate(self, token: str) -> Principal | None:
        now = time.monotonic()
        cached = self._cache.get(token)
        if cached is not None and cached[0] > now:
            return cached[1]
        principal = await self._lookup(token)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[token] = (now + self.cache_s, principal)
        return principal

    async def _lookup(self, token: str) -> Principal | None:
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != "mb":
            return None
        row = await self.pool.fetchrow(
            "SELECT name, role, secret_hash FROM auth.tokens WHERE id = $1 AND revoked_at IS NULL",
            parts[1],
        )
        if row is None or not hmac.compare_digest(row["secret_hash"], _hash(parts[2])):
            return None
        return Principal(row["name"], row["role"], parts[1])


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
        principal = await authenticate_request(request)
        if principal.role not in GRANTS[role]:
            raise Forbidden(f"this needs the {role} role; your token has {principal.role}")
        return principal

    dependency.required_role = role  # type: ignore[attr-defined]  # read by the route audit
    return dependency


# The one way a route declares who may call it: a parameter of one of these types (``_:
# Viewer`` when the route does not need the principal). The route audit finds the role.
Viewer = Annotated[Principal, Depends(require("viewer"))]
DataScientist = Annotated[Principal, Depends(require("data-scientist"))]
Approver = Annotated[Principal, Depends(require("approver"))]
Admin = Annotated[Principal, Depends(require("admin"))]


async def authenticate_request(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing bearer token")
    authority: TokenAuthority = request.app.state.auth
    principal = await authority.authenticate(token.strip())
    if principal is None:
        raise Unauthorized("invalid or revoked token")
    return principal


@dataclass(frozen=True)
class RouteRole:
    """A route of an app and the role its dependencies require (``None``: nothing required)."""

    path: str
    methods: frozenset[str]
    role: Role | None


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
        yield RouteRole(route.path, frozenset(methods), role)


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
