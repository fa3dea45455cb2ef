"""Decisions end to end: by policy on model.registered, by people over HTTP, the kill switch."""

from __future__ import annotations

import pytest

from shared.events.governance import ModelApproved, ModelRejected, ReviewRequested
from tests.integration.governance.conftest import LOOP, Governance
from tests.support.events import HIGH_RISK, registered

pytestmark = [pytest.mark.integration, LOOP]


async def test_low_risk_model_meeting_thresholds_is_approved_automatically(
    governance: Governance, unique: str
) -> None:
    name = f"low-{unique}"
    [cause] = await governance.publish(registered(name, accuracy=0.93))
    [event] = await governance.next_event("model.approved", name)
    approved: ModelApproved = event.data
    assert approved.version == 1 and approved.artifact.sha256 == cause.data.artifact.sha256
    assert approved.decision.policy == "default" and len(approved.decision.policy_digest) == 64
    assert approved.decision.approvers == [] and approved.decision.strategy.kind == "replace"
    assert all(c.passed for c in approved.decision.checks)
    assert {c.name: c.value for c in approved.decision.checks}["metric.accuracy"] == 0.93
    assert event.causationid == cause.id and event.correlationid == cause.correlationid
    assert await governance.status(name, 1) == "approved"


async def test_high_risk_model_needs_two_approvers_neither_the_registrant(
    governance: Governance, unique: str
) -> None:
    name = f"high-{unique}"
    ann, bob = governance.id("ann"), governance.id("bob")
    await governance.publish(
        registered(name, accuracy=0.95, metadata=HIGH_RISK, registered_by=governance.id("olivia"))
    )
    [review] = await governance.next_event("review.requested", name)
    requested: ReviewRequested = review.data
    assert requested.required_approvals == 2 and requested.decision.risk_tier == "high"
    path = f"/v1/models/{name}/versions/1"
    async with governance.client("vic") as viewer:
        listed = (await viewer.get("/v1/reviews")).json()
        assert any(r["model_name"] == name and r["required_approvals"] == 2 for r in listed)

    async with governance.client("olivia") as registrant:
        denied = await registrant.post(f"{path}/approve", json={"comment": "mine, looks fine"})
        assert denied.status_code == 403 and "four-eyes" in denied.json()["error"]
    async with governance.client("ann") as client:
        first = (await client.post(f"{path}/approve", json={"comment": "metrics ok"})).json()
        assert (first["status"], first["approvers"]) == ("in_review", [ann])
        again = (await client.post(f"{path}/approve", json={"comment": "really"})).json()
        assert (again["status"], again["approvers"]) == ("in_review", [ann])  # counted once
    assert await governance.status(name, 1) == "in_review"
    async with governance.client("bob") as client:
        done = (await client.post(f"{path}/approve")).json()
        assert (done["status"], done["approvers"]) == ("approved", [ann, bob])

    [event] = await governance.next_event("model.approved", name)
    decision = event.data.decision
    assert decision.approvers == [ann, bob] and decision.comments == {ann: "metrics ok"}
    assert decision.strategy.kind == "canary"
    people = decision.checks[-1]
    assert (people.name, people.passed, people.value, people.threshold) == ("approvals", True, 2, 2)
    assert event.correlationid == review.correlationid

    async with governance.client("carol") as carol:
        late = await carol.post(f"{path}/approve")
        assert late.status_code == 409
        assert (await carol.post(f"{path}/reject", json={"comment": "no"})).status_code == 409


@pytest.mark.parametrize(
    ("case", "kwargs", "failed", "value", "threshold"),
    [
        ("threshold", {"accuracy": 0.55}, "metric.accuracy", 0.55, {"min": 0.7}),
        (
            "fairness",
            {
                "metadata": {"sensitive_attribute": "sex"},
                "fairness": {
                    "demographic_parity_difference": 0.31,
                    "equal_opportunity_difference": 0.02,
                },
            },
            "fairness.demographic_parity_difference",
            0.31,
            {"max": 0.2},
        ),
    ],
)
async def test_failing_checks_reject_the_version_naming_each(
    governance: Governance,
    unique: str,
    case: str,
    kwargs: dict[str, object],
    failed: str,
    value: float,
    threshold: dict[str, float],
) -> None:
    name = f"{case}-{unique}"
    await governance.publish(registered(name, **kwargs))  # type: ignore[arg-type]
    [event] = await governance.next_event("model.rejected", name)
    rejected: ModelRejected = event.data
    assert rejected.failed_checks == [failed] and rejected.actor == "policy"
    [check] = [c for c in rejected.decision.checks if c.name == failed]
    assert (check.passed, check.value, check.threshold) == (False, value, threshold)
    assert await governance.status(name, 1) == "rejected"


async def test_a_challenger_regressing_against_the_champion_is_rejected(
    governance: Governance, unique: str
) -> None:
    name = f"champ-{unique}"
    await governance.publish(registered(name, 1, accuracy=0.95))
    await governance.next_event("model.approved", name)
    await governance.publish(registered(name, 2, accuracy=0.90))
    [event] = await governance.next_event("model.rejected", name)
    assert event.data.version == 2 and event.data.failed_checks == ["champion.accuracy"]
    [check] = [c for c in event.data.decision.checks if c.name == "champion.accuracy"]
    assert (check.value, check.threshold) == (0.90, {"min": 0.93})
    assert "champion v1" in check.message
    await governance.publish(registered(name, 3, accuracy=0.94))  # within tolerance
    approved = await governance.next_event("model.approved", name, count=2)
    assert [e.data.version for e in approved] == [1, 3]


async def test_people_reject_with_a_comment_and_admins_suspend(
    governance: Governance, unique: str
) -> None:
    name = f"people-{unique}"
    medium = {"risk_tier": "medium", "team": "ops", "description": "d"}
    await governance.publish(
        registered(name, 1, metadata=medium), registered(name, 2, accuracy=0.96, metadata=medium)
    )
    await governance.next_event("review.requested", name, count=2)
    async with governance.client("ann") as ann:
        missing = await ann.post(f"/v1/models/{name}/versions/1/reject", json={})
        assert missing.status_code == 400 and "comment" in missing.json()["error"]
        ok = await ann.post(
            f"/v1/models/{name}/versions/1/reject", json={"comment": "training data too old"}
        )
        assert ok.json()["status"] == "rejected"
        await ann.post(f"/v1/models/{name}/versions/2/approve")
        unknown = await ann.post(f"/v1/models/{name}/versions/9/approve")
        assert unknown.status_code == 404
    [rejected] = await governance.next_event("model.rejected", name)
    assert (rejected.data.actor, rejected.data.comment) == (
        governance.id("ann"),
        "training data too old",
    )
    assert rejected.data.failed_checks == ["review"]

    path = f"/v1/models/{name}/versions/2/suspend"
    async with governance.client("ann") as ann:
        assert (await ann.post(path, json={"reason": "bias"})).status_code == 403
    async with governance.client("root") as root:
        assert (await root.post(path, json={"reason": "bias found in production"})).json()[
            "status"
        ] == "suspended"
        assert (await root.post(path, json={"reason": "again"})).status_code == 409
        assert (
            await root.post(f"/v1/models/{name}/versions/1/suspend", json={"reason": "x"})
        ).status_code == 409
    [suspended] = await governance.next_event("model.suspended", name)
    assert (suspended.data.version, suspended.data.actor) == (2, governance.id("root"))
    assert suspended.data.reason == "bias found in production"


async def test_four_eyes_goes_by_principal_not_by_name(governance: Governance, unique: str) -> None:
    """An admin who asked for the training cannot approve, whatever owner name the version
    carries; a different person whose name is the owner string may."""
    name = f"eyes-{unique}"
    root = governance.id("root")
    meta = {**HIGH_RISK, "owner": "bob"}  # what the admin wrote: someone else's name
    await governance.publish(registered(name, metadata=meta, requested_by=root))
    await governance.next_event("review.requested", name)
    path = f"/v1/models/{name}/versions/1/approve"
    async with governance.client("root") as admin:
        denied = await admin.post(path)
        assert denied.status_code == 403 and "four-eyes" in denied.json()["error"]
        assert root in denied.json()["error"]
    async with governance.client("bob") as bob:
        counted = (await bob.post(path)).json()
        assert counted["approvers"] == [governance.id("bob")]


async def test_approvers_retire_a_version_for_good_and_the_audit_names_them(
    governance: Governance, unique: str
) -> None:
    name = f"retire-{unique}"
    await governance.publish(registered(name, 1, accuracy=0.93))
    await governance.next_event("model.approved", name)
    path = f"/v1/models/{name}/versions/1"
    async with governance.client("vic") as viewer:
        denied = await viewer.post(f"{path}/retire", json={"reason": "old"})
        assert denied.status_code == 403
    async with governance.client("ann") as ann:
        missing = await ann.post(f"{path}/retire", json={})
        assert missing.status_code == 400 and "reason" in missing.json()["error"]
        done = await ann.post(f"{path}/retire", json={"reason": "replaced by the 2027 model"})
        assert done.json() == {"model_name": name, "version": 1, "status": "retired"}
        again = await ann.post(f"{path}/retire", json={"reason": "again"})
        assert again.status_code == 409 and "retired" in again.json()["error"]
        approve = await ann.post(f"{path}/approve")
        assert approve.status_code == 409 and "register the model anew" in approve.json()["error"]
    async with governance.client("root") as root:
        suspend = await root.post(f"{path}/suspend", json={"reason": "x"})
        assert suspend.status_code == 409
    [retired] = await governance.next_event("model.retired", name)
    assert (retired.data.version, retired.data.actor) == (1, governance.id("ann"))
    assert retired.govseq is not None and retired.govsig  # signed like every decision
    assert await governance.status(name, 1) == "retired"
    async with governance.client("vic") as viewer:
        trail = (await viewer.get(f"/v1/models/{name}/audit")).json()
        inventory = (await viewer.get(f"/v1/models/{name}")).json()
    [record] = [r for r in trail if r["action"] == "model.retired"]
    assert record["actor"] == governance.id("ann") and record["version"] == 1
    assert "replaced by the 2027 model" in str(record)
    assert any(v["version"] == 1 and v["status"] == "retired" for v in inventory["versions"])
