"""The browser tier: Debian's Chromium driven by Playwright against a real platform.

Run with ``./run browser`` (``.ci/run`` runs it after the suite); ``./run test`` leaves
this folder out (see ``tests/conftest.py``). Screenshots go to ``test-output/browser/``.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, async_playwright

from modelbus.demo import scenario
from modelbus.demo.platform import Platform
from modelbus.embedded import pick_free_port
from modelbus.stack import PROCESSES, StackSettings, running_stack
from shared.http.auth import issue_token
from tests.browser.platform import (
    AUDIT_RECORDS,
    CROWD,
    Seeded,
    append_failures,
    audit_size,
    seed_crowd,
    upload,
    wait_for_audit,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "browser"

pytestmark = pytest.mark.browser


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def seeded(database_url: str, kafka_bootstrap: str) -> AsyncIterator[Seeded]:
    ports = {f"{name}_port": pick_free_port() for name in PROCESSES}
    os.environ.setdefault("MODELBUS_GOVERNANCE_AUDIT_KEY", "browser-" + os.urandom(24).hex())
    settings = StackSettings(
        home=Path(tempfile.mkdtemp(prefix="modelbus-browser-")),
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        **ports,
    )
    async with running_stack(settings) as stack:
        platform = Platform.of(stack)
        tokens = {
            role: await issue_token(database_url, f"console-{role}", role, created_by="test")
            for role in ("viewer", "approver", "admin", "data-scientist")
        }
        # The demo's steps wait up to STEP_TIMEOUT_S each; a machine shared with other
        # work trains slower, and this tier is about the pages, not the demo's pace.
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(scenario, "STEP_TIMEOUT_S", 300.0)
            demo = await scenario.run(platform, shift=True, echo=print)
        assert demo.closed_loop, "the demo's loop did not close"
        suffix = uuid.uuid4().hex[:6]
        pending = f"loan-scoring-{suffix}"
        import httpx

        async with httpx.AsyncClient(
            base_url=platform.endpoints["registry"],
            headers={"Authorization": f"Bearer {tokens['data-scientist']}"},
            timeout=60,
            trust_env=False,
        ) as registry:
            await upload(registry, pending, "credit", "medium")
        crowd = [f"crowd-{suffix}-{i:03d}" for i in range(CROWD)]
        await seed_crowd(platform, tokens["data-scientist"], crowd)
        have = await audit_size(platform.endpoints["governance"], tokens["viewer"])
        await append_failures(database_url, platform.audit_key, crowd, max(0, AUDIT_RECORDS - have))
        await wait_for_audit(platform, tokens["viewer"], AUDIT_RECORDS)
        yield Seeded(platform, demo, tokens, pending, crowd)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        await launched.close()
