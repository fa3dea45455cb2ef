"""The demo, when the platform goes away under it, ends with one line, not a traceback."""

from __future__ import annotations

import asyncio
from pathlib import Path

from modelbus.commands.demo import _one_line
from modelbus.demo.platform import Platform, watch
from modelbus.embedded import pick_free_port


def gone_platform(**kwargs: object) -> Platform:
    endpoints = {"deployer": f"http://127.0.0.1:{pick_free_port()}"}  # nothing listens there
    return Platform("postgresql://unused", "127.0.0.1:1", endpoints, Path("/nonexistent"), False, **kwargs)  # type: ignore[arg-type]  # fmt: skip


async def test_watch_says_the_platform_went_away_once_nothing_answers() -> None:
    reason = await asyncio.wait_for(watch(gone_platform(), silence_s=0.5), 30)
    assert reason == "the platform went away: no service answered for 0.5 s"


async def test_watch_says_so_when_the_stack_it_started_stopped() -> None:
    async def stopped() -> int:
        return 1

    supervision = asyncio.create_task(stopped())
    await supervision
    reason = await asyncio.wait_for(watch(gone_platform(supervision=supervision)), 30)
    assert "has stopped" in reason


def test_an_error_is_told_in_one_line() -> None:
    assert _one_line(asyncio.CancelledError()) == "cancelled while the platform was stopping"
    assert _one_line(TimeoutError("no model.promoted event within 270 s\nmore")) == (
        "TimeoutError: no model.promoted event within 270 s"
    )
