"""The worker process: ``python -m services.trainer.training.process``.

It limits its own address space first (``--memory-mb``, RLIMIT_AS: the imports count
too, and no later code can raise it again), imports everything it needs, then reads one line from stdin: the path of its
work directory (so a trainer can start it ahead of need, see :mod:`services.trainer.runner`).
Protocol with the trainer service, all through WORKDIR:

* in: ``request.json`` (the TrainingRequested payload), ``dataset`` and ``extra.csv``
  when the request names files (the service fetched them and verified their digests);
* out: ``result.json`` ``{"status": "succeeded", "summary": {...}}`` with ``model.onnx``,
  ``profile.json``, ``importance.json``, ``reference_sample.csv``; or ``{"status":
  "failed", "reason": ..., "error_class": ...}``. Written last, atomically: a result
  file that exists is complete;
* progress: one JSON line per step on stdout, ``{"stage": ..., "fraction": 0..1}``;
  stderr goes to ``WORKDIR/stderr.log``;
* limits, on the command line: ``--memory-mb`` (a ``MemoryError`` fails the job with
  "exceeded its memory limit"), ``--max-cells`` (the rows x columns a dataset file may
  have; reading stops beyond).

The process exits as soon as its stdin reaches end of file, which happens when the
service that started it dies (even by SIGKILL): an orphaned training would burn CPU for
a result nobody can claim.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import traceback
import warnings
from pathlib import Path
from typing import Any

import orjson

from shared.process_limits import cap_address_space

REQUEST, DATASET, EXTRA, RESULT = "request.json", "dataset", "extra.csv", "result.json"
ARTIFACTS = {
    "model": "model.onnx",
    "profile": "profile.json",
    "importance": "importance.json",
    "reference_sample": "reference_sample.csv",
}


def _exit_when_parent_dies() -> None:
    sys.stdin.buffer.read()
    os._exit(3)


def _progress(stage: str, fraction: float) -> None:
    sys.stdout.buffer.write(orjson.dumps({"stage": stage, "fraction": round(fraction, 3)}) + b"\n")
    sys.stdout.flush()


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def limit_memory(megabytes: int) -> None:
    """Cap this process's address space (soft and hard: it cannot be raised again)."""
    cap_address_space(megabytes * 1024 * 1024)


def run(
    workdir: Path, *, memory_mb: int | None = None, max_cells: int | None = None
) -> dict[str, Any]:
    """Train from WORKDIR's inputs, write the outputs; return what went into result.json.
    ``memory_mb`` is the limit this process runs under (for the message if it is hit)."""
    from services.trainer.training.errors import TrainingRejected
    from services.trainer.training.train import Inputs, train
    from shared.events.training import TrainingRequested

    # Written before the training: a process at its memory limit may not build it after.
    limit = f" of {memory_mb} MB" if memory_mb is not None else ""
    out_of_memory: dict[str, Any] = {
        "status": "failed",
        "reason": f"the training ran out of memory: it exceeded its memory limit{limit}"
        " (MODELBUS_TRAINER_JOB_MEMORY_MB)",
        "error_class": "MemoryLimitExceeded",
    }
    result = out_of_memory
    try:
        request = TrainingRequested.model_validate_json((workdir / REQUEST).read_bytes())
        inputs = Inputs(
            request,
            dataset_path=workdir / DATASET if (workdir / DATASET).exists() else None,
            extra_path=workdir / EXTRA if (workdir / EXTRA).exists() else None,
            max_cells=max_cells,
        )
        outputs = train(inputs, _progress)
    except MemoryError:
        # Nothing printed, nothing kept: leaving this block frees the frames that hold what
        # the training had allocated, before the result is written.
        pass
    except TrainingRejected as exc:
        result = {
            "status": "failed",
            "reason": str(exc),
            "error_class": type(exc).__name__,
        }
    except Exception as exc:  # a bug or a library failure: the job fails, with the evidence
        traceback.print_exc()  # the trainer's log; a library's message may quote the data
        result = {
            "status": "failed",
            "reason": f"training crashed ({type(exc).__name__}); the trainer's log has the details",
            "error_class": type(exc).__name__,
        }
    else:
        for field, name in ARTIFACTS.items():
            _write_atomically(workdir / name, getattr(outputs, field))
        result = {"status": "succeeded", "summary": outputs.summary}
    _write_atomically(workdir / RESULT, orjson.dumps(result))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="services.trainer.training.process")
    parser.add_argument("--memory-mb", type=int, default=None)
    parser.add_argument("--max-cells", type=int, default=None)
    args = parser.parse_args(argv)
    if args.memory_mb is not None:
        limit_memory(args.memory_mb)

    from sklearn.exceptions import ConvergenceWarning

    import services.trainer.training.train  # noqa: F401  # the seconds of imports, done now

    # An MLP that stops at max_iter is a legitimate (if weaker) candidate, not news.
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    line = sys.stdin.buffer.readline().strip()
    if not line:
        return 3  # the trainer went away before it had work for this process
    workdir = Path(line.decode())
    log = os.open(workdir / "stderr.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 2)
    os.close(log)
    threading.Thread(target=_exit_when_parent_dies, daemon=True).start()
    run(workdir, memory_mb=args.memory_mb, max_cells=args.max_cells)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Not a normal interpreter exit: the thread blocked reading stdin would make its
    # finalisation abort the process (SIGABRT) after the result was written.
    os._exit(code)
