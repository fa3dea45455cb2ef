"""Governance's signature on its decisions: Ed25519 over what the decision says and where
it stands in governance's sequence.

Decisions (the topics marked ``signed`` in the topic table: ``review.requested``,
``model.approved``, ``model.rejected``, ``model.suspended``, ``model.retired``) carry three
CloudEvents extension attributes:

* ``govseq``, governance's sequence number, strictly increasing in the order decisions
  were taken (allocated under the audit chain head lock); it, not the sender's ``time``,
  says which of two decisions about a version came last;
* ``govkeyid``, the key that signed (the first 16 hex digits of the SHA-256 of the raw
  public key), so that several keys can be trusted at once while one is rotated out;
* ``govsig``, the base64 Ed25519 signature of :func:`signed_bytes`: the canonical JSON of
  the event's ``id``, ``type``, ``subject``, ``govseq`` and ``data``. ``time``, ``source`` and
  the chain ids are not covered: nothing that decides precedence or effect may read them.

This module is the one place that signs or verifies; governance holds the private key,
every other consumer of a decision a :class:`DecisionVerifier` over trusted public keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.errors import InvalidEvent
from shared.events.envelope import Event


class UntrustedDecision(InvalidEvent):
    """A decision that does not verify: unsigned, signed by an unknown key, badly signed
    or replayed. It is dead-lettered with this reason and never acted on."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason  # unsigned | unknown_key | bad_signature | replayed


def signed_bytes(event: Event[Any], govseq: int) -> bytes:
    """What the signature covers, in the one canonical JSON form."""
    body = {
        "id": event.id,
        "type": event.type,
        "subject": event.subject,
        "govseq": govseq,
        "data": event.data.model_dump(mode="json", by_alias=True),
    }
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def public_key_text(key: Ed25519PublicKey) -> str:
    """A public key as settings hold it: base64 of the 32 raw bytes."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def key_id(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def parse_public_key(text: str) -> Ed25519PublicKey:
    """A trusted key from its base64 text; ``ValueError`` naming what is wrong."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a decision key is not base64") from exc
    if len(raw) != 32:
        raise ValueError(f"a decision key must be 32 bytes of Ed25519, not {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def generate_private_key_pem() -> bytes:
    """A new signing key as PKCS#8 PEM (``modelbus up`` writes it, mode 0600)."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True)
class DecisionSigner:
    """Governance's private key; :meth:`sign` returns the event with its three attributes."""

    key: Ed25519PrivateKey

    @classmethod
    def from_pem(cls, pem: bytes) -> DecisionSigner:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the decision signing key is not an Ed25519 private key")
        return cls(key)

    @classmethod
    def from_file(cls, path: Path) -> DecisionSigner:
        return cls.from_pem(path.read_bytes())

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.key.public_key()

    @property
    def public_key_text(self) -> str:
        return public_key_text(self.public_key)

    def sign(self, event: Event[Any], govseq: int) -> Event[Any]:
        signature = self.key.sign(signed_bytes(event, govseq))
        return event.model_copy(
            update={
                "govseq": govseq,
                "govkeyid": key_id(self.public_key),
                "govsig": base64.b64encode(signature).decode(),
            }
        )


@dataclass(frozen=True)
class DecisionVerifier:
    """The public keys whose signatures a consumer trusts, by key id (rotation: several)."""

    keys: Mapping[str, Ed25519PublicKey]

    @classmethod
    def of(cls, texts: Iterable[str]) -> DecisionVerifier:
        keys = [parse_public_key(t) for t in texts if t.strip()]
        return cls({key_id(k): k for k in keys})

    def verify(self, event: Event[Any]) -> None:
        """Return if ``event`` is signed by a trusted key; raise :class:`UntrustedDecision`."""
        if event.govsig is None or event.govseq is None or event.govkeyid is None:
            raise UntrustedDecision(
                f"{event.type} is not signed by governance (govseq, govkeyid and govsig "
                "are required)",
                reason="unsigned",
            )
        key = self.keys.get(event.govkeyid)
        if key is None:
            raise UntrustedDecision(
                f"{event.type} is signed with key {event.govkeyid[:16]!r}, which is not "
                "trusted here",
                reason="unknown_key",
            )
        try:
            signature = base64.b64decode(event.govsig, validate=True)
            key.verify(signature, signed_bytes(event, event.govseq))
        except (InvalidSignature, binascii.Error, ValueError):
            raise UntrustedDecision(
                f"{event.type} has a signature that does not verify with key "
                f"{event.govkeyid!r}: the decision was altered or forged",
                reason="bad_signature",
            ) from None
