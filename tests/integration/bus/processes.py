"""Helper processes of the bus tests (a relay, a consumer) that a test can kill."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from tests.support.polling import eventually

REPO = Path(__file__).resolve().parents[3]


def spawn(module: str, log: Path, *args: str) -> subprocess.Popen[bytes]:
    """Run ``python -m tests.integration.bus.<module>`` with its output in ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", f"tests.integration.bus.{module}", *args],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


async def wait_for_line(proc: subprocess.Popen[bytes], log: Path, line: str) -> None:
    async def seen() -> bool:
        text = await asyncio.to_thread(log.read_text)
        if proc.poll() is not None:
            raise AssertionError(f"{log.name} exited with {proc.returncode}:\n{text}")
        return line in text.splitlines()

    await eventually(seen, timeout=60, what=f"{line!r} in {log.name}")


async def exit_code(proc: subprocess.Popen[bytes], timeout: float = 60) -> int:
    async def exited() -> bool:
        return proc.poll() is not None

    await eventually(exited, timeout=timeout, what=f"pid {proc.pid} exited")
    return proc.returncode


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM and wait; a process that ignores it is killed (never left behind)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
