"""Running one training in its own process and reading back what it produced.

The training process (:mod:`services.trainer.training.process`) is told its work
directory (request and dataset files inside) on stdin, reports progress as JSON lines on
stdout and leaves its result in the directory. Its stdin then stays open and unused:
when this process dies the pipe closes and the training process exits, so nothing trains
for a dead trainer. Cancelling :func:`run_training` kills the process.

Each training process runs within :class:`Limits`: its own session (process group),
which is killed whole at the job's deadline (``job_timeout_s``), and an address-space
limit (``RLIMIT_AS``, set by the process on itself before its imports) of
``job_memory_mb``. A job beyond it fails with "exceeded its memory limit of N MB": the
process reports the ``MemoryError`` itself, or dies of a signal when native code cannot
allocate, and either way the trainer takes its next job. Address space, not resident
memory, is what RLIMIT_AS counts, so the thread pools that reserve address space are
kept small: one BLAS/OpenMP thread per core share and two malloc arenas.

Starting a training process costs seconds (importing scikit-learn, skl2onnx and ONNX
Runtime), so :class:`WarmStarter` keeps the next one started ahead of need.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import structlog

from services.trainer.settings import TrainerSettings
from services.trainer.training.process import DATASET, EXTRA, REQUEST, RESULT
from shared.events.training import TrainingRequested
from shared.process_limits import ALLOCATOR_ENV, MEMORY_SIGNALS

log = structlog.get_logger(__name__)
REPO_ROOT = Path(__file__).resolve().parents[2]
Progress = Callable[[str, float], None]
Process = asyncio.subprocess.Process
# Deaths of a process under RLIMIT_AS when native code cannot allocate (the trainer only
# ever sends SIGKILL at a deadline or a cancellation, which are reported as such).
_OUT_OF_MEMORY_SIGNALS = MEMORY_SIGNALS | {signal.SIGKILL}


@dataclass(frozen=True)
class Limits:
    """What one training process may use: its share of the cores, its memory, its data."""

    concurrent_jobs: int = 1
    memory_mb: int = 3072
    max_dataset_cells: int = 20_000_000

    @classmethod
    def of(cls, settings: TrainerSettings) -> Limits:
        return cls(settings.max_workers, settings.job_memory_mb, settings.max_dataset_cells)

    def argv(self) -> list[str]:
        return ["--memory-mb", str(self.memory_mb), "--max-cells", str(self.max_dataset_cells)]

    def memory_exceeded(self, how: str) -> str:
        return (
            f"the training {how} and exceeded its memory limit of {self.memory_mb} MB "
            "(MODELBUS_TRAINER_JOB_MEMORY_MB)"
        )


def write_inputs(
    workdir: Path, request: TrainingRequested, dataset: bytes | None, extra: bytes | None
) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / REQUEST).write_bytes(request.model_dump_json(by_alias=True).encode())
    if dataset is not None:
        (workdir / DATASET).write_bytes(dataset)
    if extra is not None:
        (workdir / EXTRA).write_bytes(extra)


CREDENTIAL_PREFIXES = ("MODELBUS_", "PG")


def child_env(concurrent_jobs: int) -> dict[str, str]:
    """The training process's environment: importable sources, and a share of the cores.

    OpenMP (histogram boosting) and BLAS (MLP, linear models) start a thread per core by
    default; with several trainings at once that oversubscribes the cores, and OpenMP's
    spinning threads then slow every job down many times. Explicit settings are kept.

    No credentials: the child trains on files in its work directory and talks to nothing,
    so it gets no ``MODELBUS_*`` setting (database URL, Kafka password, audit key) and no
    libpq ``PG*`` variable. Code it runs on hostile data cannot reach the database.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(CREDENTIAL_PREFIXES)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    threads = str(max(1, (os.cpu_count() or 1) // concurrent_jobs))
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(name, threads)
    for name, value in ALLOCATOR_ENV.items():
        env.setdefault(name, value)
    return env


async def start_process(limits: Limits) -> Process:
    """A training process in a session of its own (so that its group can be killed)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.trainer.training.process",
        *limits.argv(),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env=child_env(limits.concurrent_jobs),
        start_new_session=True,
    )


async def kill(proc: Process) -> None:
    """Kill ``proc`` and whatever it started (its process group), and reap it."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    await proc.wait()


class WarmStarter:
    """Hands out training processes that already did their imports.

    Each :meth:`take` returns the process started at the previous one (or a new one) and
    starts the next, which imports while it waits for work. An idle one costs its memory.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._next: Process | None = None

    async def prepare(self) -> None:
        """Start the next process now (at service start: the first job is warm too)."""
        if self._next is None or self._next.returncode is not None:
            self._next = await start_process(self.limits)

    async def take(self) -> Process:
        process, self._next = self._next, None
        if process is None or process.returncode is not None:
            process = await start_process(self.limits)
        try:
            self._next = await start_process(self.limits)
        except BaseException:
            await kill(process)
            raise
        return process

    async def close(self) -> None:
        if self._next is not None:
            await kill(self._next)
        self._next = None


async def run_training(
    workdir: Path,
    progress: Progress,
    *,
    timeout_s: float,
    process: Process | None = None,
    limits: Limits | None = None,
) -> dict[str, Any]:
    """Train in a child process (``process``, started with ``limits``, or a new one); the
    parsed result.json, or a failure if the child crashed, ran out of memory or of time."""
    limits = limits or Limits()
    proc = (
        process
        if process is not None and process.returncode is None
        else (await start_process(limits))
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(f"{workdir}\n".encode())
        await proc.stdin.drain()
        async with asyncio.timeout(timeout_s):
            async for line in proc.stdout:
                _report(line, progress)
            code = await proc.wait()
    except TimeoutError:
        reason = (
            f"training took longer than its time limit of {timeout_s:.0f} s and was stopped "
            "(MODELBUS_TRAINER_JOB_TIMEOUT_S)"
        )
        return _failed(reason, "Timeout")
    except (BrokenPipeError, ConnectionResetError):
        code = await proc.wait()  # it died before it read its work: reported below
    finally:
        await kill(proc)  # still running only after a deadline or a cancellation
    result_file = workdir / RESULT
    if not result_file.exists() and -code in _OUT_OF_MEMORY_SIGNALS:
        how = f"process was killed by {signal.Signals(-code).name}"
        return _failed(limits.memory_exceeded(how), "MemoryLimitExceeded")
    if not result_file.exists():
        _log_output(workdir, code)
        how = (
            f"was killed by {signal.Signals(-code).name}"
            if code < 0
            else f"exited with code {code}"
        )
        return _failed(
            f"the training process {how} without a result; the trainer's log has its output",
            "WorkerCrashed",
        )
    result: dict[str, Any] = orjson.loads(result_file.read_bytes())
    if result.get("status") != "succeeded":
        _log_output(workdir, code)
    return result


def _log_output(workdir: Path, code: int) -> None:
    """The end of a failed training's stderr (a traceback), into the trainer's log: not
    into the failure reason, since a library's message may quote the data, and not left
    in the work directory, which is removed after the attempt."""
    log_file = workdir / "stderr.log"
    tail = log_file.read_bytes()[-3000:].decode("utf-8", "replace") if log_file.exists() else ""
    if tail.strip():
        log.warning("training.process_output", code=code, stderr_tail=tail)


def _report(line: bytes, progress: Progress) -> None:
    try:
        update = orjson.loads(line)
        progress(str(update["stage"]), float(update["fraction"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        progress(line.decode("utf-8", "replace").strip()[:200], -1.0)


def _failed(reason: str, error_class: str) -> dict[str, Any]:
    return {"status": "failed", "reason": reason, "error_class": error_class}
