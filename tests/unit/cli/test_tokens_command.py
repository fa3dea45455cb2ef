from pathlib import Path

import pytest

from modelbus.commands import tokens
from shared.http import auth
from shared.settings import Settings


def test_the_token_command_offers_exactly_the_roles_auth_knows() -> None:
    assert tokens.ROLES == auth.ROLES


def test_tools_find_their_role_of_the_local_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelbus.local_database import database_url

    monkeypatch.delenv("MODELBUS_DATABASE_URL", raising=False)
    monkeypatch.setenv("MODELBUS_HOME", str(tmp_path))
    monkeypatch.setenv("MODELBUS_POSTGRES_PORT", "6543")
    assert database_url("modelbus_tokens") == Settings().database_url  # no stack here
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "postgres-modelbus_tokens").write_text("tok3n-pw\n")
    assert database_url("modelbus_tokens") == (
        "postgresql://modelbus_tokens:tok3n-pw@127.0.0.1:6543/modelbus"
    )
    monkeypatch.setenv("MODELBUS_DATABASE_URL", "postgresql://ops:pw@db/modelbus")
    assert database_url("modelbus_tokens") == "postgresql://ops:pw@db/modelbus"
