from modelbus.commands import tokens
from shared.http import auth


def test_the_token_command_offers_exactly_the_roles_auth_knows() -> None:
    assert tokens.ROLES == auth.ROLES
