"""The sandbox process: ``python -m services.registry.sandbox.worker MEMORY CPU``.

It sets its limits (``MEMORY`` bytes of address space, ``CPU`` seconds), imports what
it needs, then reads one line from stdin: the path of its work directory (so the
registry can start it ahead of need, see :mod:`.runner`). It does one job and exits; it
also exits as soon as stdin reaches end of file (the registry went away). Protocol, all
through WORKDIR:

* in: ``job.json`` (:class:`~services.registry.sandbox.runner.Job`), ``model.onnx``, and
  ``eval.csv`` / ``reference.csv`` when the job names evaluation data;
* out: ``result.json``, written last and atomically: ``{"status": "accepted",
  "signature": ..., "measured": ... | null}`` or ``{"status": "refused", "failures":
  {check: reason}}``.

Nothing read from the work files is ever written to stderr.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from shared.process_limits import cap_address_space

JOB, MODEL, EVAL, REFERENCE, RESULT = (
    "job.json",
    "model.onnx",
    "eval.csv",
    "reference.csv",
    "result.json",
)
# Exit code when the process ran out of memory (MemoryError) and said so in result.json.
OUT_OF_MEMORY = 70
# The largest file the process may write: its result.json is a few kilobytes.
MAX_FILE_BYTES = 16 * 1024 * 1024


def limit(memory_bytes: int, cpu_seconds: int) -> None:
    cap_address_space(memory_bytes)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))


def run(workdir: Path) -> dict[str, Any]:
    import orjson

    from services.registry.domain.refusal import Refusal
    from services.registry.domain.validation import load_model

    job = orjson.loads((workdir / JOB).read_bytes())
    try:
        loaded = load_model(
            (workdir / MODEL).read_bytes(), max_bytes=job["max_bytes"], threads=job["threads"]
        )
        measured = None
        if (workdir / EVAL).exists():
            from services.registry.domain.eval_table import read_csv
            from services.registry.domain.measurement import Measuring, measure

            max_rows = job["max_rows"]
            table = read_csv((workdir / EVAL).read_bytes(), what="evaluation data",
                             max_rows=max_rows)  # fmt: skip
            reference = None
            if (workdir / REFERENCE).exists():
                data = (workdir / REFERENCE).read_bytes()
                reference = read_csv(data, what="reference predictions", max_rows=max_rows)
            how = Measuring(job["task"], job["target"], job.get("sensitive_attribute"))
            measured = measure(loaded.session, loaded.signature, table, how,
                               reference=reference, dataset_sha256=job.get("eval_sha256"))  # fmt: skip
    except Refusal as refusal:
        return {"status": "refused", "failures": {c.value: r for c, r in refusal.failures.items()}}
    return {
        "status": "accepted",
        "signature": loaded.signature.model_dump(mode="json"),
        "measured": None if measured is None else measured.model_dump(mode="json"),
    }


def _write_result(workdir: Path, result: dict[str, Any]) -> None:
    import orjson

    tmp = workdir / f".{RESULT}.tmp"
    tmp.write_bytes(orjson.dumps(result))
    os.replace(tmp, workdir / RESULT)


def _exit_when_parent_dies() -> None:
    sys.stdin.buffer.read()
    os._exit(3)


def _preload() -> None:
    """Everything a job imports, imported while the process waits for its job."""
    import onnxruntime  # noqa: F401

    import services.registry.domain.measurement
    import services.registry.domain.validation  # noqa: F401


def main(argv: list[str]) -> int:
    limit(int(argv[1]), int(argv[2]))
    _preload()
    # Whatever a model names relative to the working directory, there is nothing there: the
    # directory is removed as soon as the process stands in it, so nothing can be made in it
    # and nothing is left behind, however the process ends (SIGKILL at a limit included).
    empty = tempfile.mkdtemp(prefix="modelbus-sandbox-cwd-")
    os.chdir(empty)
    os.rmdir(empty)
    return _serve_one()


def _serve_one() -> int:
    line = sys.stdin.buffer.readline().strip()
    if not line:
        return 3  # the registry went away before it had a job for this process
    workdir = Path(line.decode())
    threading.Thread(target=_exit_when_parent_dies, daemon=True).start()
    try:
        result = run(workdir)
    except MemoryError:
        _write_result(workdir, {"status": "out_of_memory"})
        return OUT_OF_MEMORY
    except Exception as exc:  # a bug or a library failure: say which, never what was read
        from services.registry.domain.validation import out_of_memory

        if out_of_memory(exc):
            _write_result(workdir, {"status": "out_of_memory"})
            return OUT_OF_MEMORY
        print(f"sandbox failed: {type(exc).__name__}", file=sys.stderr)
        return 1
    _write_result(workdir, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
