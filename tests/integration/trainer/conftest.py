"""A trainer running in the test's event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.trainer.bootstrap import definition
from shared.runtime import ServiceProcess
from shared.settings import Settings
from tests.integration.trainer.helpers import abandon_jobs_of
from tests.support.services import running


@pytest.fixture
async def trainer(
    settings: Settings, unique: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[ServiceProcess]:
    monkeypatch.setenv("MODELBUS_TRAINER_POLL_S", "0.1")
    monkeypatch.setenv("MODELBUS_TRAINER_MAX_WORKERS", "2")
    async with running(definition(), settings) as service:
        yield service
    await abandon_jobs_of(settings.database_url, unique)
