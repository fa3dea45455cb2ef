"""Serving benchmark: raw ``session.run`` against the deployer's inference endpoint, one run.

Same ONNX models (a logistic regression and a gradient-boosting classifier trained on
breast_cancer), same one-row JSON payload. The deployer runs as its own process pinned to
CPU 0, the load generator (``wrk``: HTTP/1.1 keep-alive, a Lua script for the POST) and the
embedded Postgres and broker pinned to CPU 1, when the machine has two. Measured, per model:

- raw: a tight ``session.run`` loop, pinned to the server's CPU;
- the endpoint at concurrency 1 and 32, with prediction logging on and off (the deployer
  restarted with ``MODELBUS_DEPLOYER_PREDICTION_LOG_ENABLED``);
- the server's CPU time per request (user + system, from /proc): what a request costs
  whatever else the machine runs, hence the req/s one fully available core would give;
- the same over gRPC (``grpc-c1``, ``grpc-c32``: the same row as one raw FP32 input, sent
  by ``bench/grpc_load.py``, a Python grpc.aio client on the load generator's CPU, since
  wrk speaks no HTTP/2). The client differs from wrk, so compare req/s with that in mind;
  the server's CPU per request does not depend on the client.

Every measurement is repeated ``--repeat`` times, interleaved; the report gives the best
run (highest req/s, lowest latency: the least disturbed) and the median, then the ratios the
targets are stated in. Infrastructure: ``MODELBUS_DATABASE_URL`` / ``MODELBUS_KAFKA_BOOTSTRAP``
if set, else an embedded Postgres and Tansu broker of its own. Needs ``wrk`` on PATH.

    python bench/serving.py [--duration 10] [--repeat 3] [--json results.json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.serving_tools import (  # noqa: E402
    DECISION_KEY,
    Deployer,
    FloorServer,
    build_models,
    grpc_load,
    lua_script,
    publish_approvals,
    raw_loop,
    wrk,
)
from modelbus.embedded import EmbeddedPostgres, TansuBroker, pick_free_port  # noqa: E402
from services.deployer.api.oip import grpc_predict_v2_pb2 as pb  # noqa: E402
from shared.http.auth import issue_token  # noqa: E402
from shared.store.artifacts import FileArtifactStore  # noqa: E402

Runs = dict[str, dict[str, list[dict[str, float]]]]  # model -> run name -> repetitions


def infrastructure(stack: ExitStack, work: Path, cpus: str | None) -> dict[str, str]:
    """Database and broker, started here unless given; kept off the server's CPU."""
    env = {**os.environ, "MODELBUS_HOME": str(work), "MODELBUS_LOG_LEVEL": "WARNING"}
    if "MODELBUS_DATABASE_URL" not in os.environ:
        postgres = EmbeddedPostgres(work / "postgres", port=pick_free_port())
        postgres.start()
        stack.callback(postgres.stop)
        pin(postgres.pid, cpus)
        env["MODELBUS_DATABASE_URL"] = postgres.url
    if "MODELBUS_KAFKA_BOOTSTRAP" not in os.environ:
        broker = TansuBroker(pick_free_port(), log_dir=work)
        broker.start()
        stack.callback(broker.stop)
        pin(broker.pid, cpus)
        env["MODELBUS_KAFKA_BOOTSTRAP"] = broker.bootstrap
        env["MODELBUS_KAFKA_IDEMPOTENCE"] = "false"
    return env


def pin(pid: int | None, cpus: str | None) -> None:
    """Move a process and everything it spawned so far (future children inherit) to ``cpus``."""
    if pid is None or cpus is None:
        return
    process = psutil.Process(pid)
    for each in (process, *process.children(recursive=True)):
        with contextlib.suppress(psutil.Error):
            each.cpu_affinity([int(c) for c in cpus.split(",")])


def measure(args: argparse.Namespace, cpus: tuple[str | None, str | None]) -> Runs:
    server_cpus, client_cpus = cpus
    models, row = build_models()
    runs: Runs = defaultdict(lambda: defaultdict(list))
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="modelbus-bench-")))
        env = infrastructure(stack, work, client_cpus)
        prefix = f"bench-{uuid.uuid4().hex[:8]}"
        asyncio.run(
            publish_approvals(
                env["MODELBUS_KAFKA_BOOTSTRAP"],
                FileArtifactStore(work / "artifacts"),
                models,
                prefix,
            )
        )
        token = asyncio.run(
            issue_token(env["MODELBUS_DATABASE_URL"], "bench", "viewer", created_by="bench")
        )
        payload = {
            "inputs": [
                {"name": "X", "datatype": "FP32", "shape": [1, 30], "data": row.ravel().tolist()}
            ]
        }
        script = lua_script(work / "post.lua", json.dumps(payload).encode(), token)
        for repetition in range(args.repeat):
            for name, onnx in models.items():
                runs[name]["raw"].append(raw_loop(onnx, row, args.duration / 2, server_cpus))
            floor = FloorServer(pick_free_port(), server_cpus)
            try:
                for connections in (1, 32):
                    runs["_floor"][f"c{connections}"].append(
                        wrk(floor.url, script, connections, args.duration / 2, client_cpus)
                    )
            finally:
                floor.stop()
            for logging in ("on", "off"):
                port, grpc_port = pick_free_port(), pick_free_port()
                deployer = Deployer(
                    {
                        **env,
                        "MODELBUS_HTTP_PORT": str(port),
                        "MODELBUS_DEPLOYER_GRPC_PORT": str(grpc_port),
                        "MODELBUS_DECISION_KEYS": DECISION_KEY,
                        "MODELBUS_DEPLOYER_REPLICA_ID": f"{prefix}-{logging}-{repetition}",
                        "MODELBUS_DEPLOYER_MODELS": f"{prefix}-*",
                        "MODELBUS_DEPLOYER_PREDICTION_LOG_ENABLED": str(logging == "on").lower(),
                    },
                    port,
                    server_cpus,
                    work / "deployer.log",
                )
                try:
                    deployer.wait_serving([f"{prefix}-{m}" for m in models], token)
                    for name in models:
                        url = f"{deployer.url}/v2/models/{prefix}-{name}/infer"
                        wrk(url, script, 8, 2, client_cpus)  # warm-up
                        for connections in (1, 32):
                            cpu = deployer.cpu_seconds()
                            rows, runs_before = deployer.batches(f"{prefix}-{name}")
                            figures = wrk(url, script, connections, args.duration, client_cpus)
                            served = figures["rps"] * round(args.duration)
                            figures["cpu_us"] = (deployer.cpu_seconds() - cpu) / served * 1e6
                            rows_after, runs_after = deployer.batches(f"{prefix}-{name}")
                            figures["batch"] = (rows_after - rows) / (runs_after - runs_before)
                            runs[name][f"c{connections}-log-{logging}"].append(figures)
                        request = grpc_request(f"{prefix}-{name}", row)
                        grpc_load(grpc_port, token, request, 8, 2, client_cpus)  # warm-up
                        for connections in (1, 32):
                            cpu = deployer.cpu_seconds()
                            rows, runs_before = deployer.batches(f"{prefix}-{name}")
                            figures = grpc_load(
                                grpc_port, token, request, connections, args.duration, client_cpus
                            )
                            served = figures["rps"] * round(args.duration)
                            figures["cpu_us"] = (deployer.cpu_seconds() - cpu) / served * 1e6
                            rows_after, runs_after = deployer.batches(f"{prefix}-{name}")
                            figures["batch"] = (rows_after - rows) / (runs_after - runs_before)
                            runs[name][f"grpc-c{connections}-log-{logging}"].append(figures)
                    if logging == "on":
                        time.sleep(1)  # let the last batch of records go
                        runs["_log"]["records"].append(
                            {
                                "published": deployer.metric(
                                    "modelbus_prediction_logs_published_total"
                                ),
                                "dropped": deployer.metric(
                                    "modelbus_prediction_logs_dropped_total"
                                ),
                            }
                        )
                finally:
                    deployer.stop()
    return runs


def grpc_request(model: str, row: object) -> bytes:
    """The benchmark's row as a ModelInferRequest with one raw FP32 input, serialized."""
    X = np.asarray(row, dtype="<f4").reshape(1, 30)
    request = pb.ModelInferRequest(model_name=model)
    request.inputs.add(name="X", datatype="FP32", shape=X.shape)
    request.raw_input_contents.append(X.tobytes())
    return request.SerializeToString()


def best(reps: list[dict[str, float]]) -> dict[str, float]:
    return {
        "rps": max(r["rps"] for r in reps),
        "p50": min(r["p50"] for r in reps),
        "p99": min(r["p99"] for r in reps),
        "cpu_us": min((r["cpu_us"] for r in reps if "cpu_us" in r), default=0.0),
        "batch": statistics.median(r.get("batch", 1.0) for r in reps),
        "rps_median": statistics.median(r["rps"] for r in reps),
        "p50_median": statistics.median(r["p50"] for r in reps),
    }


def row(name: str, run: str, f: dict[str, float], note: str = "") -> str:
    cpu = f"{f['cpu_us']:10.0f} {f['batch']:5.1f}" if f["cpu_us"] else note
    return (
        f"{name:7} {run:17} {f['rps']:7.0f} [{f['rps_median']:5.0f}] "
        f"{f['p50']:7.3f} [{f['p50_median']:6.3f}] {f['p99']:7.3f} {cpu}"
    )


def ratios(table: dict[str, dict[str, float]], floor: dict[str, float] | None) -> dict[str, float]:
    raw, c1, on, off = (table[k] for k in ("raw", "c1-log-on", "c32-log-on", "c32-log-off"))
    found = {
        "p50_overhead_ms_c1": c1["p50"] - raw["p50"],
        "rps_c32_logging_on": on["rps"],
        "rps_per_core_from_cpu_logging_on": 1e6 / on["cpu_us"],
        "logging_cost_rps": 1 - on["rps"] / off["rps"],
        "logging_cost_cpu": 1 - off["cpu_us"] / on["cpu_us"],
        "endpoint_over_raw_rps": on["rps"] / raw["rps"],
    }
    if floor is not None:
        found["p50_overhead_beyond_http_floor_ms_c1"] = c1["p50"] - floor["p50"] - raw["p50"]
    for c in (1, 32):
        found[f"grpc_over_rest_rps_c{c}"] = (
            table[f"grpc-c{c}-log-on"]["rps"] / (table[f"c{c}-log-on"]["rps"])
        )
    found["grpc_over_rest_cpu_per_request"] = (
        table["grpc-c32-log-on"]["cpu_us"] / table["c32-log-on"]["cpu_us"]
    )
    return found


def report(runs: Runs, cpus: tuple[str | None, str | None], repeat: int) -> dict[str, object]:
    print(
        f"\nserver on CPU {cpus[0]}, load generator on CPU {cpus[1]}; best of {repeat} "
        f"(median in brackets); load average now {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'':7} {'run':17} {'req/s':>15} {'p50 ms':>16} {'p99 ms':>7} {'CPU us/req':>10} "
        f"{'batch':>5}"
    )
    floor = {run: best(reps) for run, reps in runs.pop("_floor", {}).items()}
    for run, f in floor.items():
        print(row("floor", run, f, "  (an empty ASGI app on the same server stack)"))
    summary: dict[str, object] = {"http_floor": floor}
    log_records = runs.pop("_log", {}).get("records")
    for name, by_run in runs.items():
        table = {run: best(reps) for run, reps in by_run.items()}
        print("\n".join(row(name, run, f) for run, f in table.items()))
        r = ratios(table, floor.get("c1"))
        summary[name] = {"runs": table, "ratios": r}
        beyond = r.get("p50_overhead_beyond_http_floor_ms_c1")
        print(
            f"  {name}: p50 overhead over raw session.run at c=1: "
            f"{r['p50_overhead_ms_c1']:.3f} ms (target <= 0.3)"
            + (f", of which {beyond:.3f} ms beyond the HTTP floor" if beyond is not None else "")
        )
        print(
            f"  {name}: c=32 with logging: {r['rps_c32_logging_on']:.0f} req/s measured (target "
            f">= 3000), {r['rps_per_core_from_cpu_logging_on']:.0f} req/s per free core from "
            f"the CPU per request; endpoint/raw {r['endpoint_over_raw_rps']:.3f}"
        )
        print(
            f"  {name}: logging costs {100 * r['logging_cost_rps']:.1f}% of c=32 req/s, "
            f"{100 * r['logging_cost_cpu']:.1f}% of CPU per request (target <= 10%)"
        )
        print(
            f"  {name}: gRPC/REST req/s with logging: c=1 {r['grpc_over_rest_rps_c1']:.2f}, "
            f"c=32 {r['grpc_over_rest_rps_c32']:.2f}; server CPU per request at c=32 "
            f"{r['grpc_over_rest_cpu_per_request']:.2f}x REST's"
        )
    if log_records:
        print(f"prediction log records per logging-on server: {log_records}")
        summary["prediction_log"] = log_records
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions, interleaved")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is needed (apt-get install wrk)", file=sys.stderr)
        return 2
    two_cores = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    cpus = ("0", "1") if two_cores else (None, None)
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    summary = report(measure(args, cpus), cpus, args.repeat)
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
