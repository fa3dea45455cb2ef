"""The platform the browser tests look at: every service and the console as processes, the
demo's whole lifecycle run on it, a version waiting for review, and a crowd to page through.

The crowd (``CROWD`` models, ``AUDIT_RECORDS`` audit records in all) goes in through the
real doors: each model is uploaded to the registry over HTTP (governance sends it to
review), and the rest of the audit trail is made of ``training.failed`` events published on
the bus, the one lifecycle topic only governance consumes, so nothing else starts working.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import httpx
from aiokafka import AIOKafkaProducer

from modelbus.demo.platform import Platform
from modelbus.demo.scenario import DemoResult
from shared.events.envelope import CONTENT_TYPE, encode, new_event
from shared.events.topics import topic_for_payload
from shared.events.training import TrainingFailed
from tests.support.onnx_models import logistic_regression_onnx
from tests.support.polling import eventually

CROWD = 100
AUDIT_RECORDS = 10_000
OWNER = "data-owner"


@dataclass
class Seeded:
    platform: Platform
    demo: DemoResult
    tokens: dict[str, str]  # viewer, approver, admin, scientist
    pending: str  # a model whose v1 waits for one approval
    crowd: list[str]


def upload_metadata(team: str, tier: str) -> str:
    import json

    return json.dumps(
        {
            "task": "classification",
            "parity_passed": True,
            "metrics": {"accuracy": 0.95},
            "metadata": {
                "owner": OWNER,
                "team": team,
                "description": "Scores loan applications for manual follow-up.",
                "intended_use": "A queue order for people, never a decision on its own.",
                "risk_tier": tier,
            },
        }
    )


async def upload(client: httpx.AsyncClient, name: str, team: str, tier: str) -> None:
    response = await client.post(
        f"/v1/models/{name}/versions",
        files={"artifact": ("model.onnx", logistic_regression_onnx().onnx)},
        data={"metadata": upload_metadata(team, tier)},
    )
    assert response.status_code == 201, response.text


async def seed_crowd(platform: Platform, scientist: str, names: list[str]) -> None:
    """Upload every model of the crowd (a few at a time), each to wait for two approvals."""
    limit = asyncio.Semaphore(4)
    headers = {"Authorization": f"Bearer {scientist}"}
    async with httpx.AsyncClient(
        base_url=platform.endpoints["registry"], headers=headers, timeout=60, trust_env=False
    ) as registry:

        async def one(i: int, name: str) -> None:
            async with limit:
                await upload(registry, name, f"team-{i % 5}", "high")

        await asyncio.gather(*(one(i, n) for i, n in enumerate(names)))


async def publish_failures(bootstrap: str, names: list[str], count: int) -> None:
    """``count`` training failures spread over ``names``: audit records through the bus."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    try:
        sends = []
        for i in range(count):
            name = names[i % len(names)]
            failure = TrainingFailed(
                request_id=f"seed-{uuid.uuid4().hex}",
                model_name=name,
                reason="the dataset named no label column",
                error_class="InvalidInput",
            )
            event = new_event(failure, source="/modelbus/trainer")
            sends.append(
                await producer.send(
                    topic_for_payload(failure).name,
                    encode(event),
                    key=event.key.encode(),
                    headers=[("content-type", CONTENT_TYPE.encode())],
                )
            )
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def audit_size(governance: str, token: str) -> int:
    async with httpx.AsyncClient(base_url=governance, trust_env=False, timeout=30) as client:
        answer = await client.get(
            "/v1/audit/checkpoints/latest", headers={"Authorization": f"Bearer {token}"}
        )
    answer.raise_for_status()
    return int(answer.json()["head_seq"])


async def wait_for_audit(platform: Platform, token: str, at_least: int) -> None:
    async def enough() -> bool:
        return await audit_size(platform.endpoints["governance"], token) >= at_least

    await eventually(enough, timeout=240, interval=1.0, what=f"{at_least} audit records")
