"""A database outage longer than the token cache does not fail callers it knew; it never
lets in a token it did not know, nor one that was revoked."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from shared.http.auth import TokenAuthority, _hash


class FlakyPool:
    """Answers token lookups from a dict until ``down``; then the database is unreachable."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, str]] = {}
        self.down = False

    async def fetchrow(self, sql: str, token_id: str, secret_hash: str) -> dict[str, str] | None:
        """As ``auth.principal_for``: the principal only when the secret's hash matches."""
        if self.down:
            raise ConnectionRefusedError("database unreachable")
        row = self.rows.get(token_id)
        return row if row is not None and row["secret_hash"] == secret_hash else None

    async def execute(self, sql: str, *args: Any) -> None:
        if self.down:
            raise ConnectionRefusedError("database unreachable")

    async def fetchval(self, sql: str, token_id: str) -> bool | None:
        """As the revoking UPDATE: true once for a known token, then it is gone."""
        return True if self.rows.pop(token_id, None) is not None else None

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[FlakyPool]:
        if self.down:
            raise ConnectionRefusedError("database unreachable")
        yield self

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        yield


def token(pool: FlakyPool, token_id: str) -> str:
    secret = "s" * 43
    pool.rows[token_id] = {"name": "ops", "role": "viewer", "secret_hash": _hash(secret)}
    return f"mb_{token_id}_{secret}"


async def test_known_tokens_pass_while_the_database_is_down_unknown_ones_do_not() -> None:
    pool = FlakyPool()
    authority = TokenAuthority(pool, cache_s=0.0)  # type: ignore[arg-type]  # every check looks up
    known, unknown = token(pool, "aaaaaaaaaaaa"), token(pool, "bbbbbbbbbbbb")
    assert (await authority.authenticate(known)) is not None
    pool.down = True
    principal = await authority.authenticate(known)
    assert principal is not None and principal.name == "ops"
    with pytest.raises(ConnectionRefusedError):
        await authority.authenticate(unknown)


async def test_a_revoked_token_does_not_pass_during_a_later_outage() -> None:
    pool = FlakyPool()
    authority = TokenAuthority(pool, cache_s=0.0)  # type: ignore[arg-type]
    known = token(pool, "cccccccccccc")
    assert (await authority.authenticate(known)) is not None
    await authority.revoke("cccccccccccc")
    pool.down = True
    with pytest.raises(ConnectionRefusedError):
        await authority.authenticate(known)
