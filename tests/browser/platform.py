"""The platform the browser tests look at: every service and the console as processes, the
demo's whole lifecycle run on it, a version waiting for review, and a crowd to page through.

The crowd (``CROWD`` models, ``AUDIT_RECORDS`` audit records in all): each model is
uploaded to the registry over HTTP (governance sends it to review); the rest of the audit
trail is appended with governance's own audit log (its store, in its schema, with its key)
as records of ``training.failed`` events, a thousand per transaction: publishing them on
the bus would be the same records, only minutes slower on a busy machine.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

import asyncpg
import httpx

from modelbus.demo.platform import Platform
from modelbus.demo.scenario import DemoResult
from shared.events.envelope import new_event
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


async def append_failures(database_url: str, key: str, names: list[str], count: int) -> None:
    """``count`` records of training failures spread over ``names``, as governance records
    an event it consumed: chained per model, checkpointed and signed with its key."""
    from services.governance.audit.log import AuditLog

    log = AuditLog(key.encode())
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "governance"})
    try:
        for start in range(0, count, 1000):
            async with conn.transaction():
                for i in range(start, min(count, start + 1000)):
                    failure = TrainingFailed(
                        request_id=f"seed-{uuid.uuid4().hex}",
                        model_name=names[i % len(names)],
                        reason="the dataset named no label column",
                        error_class="InvalidInput",
                    )
                    await log.append(conn, new_event(failure, source="/modelbus/trainer"))
    finally:
        await conn.close()


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

    await eventually(enough, timeout=120, interval=1.0, what=f"{at_least} audit records")
