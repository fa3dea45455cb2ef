"""Payloads of the identity topics: API tokens issued and revoked, for the audit trail.

Written by the auth component (``shared.http.auth``: ``modelbus token create|revoke``, or a
service issuing one) into ``auth.outbox`` in the transaction that changes the token, and
relayed by governance, which records each in its audit log (one chain per principal).
"""

from __future__ import annotations

from shared.events.common import Payload


class TokenIssued(Payload):
    principal_id: str  # token:<token id>, what decisions and the audit record
    token_id: str
    name: str  # what the token was issued for: free text, not an identity
    role: str
    created_by: str | None = None


class TokenRevoked(Payload):
    principal_id: str
    token_id: str
    revoked_by: str | None = None
