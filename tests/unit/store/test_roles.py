"""Database roles: one per service and the token role; URLs that connect as each."""

from __future__ import annotations

from modelbus.commands.provision import password_variable
from shared.store.roles import TOKENS_ROLE, login_roles, service_role, url_as


def test_every_service_and_the_token_command_have_a_login_role() -> None:
    assert set(login_roles()) == {
        *(service_role(s) for s in ("registry", "trainer", "governance", "deployer", "monitor")),
        TOKENS_ROLE,
    }
    assert password_variable(TOKENS_ROLE) == "MODELBUS_DB_PASSWORD_TOKENS"
    assert password_variable(service_role("trainer")) == "MODELBUS_DB_PASSWORD_TRAINER"


def test_url_as_swaps_only_the_credentials() -> None:
    admin = "postgresql://postgres:s3cret@db.example:6432/modelbus?sslmode=require"
    assert url_as(admin, "modelbus_trainer", "p@ss/w:rd") == (
        "postgresql://modelbus_trainer:p%40ss%2Fw%3Ard@db.example:6432/modelbus?sslmode=require"
    )
    assert url_as("postgresql://postgres@[::1]/m", "r", "x") == "postgresql://r:x@[::1]/m"
