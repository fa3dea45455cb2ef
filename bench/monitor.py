"""Monitor benchmark: ingest throughput per core and drift on 1M rows x 20 features,
next to Evidently's DataDriftPreset on the same data in the same run.

    .venv/bin/python bench/monitor.py [--rows 1000000] [--skip-evidently]

Evidently runs in its own virtual environment (created on first use under
~/.cache/modelbus/evidently-venv with ``python -m venv`` and ``pip install evidently``;
``pandas<3`` is pinned there because evidently 0.7 imports a helper pandas 3 removed), as
a subprocess reading the same arrays from .npy files; only its report computation is
timed. If it cannot be installed or run, the reason is printed and our figures still are.

What is timed on our side:
- ingest: predictions through the window-update path, one core, 20 features, in
  consumer-sized batches of 500: (a) the accumulator alone; (b) the worker's whole step
  minus SQL: stored rows (float64 bytes, JSON outputs) decoded and counted; (c) the
  consumer handler's per-event parsing of the logged tensors.
- drift: a 1M-row window counted in 64k-row batches plus every statistic of every
  feature (PSI, KS, chi-square, Jensen-Shannon, Wasserstein, Bonferroni decision). The
  reference is compiled once at registration and timed on its own.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core, as the targets are per core

import argparse  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import textwrap  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import orjson  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.monitor.analysis.accumulator import WindowAccumulator  # noqa: E402
from services.monitor.analysis.drift import evaluate  # noqa: E402
from services.monitor.analysis.monitored import Version  # noqa: E402
from services.monitor.analysis.open_window import OpenWindow, absorb  # noqa: E402
from services.monitor.analysis.reference import compile_reference  # noqa: E402
from services.monitor.analysis.tensors import feature_matrix  # noqa: E402
from services.monitor.analysis.thresholds import Thresholds  # noqa: E402
from shared.events.reference_profile import parse_reference_profile  # noqa: E402
from shared.reference_builder import build_reference_profile  # noqa: E402

FEATURES = 20
NAMES = [f"f{i}" for i in range(FEATURES)]
VENV = Path.home() / ".cache" / "modelbus" / "evidently-venv"
BATCH = 500


def population(rng: np.random.Generator, n: int, shift: bool) -> np.ndarray:
    """18 numeric features (normal, lognormal, uniform) and 2 categorical codes; with
    ``shift``, a covariate shift on f3, f7 and f18."""
    cols = []
    for i in range(18):
        kind = i % 3
        mean = 0.5 if shift and i in (3, 7) else 0.0
        if kind == 0:
            cols.append(rng.normal(mean, 1.0, n))
        elif kind == 1:
            cols.append(rng.lognormal(mean, 0.5, n))
        else:
            cols.append(rng.uniform(-1 + mean, 1 + mean, n))
    p18 = [0.1, 0.2, 0.3, 0.4] if shift else [0.4, 0.3, 0.2, 0.1]
    cols.append(rng.choice(4, n, p=p18).astype(float))
    cols.append(rng.integers(0, 5, n).astype(float))
    return np.column_stack(cols)


def timed(fn, repeat: int = 1) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def compile_ref(reference: np.ndarray) -> tuple[object, float]:
    start = time.perf_counter()
    predicted = (reference[:, 0] > 0).astype(float)  # a binary classifier's labels
    profile = build_reference_profile(
        reference, NAMES, task="classification", predictions=predicted
    )  # f18 and f19 have a few distinct codes each: categorical
    compiled = compile_reference(parse_reference_profile(profile.to_json()), reference[:5000])
    return compiled, time.perf_counter() - start


def bench_ingest(compiled: object, rng: np.random.Generator) -> dict[str, float]:
    n = 200_000
    rows = population(rng, n, shift=False)
    batches = [rows[i : i + BATCH] for i in range(0, n, BATCH)]
    latencies = rng.lognormal(1, 0.5, BATCH)

    def accumulator_only() -> None:
        acc = WindowAccumulator.open(compiled)  # type: ignore[arg-type]
        for b in batches:
            acc.add_rows(b)
            acc.add_requests(latencies[: len(b)], 0, 0)
        acc.fold()

    version = Version("bench", 1, "classification", NAMES, "y", Thresholds(), compiled)  # type: ignore[arg-type]
    now = datetime.now(UTC)
    stored = [
        [
            {
                "ok": True,
                "schema_error": None,
                "n_cols": FEATURES,
                "features": r.astype("<f8").tobytes(),
                "outputs": '{"label": [1], "probabilities": [[0.2, 0.8]]}',
                "latency_ms": 3.0,
                "event_time": now,
            }
            for r in b
        ]
        for b in batches[:100]
    ]

    def worker_step() -> None:
        window = OpenWindow(1, now, 0, WindowAccumulator.open(compiled))  # type: ignore[arg-type]
        for b in stored:
            absorb(window, version, b)
        window.acc.fold()

    events = [{"input": [r.tolist()]} for r in rows[:20_000]]

    def handler_parse() -> None:
        for inputs in events:
            matrix, _ = feature_matrix(inputs)
            assert matrix is not None
            matrix.astype("<f8").tobytes()

    return {
        "accumulator": n / timed(accumulator_only, 3),
        "worker_step": 100 * BATCH / timed(worker_step, 3),
        "handler_parse": len(events) / timed(handler_parse, 3),
    }


def bench_drift(compiled: object, current: np.ndarray) -> tuple[float, object]:
    report = None

    def run() -> None:
        nonlocal report
        acc = WindowAccumulator.open(compiled)  # type: ignore[arg-type]
        for i in range(0, len(current), 65_536):
            acc.add_rows(current[i : i + 65_536])
        report = evaluate(acc, Thresholds())

    return timed(run, 3), report


EVIDENTLY_SCRIPT = textwrap.dedent("""
    import json, sys, time, warnings
    warnings.filterwarnings("ignore")
    import numpy as np, pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset
    folder = sys.argv[1]
    names = [f"f{i}" for i in range(20)]
    ref = pd.DataFrame(np.load(f"{folder}/reference.npy"), columns=names)
    cur = pd.DataFrame(np.load(f"{folder}/current.npy"), columns=names)
    for c in ("f18", "f19"):
        ref[c] = ref[c].astype(int); cur[c] = cur[c].astype(int)
    start = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(cur, ref)
    seconds = time.perf_counter() - start
    metrics = snapshot.dict()["metrics"]
    drifted = next(m["value"]["count"] for m in metrics
                   if m["metric_name"].startswith("DriftedColumnsCount"))
    methods = sorted({str(m["config"].get("method")) for m in metrics
                      if m["metric_name"].startswith("ValueDrift")})
    print(json.dumps({"seconds": seconds, "drifted_columns": drifted, "methods": methods}))
""")


def ensure_evidently() -> Path | str:
    """The venv's python, or why it cannot be had."""
    python = VENV / "bin" / "python"
    check = [str(python), "-c", "import evidently.presets"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"installing evidently into {VENV} (first run only) ...", flush=True)
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True, text=True
        )
        subprocess.run(
            [str(VENV / "bin" / "pip"), "install", "-q", "evidently", "pandas<3"],
            check=True,
            capture_output=True,
            text=True,
            timeout=1200,
        )
    except subprocess.CalledProcessError as exc:
        return f"{' '.join(exc.cmd[:4])} failed: {(exc.stderr or exc.stdout)[-800:]}"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot install evidently: {exc}"
    probe = subprocess.run(check, capture_output=True, text=True)
    return python if probe.returncode == 0 else f"evidently does not import: {probe.stderr[-800:]}"


def run_evidently(python: Path, reference: np.ndarray, current: np.ndarray) -> dict | str:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as folder:
        np.save(f"{folder}/reference.npy", reference)
        np.save(f"{folder}/current.npy", current)
        script = Path(folder) / "evidently_drift.py"
        script.write_text(EVIDENTLY_SCRIPT)
        done = subprocess.run(
            [str(python), str(script), folder],
            capture_output=True,
            text=True,
            timeout=3600,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
    if done.returncode != 0:
        return f"evidently run failed: {done.stderr[-1500:]}"
    result: dict = orjson.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[type-arg]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reference-rows", type=int, default=100_000)
    parser.add_argument("--skip-evidently", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(42)
    reference = population(rng, args.reference_rows, shift=False)
    current = population(rng, args.rows, shift=True)
    compiled, compile_s = compile_ref(reference)

    print(
        f"monitor bench: {FEATURES} features (2 categorical), reference "
        f"{args.reference_rows:,} rows (sample 5,000), current {args.rows:,} rows"
    )
    ingest = bench_ingest(compiled, rng)
    print("ingest, one core, batches of 500 predictions x 20 features (target >= 100,000/s):")
    print(f"  window accumulator                 {ingest['accumulator']:>12,.0f} predictions/s")
    print(f"  worker step (stored rows, no SQL)  {ingest['worker_step']:>12,.0f} predictions/s")
    print(f"  handler tensor parsing (per event) {ingest['handler_parse']:>12,.0f} predictions/s")
    drift_s, report = bench_drift(compiled, current)
    top = report.top_features if report is not None else []  # type: ignore[attr-defined]
    print(f"reference compile (once per version)  {compile_s:8.3f} s")
    print(
        f"drift, {args.rows:,} x {FEATURES} (count + all statistics)  {drift_s:8.3f} s"
        f"   (target < 2 s)  drifted: {', '.join(top)}"
    )
    if args.skip_evidently:
        return 0
    python = ensure_evidently()
    if isinstance(python, str):
        print(f"evidently: not run: {python}")
        return 0
    result = run_evidently(python, reference, current)
    if isinstance(result, str):
        print(f"evidently: {result}")
        return 0
    seconds = float(result["seconds"])
    print(
        f"evidently DataDriftPreset, same data  {seconds:8.3f} s"
        f"   drifted columns: {int(result['drifted_columns'])} ({', '.join(result['methods'])})"
    )
    print(
        f"ratio evidently / ours                {seconds / drift_s:8.1f}x"
        f"   (target >= 50x; ours incl. reference compile: {seconds / (drift_s + compile_s):.1f}x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
