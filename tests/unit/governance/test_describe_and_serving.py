"""Audit descriptions of events, and the serving fold used for "now" and "as of T"."""

from __future__ import annotations

from typing import Any

from services.governance.audit.describe import describe
from services.governance.inventory.serving import approved_after, next_serving, serving_after
from shared.events.envelope import new_event
from shared.events.governance import Decision, ModelApproved, ModelSuspended
from shared.events.monitoring import MultivariateDrift
from shared.events.registry import RiskTierLowered
from shared.events.topics import consumed_by
from tests.support.events import SHA, deployed, drift, promoted, registered, rolled_back

LIFECYCLE = {
    "training.completed",
    "training.failed",
    "model.registered",
    "model.registration_failed",
    "model.risk_tier_lowered",
    "review.requested",
    "model.approved",
    "model.rejected",
    "model.suspended",
    "model.retired",
    "model.deployed",
    "model.promoted",
    "model.rolled_back",
    "deployment.failed",
    "drift.detected",
    "performance.degraded",
    "monitor.alert_resolved",
    "auth.token_issued",  # identity changes are audited too
    "auth.token_revoked",
}


def test_governance_consumes_every_lifecycle_topic_it_must_audit() -> None:
    assert set(consumed_by("governance")) == LIFECYCLE


def test_descriptions_name_actor_version_and_what_an_auditor_asks_first() -> None:
    reg = registered("m", registered_by="ci-bot")
    about = describe(new_event(reg, source="registry"))
    assert (about.actor, about.action, about.version) == ("ci-bot", "model.registered", 1)
    assert about.summary["artifact_sha256"] == SHA
    decision = Decision(
        policy="default",
        policy_version="1",
        policy_digest="d" * 64,
        checks=[],
        approvers=["ann", "bob"],
        comments={"ann": "ok"},
    )
    approved = describe(
        new_event(
            ModelApproved(model_name="m", version=1, artifact=reg.artifact, decision=decision),
            source="governance",
        )
    )
    assert approved.actor == "ann,bob"
    assert approved.summary["policy_digest"] == "d" * 64
    assert approved.summary["comments"] == {"ann": "ok"}
    deploy = describe(new_event(deployed("m", 1, "canary", 0.1), source="deployer"))
    assert deploy.actor == "deployer" and deploy.summary["arm"] == "canary"
    assert "replica" in deploy.summary and None not in deploy.summary.values()


def _fold(*payloads: Any) -> list[dict[str, Any]]:
    records = []
    for p in payloads:
        about = describe(new_event(p, source="test"))
        records.append({"action": about.action, "version": about.version, "summary": about.summary})
    return records


def test_canary_promotion_and_rollback() -> None:
    steps = _fold(deployed("m", 1), deployed("m", 2, "canary", 0.1))
    assert serving_after(steps) == {
        "1": {"arm": "stable", "weight": 1.0},
        "2": {"arm": "canary", "weight": 0.1},
    }
    promoted_state = serving_after([*steps, *_fold(promoted("m", 2, 1))])
    assert promoted_state == {"2": {"arm": "stable", "weight": 1.0}}
    rolled = serving_after([*steps, *_fold(promoted("m", 2, 1), rolled_back("m", 2, 1))])
    assert rolled == {"1": {"arm": "stable", "weight": 1.0}}


def test_a_new_stable_deployment_replaces_the_old_and_suspension_stops_serving() -> None:
    assert serving_after(_fold(deployed("m", 1), deployed("m", 2))) == {
        "2": {"arm": "stable", "weight": 1.0}
    }
    suspended = ModelSuspended(model_name="m", version=2, reason="bias", actor="root")
    assert serving_after(_fold(deployed("m", 2), suspended)) == {}
    assert next_serving({}, "model.deployed", None, {}) == {}


def test_approved_versions_as_of_a_point_in_the_trail() -> None:
    records = [
        {"action": "model.approved", "version": 1},
        {"action": "model.approved", "version": 2},
        {"action": "model.suspended", "version": 1},
    ]
    assert approved_after(records[:2]) == [1, 2]
    assert approved_after(records) == [2]


def test_a_lowered_risk_tier_is_audited_with_who_lowered_it_and_why() -> None:
    lowered = RiskTierLowered(model_name="m", risk_tier="low", previous="high", actor="ann",
                              reason="internal use only")  # fmt: skip
    about = describe(new_event(lowered, source="registry"))
    assert (about.actor, about.action) == ("ann", "model.risk_tier_lowered")
    assert about.summary == {"risk_tier": "low", "previous": "high", "reason": "internal use only"}


def test_a_drift_description_says_whether_the_features_drifted_together() -> None:
    together = MultivariateDrift(
        statistic=2.4,
        reference=1.0,
        threshold=1.6,
        p_value=0.0001,
        drifted=True,
        components=3,
        columns=5,
        reference_n=500,
        current_n=300,
    )
    alert = drift("m", features=[]).model_copy(update={"multivariate": together})
    about = describe(new_event(alert, source="monitor"))
    assert about.summary["top_features"] == []  # no single feature drifted
    assert about.summary["multivariate"] == {
        "method": "pca_reconstruction",
        "drifted": True,
        "statistic": 2.4,
        "threshold": 1.6,
        "p_value": 0.0001,
    }
    # Without a multivariate test the description is what it always was.
    assert "multivariate" not in describe(new_event(drift("m"), source="monitor")).summary
