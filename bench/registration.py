"""Registering a model with evaluation data in the sandbox, next to raw ONNX Runtime
running the same model on the same rows in this process.

    ./run bench registration [--rows N] [--repeats N]

The model is logistic regression on breast_cancer (30 FP32 features), exported with
skl2onnx; the evaluation data is its holdout, tiled to ``--rows`` rows, with the
scikit-learn predictions as reference.

raw: ``onnxruntime.InferenceSession`` on the bytes, then one run over all rows, here.
measure: the sandbox's work without the sandbox: validation (parse, full checker,
    domains, session), CSV parsing, batched runs, metrics, fairness, parity; in this process.
cold: :class:`Sandbox` with no process started ahead: interpreter start and imports
    included, then the job, the result read back.
warm: the same with a process started ahead of need, as the registry runs it
    (:meth:`Sandbox.keep_warm`); timed from the job being handed over.

Variants take turns for ``--repeats`` rounds (load from elsewhere hits all alike); the
median of each is reported with its ratio to raw.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable

import numpy as np
import onnxruntime
from skl2onnx import to_onnx
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from services.registry.domain.eval_table import read_csv
from services.registry.domain.measurement import Measuring, measure
from services.registry.domain.validation import load_model
from services.registry.sandbox.runner import Evaluation, Job, Sandbox
from services.registry.settings import RegistrySettings

LIMIT = 512 * 1024 * 1024


def fixture(rows: int) -> tuple[bytes, np.ndarray, bytes, bytes]:
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X.astype(np.float32), y, test_size=0.2, random_state=0
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X_train, y_train)
    onnx = to_onnx(model, X_train[:1], options={id(model): {"zipmap": False}}, target_opset=17)
    reps = -(-rows // len(X_test))
    X_eval, y_eval = np.tile(X_test, (reps, 1))[:rows], np.tile(y_test, reps)[:rows]
    predicted = model.predict(X_eval)
    header = ",".join([*(f"f{i}" for i in range(X.shape[1])), "y"])
    lines = [header, *(",".join([*(f"{float(v):.9g}" for v in x), str(int(t))])
                       for x, t in zip(X_eval, y_eval, strict=True))]  # fmt: skip
    reference = "\n".join(["prediction", *(str(int(p)) for p in predicted)])
    return onnx.SerializeToString(), X_eval, "\n".join(lines).encode(), reference.encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    model, X, data, reference = fixture(args.rows)
    job = Job(task="classification", max_bytes=LIMIT, threads=1, max_rows=10**7, target="y")
    evaluation = Evaluation(data, reference)

    async def raw() -> None:
        session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
        session.run(None, {"X": X})

    async def measured_here() -> None:
        loaded = load_model(model, max_bytes=LIMIT)
        measure(loaded.session, loaded.signature, read_csv(data, what="d", max_rows=10**7),
                Measuring("classification", "y"),
                reference=read_csv(reference, what="r", max_rows=10**7))  # fmt: skip

    async def run() -> None:
        cold = Sandbox(RegistrySettings())
        warm = Sandbox(RegistrySettings(sandbox_concurrency=1))
        keeper = asyncio.create_task(warm.keep_warm())

        async def cold_run() -> None:
            await cold.run(model, job, evaluation)

        async def warm_run() -> None:
            await warm.run(model, job, evaluation)

        variants: dict[str, Callable[[], Awaitable[None]]] = {
            "raw": raw, "measure": measured_here, "cold": cold_run, "warm": warm_run,
        }  # fmt: skip
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.repeats):
            for name, variant in variants.items():
                if name == "warm":
                    await asyncio.sleep(5)  # the next process is started and has imported
                start = time.perf_counter()
                await variant()
                times[name].append(time.perf_counter() - start)
        keeper.cancel()
        await asyncio.gather(keeper, return_exceptions=True)
        base = statistics.median(times["raw"])
        print(f"{args.rows} rows x 30 features, {args.repeats} rounds, {os.cpu_count()} cores")
        for name, found in times.items():
            median = statistics.median(found)
            print(f"  {name:8s} median {median * 1000:9.1f} ms   {median / base:7.1f}x raw")

    asyncio.run(run())


if __name__ == "__main__":
    main()
