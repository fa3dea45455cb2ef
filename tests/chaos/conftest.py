from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def audit_key() -> Iterator[str]:
    """One checkpoint key for the tier, as one deployment has one: every test's governance
    writes the same database's audit log, and verifying that log needs the key each of its
    checkpoints was signed with."""
    key = "chaos-" + os.urandom(24).hex()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MODELBUS_GOVERNANCE_AUDIT_KEY", key)
        yield key
