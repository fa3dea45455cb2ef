"""The limits a training process runs under: its memory, its deadline, its process group."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import psutil
import pytest

from services.trainer.runner import Limits, run_training
from services.trainer.training import process
from tests.support.polling import eventually


async def stand_in(code: str, *, first: str = "") -> asyncio.subprocess.Process:
    """A process in the training process's place: runs ``first``, reads its work line,
    then runs ``code``."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        f"import os, sys, time, subprocess\n{first}\nsys.stdin.readline()\n{code}",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        start_new_session=True,
    )


@pytest.mark.parametrize("death", ["os.abort()", "os.kill(os.getpid(), 9)"])
async def test_a_process_killed_by_a_signal_failed_for_its_memory_limit(
    tmp_path: Path, death: str
) -> None:
    proc = await stand_in(death)
    result = await run_training(
        tmp_path, lambda *_: None, timeout_s=60, process=proc, limits=Limits(memory_mb=700)
    )
    assert result["error_class"] == "MemoryLimitExceeded"
    assert (
        "exceeded its memory limit of 700 MB (MODELBUS_TRAINER_JOB_MEMORY_MB)" in result["reason"]
    )


async def test_a_crash_says_how_never_what_it_printed(tmp_path: Path) -> None:
    (tmp_path / "stderr.log").write_text("ValueError: could not convert 'hunter2'\n")
    proc = await stand_in("sys.exit(7)")
    result = await run_training(tmp_path, lambda *_: None, timeout_s=60, process=proc)
    assert result["error_class"] == "WorkerCrashed"
    assert "exited with code 7" in result["reason"] and "hunter2" not in result["reason"]


async def test_at_the_deadline_the_whole_process_group_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    proc = await stand_in(
        "time.sleep(300)",
        first="child = subprocess.Popen(['sleep', '300'])\n"
        f"open({str(pid_file)!r} + '.tmp', 'w').write(str(child.pid))\n"
        f"os.replace({str(pid_file)!r} + '.tmp', {str(pid_file)!r})",
    )

    async def started() -> bool:
        return pid_file.exists()

    await eventually(started, timeout=60, what="the grandchild started")
    grandchild = int(pid_file.read_text())
    result = await run_training(tmp_path, lambda *_: None, timeout_s=1, process=proc)
    assert result["error_class"] == "Timeout"
    assert "time limit of 1 s" in result["reason"] and "JOB_TIMEOUT_S" in result["reason"]
    assert proc.returncode is not None

    async def gone() -> bool:
        try:
            return psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    await eventually(gone, timeout=30, what="the grandchild killed")


def test_a_memory_error_in_the_training_is_the_memory_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.trainer.training import train

    def hungry(*_: object) -> None:
        raise MemoryError()

    monkeypatch.setattr(train, "train", hungry)
    (tmp_path / process.REQUEST).write_text(
        '{"request_id": "r", "model_name": "m", "task": "classification",'
        ' "dataset": {"builtin": "iris"}}'
    )
    result = process.run(tmp_path, memory_mb=1234)
    assert result["error_class"] == "MemoryLimitExceeded"
    assert "exceeded its memory limit of 1234 MB" in result["reason"]
