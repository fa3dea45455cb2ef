"""Session-wide infrastructure: one database and one broker for every test that asks."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelbus.embedded import EmbeddedPostgres
from shared.logging import configure_logging
from shared.settings import Settings
from tests.support.events import DECISION_KEY
from tests.support.infra import Broker, start_broker, start_postgres

_broker_kind: list[str] = []

# Many deployers run in one test process, and test stacks beside a developer's own: each
# binds its gRPC port anew, wherever is free (a test that needs the number reads it back).
os.environ.setdefault("MODELBUS_DEPLOYER_GRPC_PORT", "0")
# Many monitors share the test process too: each would freeze the others' garbage.
os.environ.setdefault("MODELBUS_MONITOR_GC_YOUNG_THRESHOLD", "0")

# The browser tier (Chromium, the whole platform) is its own run: ./run browser.
collect_ignore = [] if os.environ.get("MODELBUS_BROWSER_TESTS") == "1" else ["browser"]


def pytest_configure(config: pytest.Config) -> None:
    # Services run in-process log as they do in production: JSON on stderr, never on the
    # stdout that CLI tests read.
    configure_logging("test", "INFO")


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("infra")


@pytest.fixture(scope="session")
def postgres(workdir: Path) -> Iterator[tuple[str, EmbeddedPostgres | None]]:
    """The session's database URL, and its embedded server (None when one was given)."""
    url, server = start_postgres(workdir)
    yield url, server
    if server is not None:
        server.stop()


@pytest.fixture(scope="session")
def database_url(postgres: tuple[str, EmbeddedPostgres | None]) -> str:
    return postgres[0]


@pytest.fixture(scope="session")
def broker(workdir: Path) -> Iterator[Broker]:
    started = start_broker(workdir)
    _broker_kind.append(started.kind)
    # Every Settings() of this session, and every process a test starts, connects as the
    # test super user unless a test asks for a service's own credentials.
    with pytest.MonkeyPatch.context() as env:
        for name, value in started.superuser_env().items():
            env.setenv(name, value)
        yield started
    started.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(broker: Broker) -> str:
    return broker.bootstrap


@pytest.fixture
def unique() -> str:
    """A short unique suffix: tests share the broker and database and isolate by name."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def settings(database_url: str, kafka_bootstrap: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        home=tmp_path / "home",
        http_port=0,
        artifact_source_dirs=[tmp_path],  # datasets and models the test writes there
        decision_keys=[DECISION_KEY],
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _broker_kind:
        terminalreporter.write_line(f"Kafka broker used by this run: {_broker_kind[0]}")
