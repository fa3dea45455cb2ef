"""``modelbus up`` hands each service only the secrets it needs."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from modelbus.stack import RunningStack, _service_env
from shared.events.signing import DecisionVerifier
from shared.settings import DEFAULT_PORTS

AUDIT = "MODELBUS_GOVERNANCE_AUDIT_KEY"
SIGNING = "MODELBUS_GOVERNANCE_SIGNING_KEY_FILE"


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunningStack:
    for name in (AUDIT, SIGNING, "MODELBUS_DECISION_KEYS"):
        monkeypatch.delenv(name, raising=False)
    return RunningStack(home=tmp_path, database_url="postgresql://db", kafka_bootstrap="k:9092")


def test_governance_alone_gets_the_checkpoint_and_signing_keys(stack: RunningStack) -> None:
    envs = {name: _service_env(stack, port, 0, name) for name, port in DEFAULT_PORTS.items()}
    governance = envs.pop("governance")
    assert len(governance[AUDIT]) >= 32
    key_file = Path(governance[SIGNING])
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.parent == stack.home / "secrets"
    for name, env in envs.items():
        assert not [k for k in env if k.startswith("MODELBUS_GOVERNANCE_")], name
        assert governance[AUDIT] not in env.values()


def test_every_service_trusts_the_generated_public_key_and_keeps_rotating_ones(
    stack: RunningStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _service_env(stack, 8080, 0, "deployer")["MODELBUS_DECISION_KEYS"]
    assert first == (stack.home / "secrets" / "decision-signing-key.pub").read_text().strip()
    assert len(DecisionVerifier.of([first]).keys) == 1
    again = _service_env(stack, 8081, 0, "registry")["MODELBUS_DECISION_KEYS"]
    assert again == first  # generated once per home

    old = "A" * 43 + "="
    monkeypatch.setenv("MODELBUS_DECISION_KEYS", old)
    assert _service_env(stack, 8080, 0, "deployer")["MODELBUS_DECISION_KEYS"] == f"{old},{first}"
