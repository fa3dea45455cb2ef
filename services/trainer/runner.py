"""Running one training in its own process and reading back what it produced.

The training process (:mod:`services.trainer.training.process`) is told its work
directory (request and dataset files inside) on stdin, reports progress as JSON lines on
stdout and leaves its result in the directory. Its stdin then stays open and unused:
when this process dies the pipe closes and the training process exits, so nothing trains
for a dead trainer. Cancelling :func:`run_training` kills the process.

Starting a training process costs seconds (importing scikit-learn, skl2onnx and ONNX
Runtime), so :class:`WarmStarter` keeps the next one started ahead of need.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from services.trainer.training.process import DATASET, EXTRA, REQUEST, RESULT
from shared.events.training import TrainingRequested

REPO_ROOT = Path(__file__).resolve().parents[2]
Progress = Callable[[str, float], None]
Process = asyncio.subprocess.Process


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
    return env


async def start_process(concurrent_jobs: int) -> Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.trainer.training.process",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        env=child_env(concurrent_jobs),
    )


class WarmStarter:
    """Hands out training processes that already did their imports.

    Each :meth:`take` returns the process started at the previous one (or a new one) and
    starts the next, which imports while it waits for work. An idle one costs its memory.
    """

    def __init__(self, concurrent_jobs: int) -> None:
        self.concurrent_jobs = concurrent_jobs
        self._next: Process | None = None

    async def prepare(self) -> None:
        """Start the next process now (at service start: the first job is warm too)."""
        if self._next is None or self._next.returncode is not None:
            self._next = await start_process(self.concurrent_jobs)

    async def take(self) -> Process:
        process, self._next = self._next, None
        if process is None or process.returncode is not None:
            process = await start_process(self.concurrent_jobs)
        try:
            self._next = await start_process(self.concurrent_jobs)
        except BaseException:
            process.kill()
            raise
        return process

    async def close(self) -> None:
        if self._next is not None and self._next.returncode is None:
            self._next.kill()
            await self._next.wait()
        self._next = None


async def run_training(
    workdir: Path,
    progress: Progress,
    *,
    timeout_s: float,
    process: Process | None = None,
    concurrent_jobs: int = 1,
) -> dict[str, Any]:
    """Train in a child process (``process``, or a new one); the parsed result.json, or a
    failure if the child crashed or ran out of time."""
    proc = (
        process
        if process is not None and process.returncode is None
        else (await start_process(concurrent_jobs))
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
        return _failed(f"training took longer than {timeout_s:.0f} s and was stopped", "Timeout")
    except (BrokenPipeError, ConnectionResetError):
        code = await proc.wait()  # it died before it read its work: reported below
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    result_file = workdir / RESULT
    if not result_file.exists():
        log_file = workdir / "stderr.log"
        tail = log_file.read_bytes()[-1500:].decode("utf-8", "replace") if log_file.exists() else ""
        return _failed(
            f"the training process exited with code {code}: {tail}".strip(), "WorkerCrashed"
        )
    return orjson.loads(result_file.read_bytes())  # type: ignore[no-any-return]


def _report(line: bytes, progress: Progress) -> None:
    try:
        update = orjson.loads(line)
        progress(str(update["stage"]), float(update["fraction"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        progress(line.decode("utf-8", "replace").strip()[:200], -1.0)


def _failed(reason: str, error_class: str) -> dict[str, Any]:
    return {"status": "failed", "reason": reason, "error_class": error_class}
