"""The demo's story: train, approve, serve, drift, retrain, canary, promote, verify the audit.

Everything happens through the platform's public doors: HTTP to ask for training and to
predict (Open Inference Protocol), Kafka for ground truth, the bus for the timeline, the
audit log (governance's public audit tools) for the verdict. Nothing here reaches into a
service.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from modelbus.demo.demo_data import DATASETS, DemoData
from modelbus.demo.platform import Platform
from modelbus.demo.timeline import Timeline
from modelbus.demo.traffic import Traffic, TrafficStats
from shared.http.auth import issue_token

STEP_TIMEOUT_S = 90.0


@dataclass
class DemoResult:
    model_name: str
    closed_loop: bool = False
    drift_detected: bool = False
    versions: list[int] = field(default_factory=list)
    drifted_features: list[str] = field(default_factory=list)
    accuracy: dict[str, tuple[float, int]] = field(default_factory=dict)
    failed_requests: int = 0
    traffic: TrafficStats | None = None  # every request's outcome and time
    audit: str = "not verified"
    audit_ok: bool = False
    seconds: float = 0.0


def training_request(
    model_name: str,
    candidates: list[dict[str, Any]] | None = None,
    *,
    data: DemoData = DATASETS["breast_cancer"],
    dataset_fields: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The demo's request; ``candidates`` (else the dataset's own) narrows the trainer's
    default search (retraining repeats the request, so it narrows that too)."""
    candidates = candidates if candidates is not None else data.candidates
    return {
        "request_id": uuid.uuid4().hex,  # sent again as is if the answer is lost
        "model_name": model_name,
        **(dataset_fields or {"dataset": {"builtin": data.name}}),
        "task": "classification",
        "seed": 7,
        **({"candidates": candidates} if candidates is not None else {}),
        "metadata": data.metadata,
    }


# Called with the model's name and version 1 once it serves, before any traffic.
ServingCheck = Callable[[str, int], Awaitable[None]]


async def run(
    platform: Platform,
    *,
    shift: bool,
    echo: Callable[[str], None] = print,
    candidates: list[dict[str, Any]] | None = None,
    step_timeout_s: float = STEP_TIMEOUT_S,
    dataset: str = "breast_cancer",
    serving_check: ServingCheck | None = None,
    stop_after_drift: bool = False,
) -> DemoResult:
    started = time.monotonic()
    data = DATASETS[dataset]
    model_name = f"{data.model_prefix}-{uuid.uuid4().hex[:6]}"
    result = DemoResult(model_name)
    token = await issue_token(
        platform.database_url, "demo-operator", "admin", created_by="modelbus demo"
    )
    if "console" in platform.endpoints:
        await _announce_console(platform, echo)
    timeline = Timeline(platform.kafka_bootstrap, model_name, echo)
    await timeline.start()
    rows = data.rows()
    traffic = Traffic(
        platform.endpoints["deployer"], token, platform.kafka_bootstrap, model_name, rows
    )
    sending: asyncio.Task[None] | None = None
    try:
        echo(f"\n1. training {model_name} on {data.name} (trainer, HTTP)")
        fields = await data.training_fields(platform)
        async with httpx.AsyncClient(
            base_url=platform.endpoints["trainer"],
            trust_env=False,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,  # the trainer's first request loads scikit-learn for its checks
        ) as trainer:
            request = training_request(model_name, candidates, data=data, dataset_fields=fields)
            response = await _reaching(lambda: trainer.post("/v1/training-requests", json=request))
            response.raise_for_status()
        await timeline.wait_for(
            "model.deployed", lambda d: d.version == 1, timeout=step_timeout_s * 2
        )
        result.versions.append(1)
        if serving_check is not None:
            await serving_check(model_name, 1)

        echo("\n2. live traffic on the Open Inference Protocol, ground truth as labels.received")
        sending = asyncio.create_task(traffic.run())
        await _wait_until(
            lambda: len(traffic.stats.outcomes) >= 400, step_timeout_s, "400 baseline predictions"
        )
        if shift:
            echo(f"\n3. covariate shift: {rows.shift_description}")
            traffic.shifted = True
            drift = await timeline.wait_for(
                "drift.detected", lambda d: d.version == 1, timeout=step_timeout_s
            )
            result.drift_detected = True
            result.drifted_features = list(drift.data.top_features)
            if not stop_after_drift:  # a test that needs only the alert ends here
                echo(
                    "\n4. the monitor's alert starts retraining, governance, a canary and promotion"
                )
                promoted = await timeline.wait_for(
                    "model.promoted", lambda d: d.version >= 2, timeout=step_timeout_s * 3
                )
                result.versions.append(promoted.data.version)
                await _wait_until(
                    lambda: (
                        traffic.stats.accuracy(version=promoted.data.version, shifted=True)[1]
                        >= 150
                    ),
                    step_timeout_s,
                    "traffic on the promoted version",
                )
                result.closed_loop = True
        else:
            echo("\n3. control run: unshifted traffic for as long as drift would take to show")
            await _wait_until(
                lambda: len(traffic.stats.outcomes) >= 1400, step_timeout_s, "1400 predictions"
            )
            result.drift_detected = any(
                e.type.endswith("drift.detected.v1") for e in timeline.events
            )
    finally:
        if sending is not None:
            sending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sending
        await timeline.stop()
    for version in result.versions:
        for shifted in (False, True):
            acc = traffic.stats.accuracy(version=version, shifted=shifted)
            if acc[1]:
                result.accuracy[f"v{version} on {'shifted' if shifted else 'original'} traffic"] = (
                    acc
                )
    result.failed_requests = traffic.stats.failures
    result.traffic = traffic.stats
    result.audit_ok, result.audit = await verify_audit(platform, model_name, token)
    result.seconds = time.monotonic() - started
    return result


async def _announce_console(platform: Platform, echo: Callable[[str], None]) -> None:
    """Where to watch the demo, and a token to sign in with: an approver's, so the review
    and deployment buttons work and the kill switch shows why it needs an admin."""
    token = await issue_token(
        platform.database_url, "demo-approver", "approver", created_by="modelbus demo"
    )
    echo(f"\nwatch it in the console: {platform.endpoints['console']}")
    echo(f"  sign in with this approver token: {token}")


async def _reaching(
    send: Callable[[], Awaitable[httpx.Response]], deadline_s: float = 60.0
) -> httpx.Response:
    """The response of a service that may be restarting under supervision (or slow to
    answer on a loaded machine): a request that failed in transport (refused, reset, timed
    out) or met it not ready (503) is sent again until the deadline. Only for requests
    that may be repeated: the training request carries its own ``request_id``, so the
    trainer finds a repeat's job instead of queueing a second one."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            response = await send()
            if response.status_code != 503 or time.monotonic() > deadline:
                return response
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.5)


async def _wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout:.0f} s")
        await asyncio.sleep(0.2)


async def verify_audit(platform: Platform, model_name: str, token: str) -> tuple[bool, str]:
    """Sign the audit log's head now, then recompute every hash chain and signed checkpoint
    from the database, as an auditor would."""
    from services.governance import audit_tools

    async with httpx.AsyncClient(
        base_url=platform.endpoints["governance"],
        trust_env=False,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ) as governance:
        (await _reaching(lambda: governance.post("/v1/audit/checkpoints"))).raise_for_status()
        trail = await _reaching(lambda: governance.get(f"/v1/models/{model_name}/audit"))
        trail.raise_for_status()
    report = await audit_tools.verify(platform.database_url, platform.audit_key.encode())
    if report is None:
        return False, "governance's schema holds no audit log"
    if report.problem is not None:
        return False, f"BROKEN at seq {report.problem.seq}: {report.problem.reason}"
    return True, (
        f"{report.records} records, {report.checkpoints} signed checkpoints verified; "
        f"{len(trail.json())} records for {model_name}"
    )
