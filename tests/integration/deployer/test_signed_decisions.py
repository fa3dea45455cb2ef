"""Only governance's signed decisions move the deployer, in governance's order.

On an open broker anyone can produce a ``model.approved``: a forgery (unsigned, or signed
with a key nobody trusts) is dead-lettered with the reason and never served; a validly
signed approval produced again after a suspension does not bring the version back; a
decision dated far in the future does not outrank a later suspension; an approval naming
an artifact the registry did not register is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from shared.events.envelope import Event, new_event
from shared.events.signing import DecisionSigner, generate_private_key_pem
from tests.integration.deployer.harness import Lifecycle, serving, v2_body
from tests.support.bus import collect, publish
from tests.support.events import approved, signed
from tests.support.onnx_models import logistic_regression_onnx, tagged
from tests.support.polling import eventually

pytestmark = pytest.mark.integration

X = logistic_regression_onnx().X_holdout[:1]


def refused(reason: str) -> float:
    labels = {"service": "deployer", "topic": "model.approved", "reason": reason}
    return REGISTRY.get_sample_value("modelbus_decisions_refused_total", labels) or 0.0


async def dead_letters(bootstrap: str, topic: str, model: str, count: int) -> list[dict[str, str]]:
    records = await collect(
        bootstrap,
        f"{topic}.dlq",
        raw=True,
        where=lambda r: r.key == model.encode(),
        until=lambda found: len(found) >= count,
    )
    return [{k: v.decode() for k, v in r.headers} for r in records]


async def stopped(client: httpx.AsyncClient, model: str) -> None:
    async def answers_503() -> bool:
        response = await client.post(f"/v2/models/{model}/infer", json=v2_body(X))
        return response.status_code == 503

    await eventually(answers_503, timeout=30, what=f"{model} stopped")


async def test_forged_approvals_are_dead_lettered_and_never_served(
    client: httpx.AsyncClient, lifecycle: Lifecycle, kafka_bootstrap: str
) -> None:
    forged, genuine = lifecycle.name("forged"), lifecycle.name("genuine")
    ref = await lifecycle.put(logistic_regression_onnx().onnx)
    await lifecycle.register(forged, 1, ref)
    before = refused("unsigned"), refused("unknown_key")
    stranger = DecisionSigner.from_pem(generate_private_key_pem())
    await publish(
        kafka_bootstrap,
        new_event(approved(forged, 1, artifact_ref=ref), source="governance"),  # no signature
        signed(approved(forged, 1, artifact_ref=ref), signer=stranger),  # not governance's key
    )
    # A genuine approval published after the forgeries: once it serves, they were consumed.
    await lifecycle.approve(genuine, 1, ref)
    await serving(client, genuine, 1)

    assert (await client.get(f"/v2/models/{forged}/ready")).status_code == 404
    headers = await dead_letters(kafka_bootstrap, "model.approved", forged, 2)
    assert {h["modelbus.dlq.error_class"] for h in headers} == {"UntrustedDecision"}
    messages = " | ".join(h["modelbus.dlq.error_message"] for h in headers)
    assert "not signed by governance" in messages and "not trusted here" in messages
    # At least these two (the topics' history may hold other tests' forgeries too).
    assert refused("unsigned") >= before[0] + 1 and refused("unknown_key") >= before[1] + 1


async def test_a_signed_approval_replayed_after_a_suspension_stays_suspended(
    client: httpx.AsyncClient, lifecycle: Lifecycle, kafka_bootstrap: str
) -> None:
    model = lifecycle.name("replayed")
    approval = await lifecycle.approve(model, 1, logistic_regression_onnx().onnx)
    await serving(client, model, 1)
    await lifecycle.suspend(model, 1)
    await stopped(client, model)
    before = refused("replayed")

    # The very same signed record produced again, and again re-dated (time is not signed).
    redated = approval.model_copy(update={"time": datetime.now(UTC) + timedelta(days=3650)})
    await publish(kafka_bootstrap, approval, redated)

    headers = await dead_letters(kafka_bootstrap, "model.approved", model, 2)
    assert all("is a replay" in h["modelbus.dlq.error_message"] for h in headers)
    assert refused("replayed") >= before + 2
    response = await client.post(f"/v2/models/{model}/infer", json=v2_body(X))
    assert response.status_code == 503 and "suspended" in response.json()["error"]


async def test_a_future_dated_approval_does_not_outrank_a_later_suspension(
    client: httpx.AsyncClient, lifecycle: Lifecycle, kafka_bootstrap: str
) -> None:
    model = lifecycle.name("future")
    ref = await lifecycle.put(logistic_regression_onnx().onnx)
    await lifecycle.register(model, 1, ref)
    future = datetime.now(UTC) + timedelta(days=3650)
    dated: Event[Any] = new_event(approved(model, 1, artifact_ref=ref), source="governance")
    await publish(kafka_bootstrap, signed(dated.model_copy(update={"time": future})))
    await serving(client, model, 1)

    await lifecycle.suspend(model, 1)  # dated now, after it in governance's sequence

    await stopped(client, model)


async def test_an_approval_of_an_artifact_the_registry_did_not_register_is_refused(
    client: httpx.AsyncClient, lifecycle: Lifecycle, kafka_bootstrap: str
) -> None:
    model = lifecycle.name("swapped")
    registered = await lifecycle.put(logistic_regression_onnx().onnx)
    other = await lifecycle.put(tagged(logistic_regression_onnx().onnx, "swapped"))
    await lifecycle.register(model, 1, registered)
    await publish(kafka_bootstrap, signed(approved(model, 1, artifact_ref=other)))

    failed = await collect(
        kafka_bootstrap,
        "deployment.failed",
        where=lambda e: e.key == model,
        until=lambda found: len(found) >= 1,
    )
    assert failed[0].data.stage == "verify"
    assert "not the one the registry registered" in failed[0].data.reason
    assert (await client.get(f"/v2/models/{model}/ready")).status_code == 404
