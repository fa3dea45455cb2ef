"""Secrets in settings: there are no default secrets, and a weak one stops start-up.

A setting typed :data:`StrongSecret` has no default (leaving it unset fails validation),
and refuses the empty string, well-known placeholders and anything shorter than
:data:`MIN_LENGTH` characters, so a deployment can never run on a secret someone else knows.
``python -c 'import secrets; print(secrets.token_urlsafe(32))'`` makes a good one.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, SecretStr

MIN_LENGTH = 32
PLACEHOLDERS = frozenset(
    {
        "changeme",
        "change-me",
        "change_me",
        "default",
        "secret",
        "password",
        "modelbus",
        "test",
        "dev",
        "admin",
        "example",
        "xxx",
    }
)


def check_secret(value: SecretStr) -> SecretStr:
    raw = value.get_secret_value().strip()
    if not raw:
        raise ValueError("must be set to a secret value, not empty")
    if raw.lower() in PLACEHOLDERS or len(set(raw)) == 1:
        raise ValueError("is a placeholder or default value; generate a random secret")
    if len(raw) < MIN_LENGTH:
        raise ValueError(f"is too short: use at least {MIN_LENGTH} random characters")
    return value


StrongSecret = Annotated[SecretStr, AfterValidator(check_secret)]
