"""What the per-window detectors beyond the features cost: the data window's step with the
PCA reconstruction error and the performance estimate (CBPE), against the same step
without them, in the same run on the same rows.

    .venv/bin/python bench/analysis.py [--windows 20] [--window-rows 1000]

Timed, on one core: stored prediction rows (float64 features, JSON outputs with the label
and class probabilities) absorbed in batches of 500 into a data window, then the window
closed (data quality, every per-feature statistic, the drift decision; with the new
detectors also the multivariate test and the estimates). 20 features, a reference sample
of 5,000 rows, a binary classifier's holdout of 2,000 rows. Compiling the reference (PCA
fitted by five folds, isotonic calibration checked on ten splits) happens once per version
and is timed on its own. Printed: rows per second each way and their ratio.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import orjson  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.monitor.analysis import estimation  # noqa: E402
from services.monitor.analysis.drift import evaluate  # noqa: E402
from services.monitor.analysis.monitored import Version  # noqa: E402
from services.monitor.analysis.multivariate import fit_reconstruction  # noqa: E402
from services.monitor.analysis.open_window import absorb, fresh  # noqa: E402
from services.monitor.analysis.reference import CompiledReference, compile_reference  # noqa: E402
from services.monitor.analysis.thresholds import Thresholds  # noqa: E402
from shared.reference_builder import build_reference_profile, holdout_scores  # noqa: E402

FEATURES = 20
BATCH = 500
NAMES = [f"f{i}" for i in range(FEATURES)]


def _scores(rows: np.ndarray) -> np.ndarray:
    p = 1 / (1 + np.exp(-(rows[:, 0] + rows[:, 1] - rows[:, 2])))
    return np.column_stack([1 - p, p])


def _stored(rng: np.random.Generator, n: int) -> list[dict[str, Any]]:
    rows = rng.normal(size=(n, FEATURES))
    scores = _scores(rows)
    now = datetime.now(UTC)
    return [
        {
            "ok": True,
            "schema_error": None,
            "n_rows": 1,
            "n_cols": FEATURES,
            "features": row.astype("<f8").tobytes(),
            "outputs": orjson.dumps(
                {"label": [int(s.argmax())], "probabilities": [s.tolist()]}
            ).decode(),
            "latency_ms": 2.0,
            "event_time": now,
        }
        for row, s in zip(rows, scores, strict=True)
    ]


def _version(reference: CompiledReference, t: Thresholds) -> Version:
    return Version("bench", 1, "classification", NAMES, "y", t, reference)


def _step(version: Version, windows: list[list[dict[str, Any]]]) -> Callable[[], None]:
    def run() -> None:
        for rows in windows:
            window = fresh(1, datetime.now(UTC), version)
            for lo in range(0, len(rows), BATCH):
                absorb(window, version, rows[lo : lo + BATCH])
            window.acc.quality()
            evaluate(window.acc, version.thresholds)
            ref = version.reference
            if ref is not None and ref.estimator is not None and window.acc.estimate is not None:
                estimation.judge(ref.estimator, window.acc.estimate, version.thresholds)

    return run


def _best_of(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--windows", type=int, default=20)
    parser.add_argument("--window-rows", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    reference_rows = rng.normal(size=(20_000, FEATURES))
    holdout_rows = rng.normal(size=(2000, FEATURES))
    scores = _scores(holdout_rows)
    truth = (rng.random(2000) < scores[:, 1]).astype(int)
    holdout = holdout_scores(scores, scores.argmax(axis=1), truth, [0, 1])
    profile = build_reference_profile(reference_rows, NAMES, task="classification", holdout=holdout)
    sample = reference_rows[:5000]

    compile_s = _best_of(lambda: compile_reference(profile, sample), args.repeats)
    full = compile_reference(profile, sample)
    plain = dataclasses.replace(full, reconstruction=None, estimator=None)
    pca_s = _best_of(lambda: fit_reconstruction(sample, full.features), args.repeats)
    calibration_s = _best_of(lambda: estimation.compile_estimator(holdout), args.repeats)
    t = Thresholds(window_size=args.window_rows, min_rows=100)
    windows = [_stored(rng, args.window_rows) for _ in range(args.windows)]
    rows = args.windows * args.window_rows

    # Interleaved, best of each: the machine's other load hits both alike.
    base, new = _step(_version(plain, t), windows), _step(_version(full, t), windows)
    base_s = new_s = float("inf")
    for _ in range(args.repeats):
        base_s = min(base_s, _best_of(base, 1))
        new_s = min(new_s, _best_of(new, 1))
    print(
        f"data window step, {args.windows} windows of {args.window_rows} rows,"
        f" {FEATURES} features, one core"
    )
    print(f"  features only (before)              {rows / base_s:>12,.0f} rows/s")
    print(f"  + multivariate + estimates (now)    {rows / new_s:>12,.0f} rows/s")
    print(f"  ratio now / before (time)           {new_s / base_s:>12.2f}")
    print(
        f"  added per closed window             {(new_s - base_s) / args.windows * 1e3:>12.2f} ms"
    )
    print("compiling a version's reference, once per version and process")
    print(f"  whole reference                     {compile_s * 1e3:>12.1f} ms")
    print(f"  of which the PCA (five folds)       {pca_s * 1e3:>12.1f} ms")
    print(f"  of which the calibration            {calibration_s * 1e3:>12.1f} ms")


if __name__ == "__main__":
    main()
