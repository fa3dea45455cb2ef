"""``modelbus token create|revoke``: the admin bootstrap, run against the database directly."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

# Kept here rather than imported: importing shared.http.auth loads FastAPI, a second
# per CLI call; tests check the two lists agree.
ROLES = ("viewer", "data-scientist", "approver", "admin")


def register(subparsers: Any) -> None:
    token = subparsers.add_parser("token", help="create or revoke API tokens")
    actions = token.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="issue a token and print it once")
    create.add_argument("--name", required=True, help="who the token is for")
    create.add_argument("--role", required=True, choices=ROLES)
    create.set_defaults(func=create_token)
    revoke = actions.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("token_id")
    revoke.set_defaults(func=revoke_token)


def database_url() -> str:
    """The token role's: the only one that may write ``auth`` (shared/store/roles.py)."""
    from modelbus.local_database import database_url as local_url

    return local_url("modelbus_tokens")


def create_token(args: argparse.Namespace) -> int:
    from shared.http.auth import issue_token

    url = database_url()
    print(asyncio.run(issue_token(url, args.name, args.role, created_by="cli")))
    return 0


def revoke_token(args: argparse.Namespace) -> int:
    import asyncpg

    from shared.http.auth import TokenAuthority

    async def revoke() -> bool:
        pool = await asyncpg.create_pool(database_url(), min_size=1, max_size=1)
        try:
            authority = TokenAuthority(pool)
            await authority.ensure_schema()
            # Audited: the revocation reaches governance's log through the auth outbox.
            return await authority.revoke(args.token_id, revoked_by="cli")
        finally:
            await pool.close()

    if not asyncio.run(revoke()):
        print(f"no live token {args.token_id} (unknown or already revoked)")
        return 1
    print(f"revoked {args.token_id}")
    return 0
