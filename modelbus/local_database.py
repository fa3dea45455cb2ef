"""Which database URL a command-line tool uses when none is given.

``MODELBUS_DATABASE_URL`` when set. Otherwise, if ``modelbus up`` provisioned embedded
Postgres under ``MODELBUS_HOME``, the URL of the role the tool needs (the token role for
``modelbus token``, governance's for ``modelbus audit``), with the password that stack
keeps in ``MODELBUS_HOME/secrets``; else the default setting. Light on imports: the CLI
loads it on every call.
"""

from __future__ import annotations

import os

from shared.settings import Settings


def database_url(role: str) -> str:
    settings = Settings()
    if os.environ.get("MODELBUS_DATABASE_URL"):
        return settings.database_url
    secret = settings.home / "secrets" / f"postgres-{role}"
    if not secret.exists():
        return settings.database_url
    port = os.environ.get("MODELBUS_POSTGRES_PORT", "5432")
    return f"postgresql://{role}:{secret.read_text().strip()}@127.0.0.1:{port}/modelbus"
