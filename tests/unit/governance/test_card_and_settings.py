"""The model card's sections, and settings that refuse to start on a default secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from services.governance.bootstrap import governance_from
from services.governance.inventory.card import CardFacts, render_card
from services.governance.settings import (
    SHIPPED_POLICIES,
    ConfigurationError,
    GovernanceSettings,
    load_settings,
)
from shared.events.common import CheckResult, DeploymentStrategy
from shared.events.governance import AuditRecord, Decision
from tests.support.events import HIGH_RISK, SIGNING_KEY_FILE, registered

GOOD_KEY = "q8Zr3kP0vX1mN7bT5yW2cL9sD4fG6hJ0"


def test_card_has_every_section_an_auditor_reads() -> None:
    reg = registered(
        "credit",
        3,
        metadata={**HIGH_RISK, "sensitive_attribute": "sex"},
        fairness={"demographic_parity_difference": 0.03},
        parent_version=2,
    )
    decision = Decision(
        policy="default",
        policy_version="1.0.0",
        policy_digest="f" * 64,
        checks=[
            CheckResult(
                name="metric.accuracy",
                passed=True,
                value=0.95,
                threshold={"min": 0.85},
                message="accuracy 0.95 meets >= 0.85",
            )
        ],
        approvers=["ann", "bob"],
        comments={"ann": "fine | good"},
        required_approvals=2,
        strategy=DeploymentStrategy(kind="canary", canary_weight=0.1),
    )
    deployed = AuditRecord(
        seq=9,
        model_seq=4,
        time="2025-01-01T00:00:00.000000Z",
        actor="deployer",
        action="model.deployed",
        model_name="credit",
        version=3,
        event_id="e",
        event_type="t",
        payload_sha256="p",
        summary={"arm": "canary", "weight": 0.1},
        prev_hash="0",
        hash="h",
    )
    card = render_card(CardFacts(reg, "approved", None, decision, [deployed]))
    for heading in (
        "# Model card: credit v3",
        "## Intended use",
        "## Data",
        "## Metrics",
        "## Fairness",
        "## Feature importance",
        "## Lineage",
        "## Governance decision",
        "## History",
    ):
        assert heading in card
    assert HIGH_RISK["intended_use"] in card
    assert "| demographic_parity_difference | 0.03 |" in card
    assert "parent version: v2" in card
    assert "Approved by: ann (fine | good), bob" in card
    assert "| model.deployed | deployer | arm=canary; weight=0.1 |" in card
    assert "canary (0.1 of traffic first)" in card


@pytest.mark.parametrize("key", ["", "   ", "changeme", "secret", "x" * 40, "short-but-random"])
def test_an_empty_default_or_weak_audit_key_is_refused(key: str) -> None:
    with pytest.raises(ValidationError, match="audit_key"):
        GovernanceSettings(audit_key=key, signing_key_file=SIGNING_KEY_FILE)  # type: ignore[arg-type]


def test_start_up_fails_with_the_setting_named_when_the_key_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MODELBUS_GOVERNANCE_AUDIT_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="MODELBUS_GOVERNANCE_AUDIT_KEY"):
        load_settings()
    monkeypatch.setenv("MODELBUS_GOVERNANCE_AUDIT_KEY", GOOD_KEY)
    monkeypatch.delenv("MODELBUS_GOVERNANCE_SIGNING_KEY_FILE", raising=False)
    settings = load_settings()  # enough for the audit tools, which sign nothing
    assert settings.audit_key.get_secret_value() == GOOD_KEY
    with pytest.raises(ConfigurationError, match="MODELBUS_GOVERNANCE_SIGNING_KEY_FILE"):
        governance_from(settings)  # the service itself does not start


def test_a_signing_key_that_is_not_ed25519_stops_start_up(tmp_path: Path) -> None:
    bad = tmp_path / "key.pem"
    bad.write_text("not a key")
    settings = GovernanceSettings(audit_key=GOOD_KEY, signing_key_file=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="SIGNING_KEY_FILE"):
        settings.signer()


def test_the_policy_directory_setting_overrides_shipped_policies(tmp_path: Path) -> None:
    shipped = (SHIPPED_POLICIES / "default.yaml").read_text()
    (tmp_path / "default.yaml").write_text(shipped.replace('version: "1.0.0"', 'version: "2"'))
    settings = GovernanceSettings(
        audit_key=GOOD_KEY,  # type: ignore[arg-type]
        signing_key_file=SIGNING_KEY_FILE,
        policy_dir=tmp_path,
    )
    governance = governance_from(settings)
    assert governance.policies["default"].policy.version == "2"
    assert governance.log.key == GOOD_KEY.encode()
