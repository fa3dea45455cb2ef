"""Running one validation (and measurement) in the sandbox process, from the registry.

The work directory is private (mode 0700), written before the process is given it and
removed after it ends. A process imports for a second or more before it can work, so
:meth:`Sandbox.keep_warm` (a service worker) keeps processes started ahead of need, one
per concurrent slot; each does one job and exits, so no model sees what an earlier one
left in memory. The process's environment is built from nothing: the interpreter's path,
where the sources are, one thread per math library; no ``MODELBUS_*`` setting, no
database URL, no token. It runs in a session of its own so the wall-clock deadline kills
everything it started. What it leaves in ``result.json`` becomes the outcome; an exit
without one (killed, crashed) becomes a refusal that names the limit, never its output.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson
import structlog

from services.registry.domain.refusal import Check, Refusal
from services.registry.sandbox.worker import EVAL, JOB, MODEL, OUT_OF_MEMORY, REFERENCE, RESULT
from services.registry.settings import RegistrySettings
from shared.events.common import ModelSignature, Task
from shared.events.registry import MeasuredEvidence
from shared.process_limits import ALLOCATOR_ENV, MEMORY_SIGNALS

log = structlog.get_logger(__name__)
Process = asyncio.subprocess.Process

SOURCES = Path(__file__).resolve().parents[3]
STDERR_CAP = 4096


@dataclass(frozen=True)
class Job:
    """What the sandbox process is asked to do, besides the bytes (``job.json``)."""

    task: Task
    max_bytes: int
    threads: int
    max_rows: int
    target: str | None = None
    sensitive_attribute: str | None = None
    eval_sha256: str | None = None


@dataclass(frozen=True)
class Outcome:
    signature: ModelSignature
    measured: MeasuredEvidence | None


@dataclass(frozen=True)
class Evaluation:
    """Evaluation data for one job: the CSV bytes, and reference predictions if any."""

    data: bytes
    reference: bytes | None = None


class Sandbox:
    """Runs jobs in sandbox processes, at most ``sandbox_concurrency`` at once (each may
    take up to its memory limit)."""

    def __init__(self, settings: RegistrySettings) -> None:
        self.settings = settings
        self._slots = asyncio.Semaphore(settings.sandbox_concurrency)
        self._warm: list[Process] = []
        self._taken = asyncio.Event()

    @property
    def memory_mb(self) -> int:
        return self.settings.sandbox_memory_mb

    async def keep_warm(self) -> None:
        """Keep one started process per slot until cancelled; then stop them."""
        try:
            while True:
                while len(self._warm) < self.settings.sandbox_concurrency:
                    self._warm.append(await self._start())
                self._taken.clear()
                await self._taken.wait()
        finally:
            warm, self._warm = self._warm, []
            for process in warm:
                if process.returncode is None:
                    process.kill()
            for process in warm:
                await process.wait()

    async def run(self, model: bytes, job: Job, evaluation: Evaluation | None) -> Outcome:
        """Validate ``model`` and measure it on ``evaluation``; :class:`Refusal` if the
        model fails a check or a limit."""
        async with self._slots:
            workdir = Path(tempfile.mkdtemp(prefix="modelbus-sandbox-",
                                            dir=self.settings.sandbox_dir))  # fmt: skip
            try:
                await asyncio.to_thread(_write_job, workdir, model, job, evaluation)
                return await self._run_in(workdir, await self._take())
            finally:
                await asyncio.to_thread(shutil.rmtree, workdir, True)

    async def _start(self) -> Process:
        memory = self.settings.sandbox_memory_mb * 1024 * 1024
        cpu = int(self.settings.sandbox_timeout_s) + 1
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.registry.sandbox.worker", str(memory), str(cpu),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=sandbox_env(),
            cwd="/",
            start_new_session=True,
        )  # fmt: skip

    async def _take(self) -> Process:
        while self._warm:
            process = self._warm.pop(0)
            self._taken.set()
            if process.returncode is None:
                return process
        return await self._start()

    async def _run_in(self, workdir: Path, process: Process) -> Outcome:
        timeout = self.settings.sandbox_timeout_s
        try:
            async with asyncio.timeout(timeout):
                assert process.stdin is not None
                process.stdin.write(f"{workdir}\n".encode())
                await process.stdin.drain()
                stderr = await _tail(process)
                code = await process.wait()
        except TimeoutError:
            raise Refusal.of(Check.LIMITS, f"validating the model took longer than "
                             f"{timeout:g} s, the sandbox's limit") from None  # fmt: skip
        except (BrokenPipeError, ConnectionResetError):
            stderr, code = b"", await process.wait()  # it died before its job: below
        finally:
            if process.returncode is None:
                _kill_group(process.pid)
                await process.wait()
        return self._outcome(workdir, code, stderr)

    def _outcome(self, workdir: Path, code: int, stderr: bytes) -> Outcome:
        result_file = workdir / RESULT
        result: dict[str, Any] = (
            orjson.loads(result_file.read_bytes()) if result_file.exists() else {}
        )
        status = result.get("status")
        if status == "accepted":
            measured = result.get("measured")
            return Outcome(
                ModelSignature.model_validate(result["signature"]),
                None if measured is None else MeasuredEvidence.model_validate(measured),
            )
        if status == "refused":
            raise Refusal({Check(check): why for check, why in result["failures"].items()})
        if code == OUT_OF_MEMORY or -code in MEMORY_SIGNALS or code == -signal.SIGKILL:
            raise Refusal.of(Check.LIMITS, f"validating the model exceeded the sandbox's memory "
                             f"limit of {self.memory_mb} MB")  # fmt: skip
        if code == -signal.SIGXCPU:
            raise Refusal.of(Check.LIMITS, "validating the model exceeded the sandbox's CPU "
                             f"time limit of {int(self.settings.sandbox_timeout_s) + 1} s")  # fmt: skip
        # Not the model's fault as far as anyone can tell: logged for the operator (the
        # exception's class only; the worker never prints what it read).
        log.error("sandbox.crashed", code=code, stderr=stderr.decode("utf-8", "replace")[-500:])
        raise Refusal.of(Check.LIMITS, f"the validation process failed (exit code {code})")


def sandbox_env() -> dict[str, str]:
    """The sandbox's whole environment: nothing inherited but the executable's path."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(SOURCES),
        "PYTHONDONTWRITEBYTECODE": "1",
        "LANG": "C.UTF-8",
        # One thread each: a thread's stack and malloc arena are address space too.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        **ALLOCATOR_ENV,
    }
    return env


def _write_job(workdir: Path, model: bytes, job: Job, evaluation: Evaluation | None) -> None:
    (workdir / JOB).write_bytes(orjson.dumps(asdict(job)))
    (workdir / MODEL).write_bytes(model)
    if evaluation is not None:
        (workdir / EVAL).write_bytes(evaluation.data)
        if evaluation.reference is not None:
            (workdir / REFERENCE).write_bytes(evaluation.reference)


async def _tail(process: Process) -> bytes:
    """The last :data:`STDERR_CAP` bytes of the process's stderr, read to its end (a full
    pipe would stall the process)."""
    assert process.stderr is not None
    kept = b""
    while chunk := await process.stderr.read(65536):
        kept = (kept + chunk)[-STDERR_CAP:]
    return kept


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
