"""Wall time of a breast_cancer training request, next to the same search in plain scikit-learn.

    ./run bench training [--repeats N]

direct: the trainer's default search for breast_cancer written as scikit-learn does it:
    one ``GridSearchCV`` per candidate (same pipelines, grids, folds, seed and scoring) on
    the same training split, the best refitted, the holdout predicted. No export, no checks.
job: ``services.trainer.training.train.train`` in this process: the same search plus the
    holdout metrics, ONNX export and parity check, permutation importance, fairness,
    reference profile and sample.
process: the job in a fresh worker process (interpreter start and imports included) fed
    through its work directory, result read back.
warm: the same in a process started one round ahead, as the trainer does
    (``MODELBUS_TRAINER_WARM_START``): its imports are done when the job arrives.
service (only when MODELBUS_DATABASE_URL and MODELBUS_KAFKA_BOOTSTRAP are set): a trainer
    running in this process; timed from publishing ``training.requested`` to reading
    ``training.completed`` off the broker (consume, queue, claim, process, artifacts, outbox).

Variants take turns for ``--repeats`` rounds (load from elsewhere then hits all alike); the
median of each is reported with its ratio to direct.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split

from services.trainer.runner import WarmStarter, run_training, write_inputs
from services.trainer.training.candidates import DEFAULT_SEARCH, build_pipeline
from services.trainer.training.datasets import load_builtin
from services.trainer.training.train import Inputs, train
from shared.events.training import DatasetSpec, TrainingRequested
from shared.logging import configure_logging

SEED = 0


def training_request() -> TrainingRequested:
    return TrainingRequested(
        request_id=uuid.uuid4().hex,
        model_name="bench-cancer",
        task="classification",
        dataset=DatasetSpec(builtin="breast_cancer"),
        seed=SEED,
    )


def direct() -> None:
    """The default search, done the way a scikit-learn user would do it by hand."""
    data = load_builtin("breast_cancer", "classification")
    X_train, X_hold, y_train, _ = train_test_split(
        data.X, data.y, test_size=0.2, random_state=SEED, stratify=data.y
    )
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=SEED)
    best_score, best = -np.inf, None
    for spec in DEFAULT_SEARCH["classification"]:
        pipeline = build_pipeline(
            spec.algorithm, "classification", seed=SEED, params={}, impute=False
        )
        grid = {f"model__{k}": v for k, v in spec.search_space.items()}
        search = GridSearchCV(pipeline, grid, scoring="roc_auc", cv=folds, refit=False)
        search.fit(X_train, y_train)
        if search.best_score_ > best_score:
            best_score, best = search.best_score_, (spec.algorithm, search.best_params_)
    assert best is not None
    params = {k.removeprefix("model__"): v for k, v in best[1].items()}
    model = build_pipeline(best[0], "classification", seed=SEED, params=params, impute=False)
    model.fit(X_train, y_train).predict_proba(X_hold)


STAGES: dict[str, list[float]] = {}


def job() -> None:
    """The job function; also records how long each of its stages took."""
    marks: list[tuple[str, float]] = []
    train(
        Inputs(training_request()),
        lambda stage, _: marks.append((stage.split(" ")[0], time.perf_counter())),
    )
    spans: dict[str, float] = {}
    for (stage, start), (_, end) in itertools.pairwise(marks):
        spans[stage] = spans.get(stage, 0.0) + end - start
    for stage, seconds in spans.items():
        STAGES.setdefault(stage, []).append(seconds)


def process() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        write_inputs(Path(tmp), training_request(), None, None)
        result = asyncio.run(run_training(Path(tmp), lambda *_: None, timeout_s=600))
        assert result["status"] == "succeeded", result


async def warm(starter: WarmStarter) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        write_inputs(Path(tmp), training_request(), None, None)
        result = await run_training(
            Path(tmp), lambda *_: None, timeout_s=600, process=await starter.take()
        )
        assert result["status"] == "succeeded", result


class ServiceVariant:
    """A trainer started once in this process; each request timed from publish to completion."""

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

        from services.trainer.bootstrap import definition
        from shared.runtime import ServiceProcess
        from shared.settings import Settings

        settings = Settings(home=Path(tempfile.mkdtemp()), http_port=0)
        self.trainer = ServiceProcess(definition(), settings)
        await self.trainer.start()
        self.consumer = AIOKafkaConsumer(
            "training.completed",
            bootstrap_servers=settings.kafka_bootstrap,
            auto_offset_reset="latest",
            enable_auto_commit=False,
        )
        self.producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        await self.consumer.start()
        await self.producer.start()
        await self.trainer.ready.wait()
        await self.consumer.getmany(timeout_ms=500)  # fixes the consumer's position at the end

    async def request(self) -> None:
        from shared.bus.kafka import send_event
        from shared.events.envelope import decode, new_event

        event = new_event(training_request(), source="bench")
        await send_event(self.producer, event)
        deadline = time.monotonic() + 600
        while not any(
            decode(r.value).data.request_id == event.data.request_id
            for records in (await self.consumer.getmany(timeout_ms=200)).values()
            for r in records
        ):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no training.completed for {event.data.request_id} in 600 s")

    async def stop(self) -> None:
        await self.producer.stop()
        await self.consumer.stop()
        await self.trainer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    configure_logging("bench", "WARNING")
    variants: dict[str, Callable[[], Any]] = {"direct": direct, "job": job, "process": process}
    # The trainer runs on its own loop in a thread, so that it keeps its consumer group
    # membership (heartbeats) while the other variants run.
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    starter = WarmStarter(1)
    asyncio.run_coroutine_threadsafe(starter.prepare(), loop).result()
    variants["warm"] = lambda: asyncio.run_coroutine_threadsafe(warm(starter), loop).result()
    service = None
    if os.environ.get("MODELBUS_DATABASE_URL") and os.environ.get("MODELBUS_KAFKA_BOOTSTRAP"):
        running = ServiceVariant()
        asyncio.run_coroutine_threadsafe(running.start(), loop).result()
        service = running
        variants["service"] = lambda: asyncio.run_coroutine_threadsafe(
            running.request(), loop
        ).result()
    direct()  # warm-up: imports and bundled data loaded once, outside the timings
    print(f"breast_cancer, default search, {args.repeats} rounds, {os.cpu_count()} cores")
    times: dict[str, list[float]] = {name: [] for name in variants}
    try:
        for _ in range(args.repeats):  # interleaved, so that load from elsewhere hits all
            for name, fn in variants.items():
                started = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - started)
    finally:
        asyncio.run_coroutine_threadsafe(starter.close(), loop).result()
        if service is not None:
            asyncio.run_coroutine_threadsafe(service.stop(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
    baseline = statistics.median(times["direct"])
    for name, runs in times.items():
        median = statistics.median(runs)
        print(
            f"  {name:<8} median {median:6.2f} s  (min {min(runs):6.2f}, "
            f"max {max(runs):6.2f})  x{median / baseline:.2f} of direct"
        )
    print(
        "  job stages (median s): "
        + ", ".join(f"{stage} {statistics.median(runs):.2f}" for stage, runs in STAGES.items())
    )
    if service is None:
        print("  (service: set MODELBUS_DATABASE_URL and MODELBUS_KAFKA_BOOTSTRAP to include it)")


if __name__ == "__main__":
    main()
