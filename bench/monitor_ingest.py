"""How fast the monitor service drains ``predictions.logged``, next to raw aiokafka, in one run.

    ./run bench monitor_ingest [--events N] [--models K] [--features F] [--replicas R]
                               [--profile DIR]

1. Starts Postgres and a broker (Apache Kafka via deploy/kafka when Java and Maven exist,
   else Tansu) unless MODELBUS_DATABASE_URL / MODELBUS_KAFKA_BOOTSTRAP are set, and a file
   artifact store of its own.
2. Registers K models with a reference profile (``model.registered``, as the registry
   emits it) and runs the monitor once until it has recorded them.
3. Produces N ``predictions.logged`` events (F features, the project's own encoder) with
   the monitor stopped.
4. Starts R monitor processes (``modelbus service monitor``) and times, from the moment
   the first is ready, until their ``/metrics`` say every prediction was applied
   (``modelbus_events_consumed_total``). Then checks in Postgres that each prediction was
   stored once and counted once by a window (counts in windows, closed or open).
5. An ``AIOKafkaConsumer`` in a fresh group reads the same N records from the beginning
   (committing after every fetch), timed from its assignment to the last record.

Prints both rates and the ratio. ``--profile DIR`` runs each monitor under cProfile and
writes ``DIR/monitor-<r>.prof``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import numpy as np
import psutil
from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import murmur2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bus import infrastructure  # noqa: E402
from modelbus.embedded import pick_free_port  # noqa: E402
from shared.bus.kafka import ensure_topics, start_producer  # noqa: E402
from shared.events.common import (  # noqa: E402
    ArtifactRef,
    ModelMetadata,
    ModelSignature,
    TensorSpec,
)
from shared.events.deployment import PredictionLogged  # noqa: E402
from shared.events.envelope import CONTENT_TYPE, encode, new_event  # noqa: E402
from shared.events.registry import ModelRegistered  # noqa: E402
from shared.events.topics import TOPICS  # noqa: E402
from shared.reference_builder import build_reference_profile  # noqa: E402
from shared.settings import Settings  # noqa: E402
from shared.store.artifacts import open_store  # noqa: E402

TOPIC = TOPICS["predictions.logged"]
THRESHOLDS = {"window_size": 1000, "min_rows": 100, "window_seconds": 3600}


async def register(settings: Settings, models: list[str], features: int) -> list[bytes]:
    """Encoded ``model.registered`` events, profiles in the bench's artifact store."""
    rng = np.random.default_rng(0)
    store = await open_store(settings.artifact_store_url())
    names = [f"f{i}" for i in range(features)]
    values = []
    for model in models:
        profile = build_reference_profile(
            rng.normal(size=(5000, features)), names, task="classification", target_name="y"
        )
        ref = await store.put(profile.to_json(), "application/json")
        payload = ModelRegistered(
            model_name=model,
            version=1,
            artifact=ArtifactRef(uri="file:///nowhere/model.onnx", sha256="0" * 64, size=1),
            task="classification",
            signature=ModelSignature(
                inputs=[TensorSpec(name="input", datatype="FP32", shape=[-1, features])],
                outputs=[TensorSpec(name="label", datatype="INT64", shape=[-1])],
            ),
            source="trainer",
            metrics={"accuracy": 0.9},
            params={"feature_names": names, "target": "y"},
            metadata=ModelMetadata(monitor_thresholds=THRESHOLDS),
            reference_profile=ref,
        )
        values.append(encode(new_event(payload, source="bench")))
    return values


def spread_models(k: int, partitions: int) -> list[str]:
    """``k`` model names whose keys spread over the partitions as evenly as ``k`` allows
    (the default partitioner: murmur2 of the key). Names taken in order pile up on some
    partitions (bench-0..11 put 5 of 12 models on one of 6), and then a second replica
    can never take more than what the other partitions hold."""
    per = -(-k // partitions)
    taken: dict[int, int] = {}
    names: list[str] = []
    i = 0
    while len(names) < k:
        name = f"bench-{i}"
        i += 1
        p = (murmur2(name.encode()) & 0x7FFFFFFF) % partitions
        if taken.get(p, 0) < per:
            taken[p] = taken.get(p, 0) + 1
            names.append(name)
    return names


def predictions(n: int, models: list[str], features: int) -> list[tuple[bytes, bytes]]:
    rng = np.random.default_rng(1)
    rows = np.round(rng.normal(size=(n, features)), 6)
    now = datetime.now(UTC).isoformat()
    out = []
    for i in range(n):
        model = models[i % len(models)]
        label = int(rows[i, 0] > 0)
        payload = PredictionLogged(
            request_id=uuid.uuid4().hex,
            model_name=model,
            version=1,
            arm="stable",
            time=now,
            inputs={"input": [rows[i].tolist()]},
            outputs={"label": [label], "probabilities": [[0.3, 0.7] if label else [0.8, 0.2]]},
            latency_ms=3.2,
            status="ok",
        )
        out.append((model.encode(), encode(new_event(payload, source="bench"))))
    return out


async def produce(settings: Settings, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = await start_producer(settings)
    headers = [("content-type", CONTENT_TYPE.encode())]
    try:
        for first in range(0, len(records), 10_000):
            sent = [
                await producer.send(topic, v, key=k, headers=headers)
                for k, v in records[first : first + 10_000]
            ]
            await asyncio.gather(*sent)
    finally:
        await producer.stop()


class Monitors:
    """R monitor processes on free ports, read through their ``/metrics``."""

    def __init__(self, env: dict[str, str], replicas: int, profile: Path | None) -> None:
        self.ports = [pick_free_port() for _ in range(replicas)]
        self.procs: list[subprocess.Popen[bytes]] = []
        for r, port in enumerate(self.ports):
            command = [sys.executable]
            if profile is not None:
                command += ["-m", "cProfile", "-o", str(profile / f"monitor-{r + 1}.prof")]
            command += ["-m", "modelbus", "service", "monitor"]
            self.procs.append(
                subprocess.Popen(
                    command,
                    env={**env, "MODELBUS_HTTP_PORT": str(port)},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )

    async def any_ready(self, client: httpx.AsyncClient) -> bool:
        for port in self.ports:
            try:
                if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
        return False

    async def consumed(self, client: httpx.AsyncClient) -> int:
        total = 0
        wanted = 'modelbus_events_consumed_total{service="monitor",topic="predictions.logged"}'
        for port in self.ports:
            try:
                text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
            except httpx.HTTPError:
                continue
            for line in text.splitlines():
                if line.startswith(wanted):
                    total += int(float(line.rsplit(" ", 1)[1]))
        return total

    def cpu_seconds(self) -> float:
        """User and system CPU the monitor processes have used so far."""
        total = 0.0
        for proc in self.procs:
            with contextlib.suppress(psutil.Error):
                times = psutil.Process(proc.pid).cpu_times()
                total += times.user + times.system
        return total

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()


async def until(probe: Any, what: str, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while not await probe():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout}s")
        await asyncio.sleep(0.1)


async def monitor_run(
    settings: Settings, env: dict[str, str], n: int, replicas: int, profile: Path | None
) -> tuple[float, float]:
    """Seconds from the first monitor being ready until all ``n`` predictions are applied,
    and the CPU seconds the monitors used meanwhile (steadier than the wall time on a
    shared machine)."""
    monitors = Monitors(env, replicas, profile)
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            await until(lambda: monitors.any_ready(client), "a monitor ready", 120)
            started, cpu = time.perf_counter(), monitors.cpu_seconds()

            async def done() -> bool:
                return await monitors.consumed(client) >= n

            await until(done, f"{n} predictions applied")
            return time.perf_counter() - started, monitors.cpu_seconds() - cpu
    finally:
        monitors.stop()


async def raw_run(settings: Settings, n: int) -> float:
    consumer = AIOKafkaConsumer(
        TOPIC.name,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=f"bench-raw-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    try:
        await until(lambda: _assigned(consumer), "raw consumer assignment", 60)
        started, received = time.perf_counter(), 0
        while received < n:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            received += sum(len(b) for b in batches.values())
            if batches:
                await consumer.commit()
        return time.perf_counter() - started
    finally:
        await consumer.stop()


async def _assigned(consumer: AIOKafkaConsumer) -> bool:
    return bool(consumer.assignment())


async def exactly_once(settings: Settings, n: int) -> tuple[int, int]:
    """(stored predictions, predictions counted by windows) in the monitor's schema."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        stored = await conn.fetchval("SELECT count(*) FROM monitor.predictions")
        counted = await conn.fetchval(
            "SELECT coalesce(sum(count), 0) FROM monitor.windows WHERE kind = 'data'"
        )
        return int(stored), int(counted)
    finally:
        await conn.close()


async def versions_recorded(settings: Settings, k: int) -> bool:
    try:
        conn = await asyncpg.connect(settings.database_url)
    except OSError:
        return False
    try:
        return bool(await conn.fetchval("SELECT count(*) >= $1 FROM monitor.versions", k))
    except asyncpg.UndefinedTableError:
        return False
    finally:
        await conn.close()


async def bench(settings: Settings, env: dict[str, str], kind: str, args: Any) -> None:
    await ensure_topics(settings)
    models = spread_models(args.models, TOPIC.partitions)
    # The registrations, recorded by one monitor run before any prediction is produced.
    await produce(
        settings,
        "model.registered",
        [(m.encode(), v) for m, v in zip(models, await register(settings, models, args.features), strict=True)],
    )  # fmt: skip
    first = Monitors(env, 1, None)
    try:
        await until(lambda: versions_recorded(settings, len(models)), "versions recorded", 180)
    finally:
        first.stop()
    records = predictions(args.events, models, args.features)
    size = sum(len(v) for _, v in records) / len(records)
    print(
        f"broker {kind}; {args.events} predictions.logged events of ~{size:.0f} bytes "
        f"({args.features} features), {args.models} models over {TOPIC.partitions} partitions, "
        f"{args.replicas} monitor process(es)"
    )
    started = time.perf_counter()
    await produce(settings, TOPIC.name, records)
    print(f"  produced in {time.perf_counter() - started:.1f} s")
    monitor_s, cpu_s = await monitor_run(settings, env, args.events, args.replicas, args.profile)
    stored, counted = await exactly_once(settings, args.events)
    raw_s = await raw_run(settings, args.events)
    monitor_rate, raw_rate = args.events / monitor_s, args.events / raw_s
    print(f"  stored once: {stored} of {args.events}; counted by windows: {counted}")
    print(f"raw aiokafka consume              {raw_rate:9.0f} events/s ({raw_s:.1f} s)")
    print(
        f"monitor x{args.replicas} (decode, fold, COPY)  {monitor_rate:9.0f} predictions/s "
        f"({monitor_s:.1f} s), {monitor_rate / args.replicas:.0f} per process"
    )
    print(f"  monitor CPU: {cpu_s / args.events * 1e6:.1f} µs per prediction ({cpu_s:.1f} s)")
    print(f"ratio monitor/raw: {monitor_rate / raw_rate:.3f}")
    if stored != args.events or counted != args.events:
        raise SystemExit("exactly once violated: see the counts above")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--models", type=int, default=12)
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--profile", type=Path, default=None, help="write cProfile output here")
    args = parser.parse_args()
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    with (
        tempfile.TemporaryDirectory(prefix="modelbus-bench-") as tmp,
        infrastructure(Path(tmp)) as (url, bootstrap, kind),
    ):
        store = (Path(tmp) / "artifacts").as_uri()
        env = {
            **os.environ,
            "MODELBUS_DATABASE_URL": url,
            "MODELBUS_KAFKA_BOOTSTRAP": bootstrap,
            "MODELBUS_ARTIFACT_STORE": store,
            "MODELBUS_HOME": str(Path(tmp) / "home"),
            "MODELBUS_LOG_LEVEL": "warning",
        }
        settings = Settings().model_copy(
            update={"database_url": url, "kafka_bootstrap": bootstrap, "artifact_store": store}
        )
        asyncio.run(bench(settings, env, kind, args))


if __name__ == "__main__":
    main()
