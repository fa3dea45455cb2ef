"""Where the demo runs: the stack ``modelbus up`` is running, or one it starts itself."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from modelbus.stack import (
    SERVICES,
    RunningStack,
    StackSettings,
    local_secret,
    running_stack,
)


@dataclass(frozen=True)
class Platform:
    database_url: str
    kafka_bootstrap: str
    endpoints: dict[str, str]
    home: Path
    started_here: bool
    # The supervision of a stack started here: it ends when the stack cannot go on.
    supervision: asyncio.Task[int] | None = field(default=None, compare=False)

    @classmethod
    def of(cls, stack: RunningStack) -> Platform:
        """A stack started here (and stopped by whoever started it)."""
        return cls(
            stack.database_url,
            stack.kafka_bootstrap,
            stack.endpoints,
            stack.home,
            started_here=True,
            supervision=stack.supervision,
        )

    @property
    def audit_key(self) -> str:
        """The checkpoint key governance runs with: the environment's, else the stack's."""
        return local_secret(self.home, "MODELBUS_GOVERNANCE_AUDIT_KEY")


class PlatformGone(Exception):
    """The platform stopped answering under the demo; the message says how."""


async def watch(platform: Platform, *, silence_s: float = 20.0) -> str:
    """Return why the platform went away: its supervision ended, or no service answered
    ``/healthz`` for ``silence_s`` (longer than a supervised restart takes)."""
    last_answer = time.monotonic()
    async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
        while True:
            if platform.supervision is not None and platform.supervision.done():
                return "the platform this demo started has stopped (see the messages above)"
            for url in platform.endpoints.values():
                try:
                    if (await client.get(f"{url}/healthz")).status_code == 200:
                        last_answer = time.monotonic()
                        break
                except httpx.HTTPError:
                    continue
            if time.monotonic() - last_answer > silence_s:
                return f"the platform went away: no service answered for {silence_s:g} s"
            await asyncio.sleep(1.0)


def _running_platform(settings: StackSettings) -> Platform | None:
    endpoints = {s: f"http://127.0.0.1:{settings.service_port(s)}" for s in SERVICES}
    for url in endpoints.values():
        try:
            if httpx.get(f"{url}/readyz", timeout=2, trust_env=False).status_code != 200:
                return None
        except httpx.HTTPError:
            return None
    console = f"http://127.0.0.1:{settings.console_port}"
    try:
        if httpx.get(f"{console}/readyz", timeout=2, trust_env=False).status_code == 200:
            endpoints["console"] = console
    except httpx.HTTPError:
        pass  # a platform without its console still runs the demo
    return Platform(
        database_url=settings.database_url
        or f"postgresql://postgres@127.0.0.1:{settings.postgres_port}/modelbus",
        kafka_bootstrap=settings.kafka_bootstrap or f"127.0.0.1:{settings.kafka_port}",
        endpoints=endpoints,
        home=settings.home,
        started_here=False,
    )


@asynccontextmanager
async def platform(settings: StackSettings | None = None) -> AsyncIterator[Platform]:
    """The running platform if every service answers ready; else start one and stop it after."""
    settings = settings or StackSettings()
    existing = _running_platform(settings)
    if existing is not None:
        yield existing
        return
    async with running_stack(settings) as stack:
        yield Platform.of(stack)
