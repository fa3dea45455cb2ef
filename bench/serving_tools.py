"""The parts of bench/serving.py: models, the raw loop, wrk, and the deployer process."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort
import psutil

from shared.bus.kafka import send_events
from shared.events.common import ArtifactRef, ModelSignature, TensorSpec
from shared.events.envelope import new_event
from shared.events.governance import Decision, ModelApproved
from shared.events.registry import MeasuredEvidence, ModelRegistered
from shared.events.signing import DecisionSigner, generate_private_key_pem
from shared.settings import Settings
from shared.store.artifacts import FileArtifactStore

REPO = Path(__file__).resolve().parents[1]
FEATURES = 30  # breast_cancer's


def build_models() -> tuple[dict[str, bytes], np.ndarray]:
    """A logistic regression and a gradient-boosting classifier on breast_cancer, and a row."""
    from skl2onnx import to_onnx
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X = X.astype(np.float32)
    estimators = {
        "logreg": make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
        "gboost": GradientBoostingClassifier(n_estimators=50, max_depth=3, random_state=0),
    }
    models = {}
    for name, estimator in estimators.items():
        estimator.fit(X, y)
        options = {id(estimator): {"zipmap": False}}
        models[name] = to_onnx(
            estimator, X[:1], options=options, target_opset=17
        ).SerializeToString()
    return models, X[:1]


def raw_loop(onnx: bytes, row: np.ndarray, seconds: float, cpus: str | None) -> dict[str, float]:
    """``session.run`` on one row in a tight loop, with the deployer's session options."""
    previous = os.sched_getaffinity(0)
    if cpus is not None:
        os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})
    try:
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = ort.InferenceSession(onnx, options, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        feeds = {session.get_inputs()[0].name: row}
        for _ in range(500):
            session.run(names, feeds)
        timings = []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            started = time.perf_counter()
            session.run(names, feeds)
            timings.append(time.perf_counter() - started)
    finally:
        os.sched_setaffinity(0, previous)
    ms = np.array(timings) * 1000
    return {
        "rps": len(ms) / ms.sum() * 1000,
        "p50": float(np.percentile(ms, 50)),
        "p99": float(np.percentile(ms, 99)),
    }


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk(
    url: str, script: Path, connections: int, seconds: float, cpus: str | None
) -> dict[str, float]:
    argv = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    if cpus is not None:
        argv = ["taskset", "-c", cpus, *argv]
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout

    def found(pattern: str) -> re.Match[str]:
        match = re.search(pattern, out, re.M)
        if match is None:
            raise RuntimeError(f"unexpected wrk output:\n{out}")
        return match

    def latency(percent: str) -> float:
        value, unit = found(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$").groups()
        return float(value) * _UNITS[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors is not None:
        raise RuntimeError(f"{errors.group(1)} requests failed:\n{out}")
    return {
        "rps": float(found(r"Requests/sec:\s+([\d.]+)").group(1)),
        "p50": latency("50"),
        "p99": latency("99"),
    }


def grpc_load(
    port: int, token: str, request: bytes, connections: int, seconds: float, cpus: str | None
) -> dict[str, float]:
    """bench/grpc_load.py (a Python grpc.aio client, pinned like wrk): req/s, p50, p99."""
    argv = [
        sys.executable,
        str(REPO / "bench" / "grpc_load.py"),
        str(port),
        token,
        request.hex(),
        str(connections),
        str(max(1, round(seconds))),
    ]
    if cpus is not None:
        argv = ["taskset", "-c", cpus, *argv]
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    figures: dict[str, float] = json.loads(out)
    return figures


def lua_script(path: Path, body: bytes, token: str) -> Path:
    path.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body.decode())}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    )
    return path


class Deployer:
    """``modelbus service deployer`` as its own process, pinned to ``cpus``."""

    def __init__(self, env: dict[str, str], port: int, cpus: str | None, log: Path) -> None:
        argv = [sys.executable, "-m", "modelbus", "service", "deployer"]
        if cpus is not None:
            argv = ["taskset", "-c", cpus, *argv]  # taskset execs: the pid is the server's
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            argv, env=env, cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT
        )

    def wait_serving(self, models: list[str], token: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        headers = {"Authorization": f"Bearer {token}"}
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"the deployer exited with {self.process.returncode}:\n{tail}")
            try:
                if all(
                    httpx.get(f"{self.url}/v2/models/{m}/ready", headers=headers).status_code == 200
                    for m in models
                ):
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"models {models} not served within {timeout}s")

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.process.pid).cpu_times()
        return float(times.user + times.system)

    def metric(self, name: str, label: str = "") -> float:
        """The sum of the samples of ``name`` (whose labels contain ``label``) on /metrics."""
        text = httpx.get(f"{self.url}/metrics").text
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith(name) and label in line
        )

    def batches(self, model: str) -> tuple[float, float]:
        """Requests run so far for ``model``, and the session runs that ran them."""
        label = f'model="{model}"'
        return (
            self.metric("modelbus_inference_batch_size_sum", label),
            self.metric("modelbus_inference_batch_size_count", label),
        )

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)
        self.log.close()


# The benchmark's own governance key: the deployer it starts trusts this one alone.
DECISION_SIGNER = DecisionSigner.from_pem(generate_private_key_pem())
DECISION_KEY = DECISION_SIGNER.public_key_text
_govseq = itertools.count(time.time_ns() // 1000)  # above whatever a governance reached


async def publish_approvals(
    bootstrap: str, artifacts: FileArtifactStore, models: dict[str, bytes], prefix: str
) -> None:
    """What the registry and governance would send: each model registered, then approved
    (signed with :data:`DECISION_KEY`, which the deployer is given) to be deployed by
    replacement."""
    for name, onnx in models.items():
        model, ref = f"{prefix}-{name}", await artifacts.put(onnx)
        approval = new_event(_approval(model, ref), source="governance")
        await send_events(
            Settings(kafka_bootstrap=bootstrap),
            [
                new_event(_registration(model, ref), source="registry"),
                DECISION_SIGNER.sign(approval, next(_govseq)),
            ],
        )


def _registration(model: str, ref: ArtifactRef) -> ModelRegistered:
    measured = MeasuredEvidence(by="trainer", metrics={"accuracy": 0.95}, parity_passed=True)
    return ModelRegistered(
        model_name=model,
        version=1,
        artifact=ref,
        signature=ModelSignature(
            inputs=[TensorSpec(name="input", datatype="FP32", shape=[-1, FEATURES])],
            outputs=[TensorSpec(name="label", datatype="INT64", shape=[-1])],
        ),
        task="classification",
        source="trainer",
        metrics=measured.metrics,
        parity_passed=True,
        measured=measured,
    )


def _approval(model: str, ref: ArtifactRef) -> ModelApproved:
    decision = Decision(policy="bench", policy_version="1", policy_digest="0" * 64, checks=[])
    return ModelApproved(model_name=model, version=1, artifact=ref, decision=decision)


FLOOR_APP = """
import sys, uvicorn
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"{}"})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False,
            loop="uvloop", http="httptools")
"""


class FloorServer:
    """The HTTP floor: a do-nothing ASGI app on the same server stack (uvicorn, httptools,
    uvloop), pinned like the deployer. What no endpoint on this stack can go below."""

    def __init__(self, port: int, cpus: str | None) -> None:
        argv = [sys.executable, "-c", FLOOR_APP, str(port)]
        if cpus is not None:
            argv = ["taskset", "-c", cpus, *argv]
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(argv, cwd=REPO)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.post(self.url)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise TimeoutError("the floor server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
