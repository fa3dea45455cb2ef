"""Policies load from YAML, are validated strictly, carry the digest of their file, and the
override directory replaces shipped policies by name."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from services.governance.policy.rules import (
    PolicyError,
    load_policies,
    load_policy,
    policy_name_for,
)
from services.governance.settings import SHIPPED_POLICIES
from shared.events.common import ModelMetadata

SHIPPED = (SHIPPED_POLICIES / "default.yaml").read_text()


def test_shipped_default_policy_is_valid_and_its_digest_is_the_file_sha256() -> None:
    loaded = load_policies(SHIPPED_POLICIES)["default"]
    assert (
        loaded.digest
        == hashlib.sha256((SHIPPED_POLICIES / "default.yaml").read_bytes()).hexdigest()
    )
    assert loaded.policy.tiers["low"].approvals == 0
    assert loaded.policy.tiers["high"].approvals == 2
    assert loaded.policy.tiers["high"].strategy.kind == "canary"


def test_override_directory_replaces_by_name_and_adds(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(SHIPPED.replace('version: "1.0.0"', 'version: "9"'))
    (tmp_path / "strict.yaml").write_text(SHIPPED.replace("name: default", "name: strict"))
    policies = load_policies(SHIPPED_POLICIES, tmp_path)
    assert policies["default"].policy.version == "9"
    assert policies["default"].path == tmp_path / "mine.yaml"
    assert policies["strict"].policy.version == "1.0.0"
    assert policies["default"].digest != policies["strict"].digest


@pytest.mark.parametrize(
    ("edit", "complaint"),
    [
        (lambda s: s.replace("  high:", "  extreme:"), "extreme"),
        (lambda s: s.replace("[owner]", "[owner, shoe_size]"), "shoe_size"),
        (lambda s: s.replace("{min: 0.70}", "{}"), "min"),
        (lambda s: s.replace("approvals: 0", "approvals: -1"), "approvals"),
        (lambda s: s + "\nsurprise: true\n", "surprise"),
        (lambda s: s.replace("kind: replace", "kind: yolo"), "kind"),
    ],
)
def test_invalid_policies_are_refused_with_the_reason(
    tmp_path: Path, edit: object, complaint: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(edit(SHIPPED))  # type: ignore[operator]
    with pytest.raises(PolicyError, match=complaint):
        load_policy(path)


def test_two_policies_with_one_name_or_no_default_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(SHIPPED.replace("name: default", "name: twin"))
    (tmp_path / "b.yaml").write_text(SHIPPED.replace("name: default", "name: twin"))
    with pytest.raises(PolicyError, match="two policies named 'twin'"):
        load_policies(SHIPPED_POLICIES, tmp_path)
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "a.yaml").write_text((tmp_path / "a.yaml").read_text())
    with pytest.raises(PolicyError, match="no policy named 'default'"):
        load_policies(alone)
    with pytest.raises(PolicyError, match="does not exist"):
        load_policies(SHIPPED_POLICIES, tmp_path / "missing")


def test_a_model_picks_its_policy_by_tag() -> None:
    assert policy_name_for(ModelMetadata()) == "default"
    assert policy_name_for(ModelMetadata(tags={"policy": "strict"})) == "strict"
