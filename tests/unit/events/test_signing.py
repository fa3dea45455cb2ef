"""Governance's signature: what it covers, rotation, and what a consumer refuses."""

from __future__ import annotations

import pytest

from shared.events.envelope import decode, encode, new_event
from shared.events.signing import DecisionSigner, DecisionVerifier, UntrustedDecision
from shared.events.signing import generate_private_key_pem as new_key
from tests.support.events import DECISION_KEY, SIGNER, approved, signed, suspended

TRUSTED = DecisionVerifier.of([DECISION_KEY])


def test_a_signed_decision_verifies_after_the_wire_and_carries_its_sequence() -> None:
    event = decode(encode(signed(approved(), govseq=42)))
    TRUSTED.verify(event)
    assert event.govseq == 42 and event.govkeyid and event.govsig


def test_an_unsigned_decision_is_refused() -> None:
    with pytest.raises(UntrustedDecision, match="not signed") as refused:
        TRUSTED.verify(new_event(approved(), source="governance"))
    assert refused.value.reason == "unsigned"


@pytest.mark.parametrize(
    "tamper",
    [
        {"data": {"artifact": {"sha256": "cd" * 32}}},  # another artifact
        {"govseq": 43},  # moved later in governance's sequence
        {"subject": "another-model"},
        {"id": "another-id"},
        {"type": "io.modelbus.model.suspended.v1"},
    ],
)
def test_changing_what_the_signature_covers_breaks_it(tamper: dict[str, object]) -> None:
    import orjson

    doc = orjson.loads(encode(signed(approved(), govseq=42)))
    for field, value in tamper.items():
        if isinstance(value, dict):
            for inner, changed in value.items():
                doc[field][inner] = {**doc[field][inner], **changed}  # type: ignore[dict-item]
        else:
            doc[field] = value
    if doc["type"] != "io.modelbus.model.approved.v1":
        doc["data"] = suspended().model_dump(mode="json")
    with pytest.raises(UntrustedDecision) as refused:
        TRUSTED.verify(decode(orjson.dumps(doc)))
    assert refused.value.reason == "bad_signature"


def test_time_is_not_signed_so_nothing_may_decide_by_it() -> None:
    """Re-dating a decision keeps its signature: precedence must come from govseq."""
    import orjson

    doc = orjson.loads(encode(signed(approved(), govseq=42)))
    doc["time"] = "2099-01-01T00:00:00Z"
    TRUSTED.verify(decode(orjson.dumps(doc)))


def test_a_key_nobody_trusts_is_refused_and_rotation_trusts_two() -> None:
    other = DecisionSigner.from_pem(new_key())
    forged = signed(approved(), signer=other)
    with pytest.raises(UntrustedDecision) as refused:
        TRUSTED.verify(forged)
    assert refused.value.reason == "unknown_key"
    rotating = DecisionVerifier.of([DECISION_KEY, other.public_key_text])
    rotating.verify(forged)
    rotating.verify(signed(approved()))


def test_a_malformed_trusted_key_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="base64"):
        DecisionVerifier.of(["not base64!"])
    with pytest.raises(ValueError, match="32 bytes"):
        DecisionVerifier.of(["YWJj"])


def test_the_signer_round_trips_its_public_key() -> None:
    assert DecisionVerifier.of([SIGNER.public_key_text]).keys
