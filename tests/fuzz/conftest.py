"""The fuzz tier: every service running, hostile inputs at every route and consumed topic.

Run on its own with ``./run fuzz`` (``.ci/run`` runs it after the suite).
``MODELBUS_FUZZ_SCALE`` multiplies the number of inputs (1 is the CI-sized run).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests.fuzz.platform import Platform, running_platform
from tests.fuzz.tally import TALLY

SCALE = float(os.environ.get("MODELBUS_FUZZ_SCALE", "1"))

settings.register_profile(
    "fuzz",
    deadline=None,  # requests to a loaded machine take what they take
    database=None,  # nothing written under the checkout
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
settings.load_profile("fuzz")


def examples(n: int) -> int:
    return max(1, int(n * SCALE))


@pytest.fixture(scope="session")
def platform(
    database_url: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    with running_platform(database_url, kafka_bootstrap, tmp_path_factory.mktemp("fuzz")) as p:
        yield p
        crashed = p.crashed()
        assert not crashed, f"service tasks died: {crashed}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TALLY.inputs:
        return
    terminalreporter.section("fuzz: inputs tried and failures")
    for line in TALLY.table():
        terminalreporter.write_line(line)
