"""Issuing and revoking a token are audit records: written to the auth outbox with the
token, relayed by governance, appended to its log in the principal's own chain."""

from __future__ import annotations

import pytest

from shared.http.auth import principal_id
from tests.integration.governance.conftest import LOOP, Governance

pytestmark = [pytest.mark.integration, LOOP]


async def test_token_issuance_and_revocation_are_audited(governance: Governance) -> None:
    assert governance.service.infra is not None
    auth, pool = governance.service.infra.auth, governance.service.infra.pool
    token = await auth.issue("temp-contractor", "approver", created_by="cli")
    token_id = token.split("_")[1]
    assert await auth.revoke(token_id, revoked_by="cli")
    assert not await auth.revoke(token_id, revoked_by="cli")  # once: nothing more to audit

    async def trail() -> list[tuple[str, str, str]] | None:
        rows = await pool.fetch(
            "SELECT action, actor, summary FROM audit_log WHERE model_name = $1 ORDER BY seq",
            principal_id(token_id),
        )
        found = [(r["action"], r["actor"], r["summary"]) for r in rows]
        return found if len(found) == 2 else None

    found = await governance.wait_for(trail, "token events audited")
    # Two topics: governance may append them in either order; each carries its own time.
    assert sorted((action, actor) for action, actor, _ in found) == [
        ("auth.token_issued", "cli"),
        ("auth.token_revoked", "cli"),
    ]
    [issued] = [summary for action, _, summary in found if action == "auth.token_issued"]
    assert '"role":"approver"' in issued and "temp-contractor" in issued
    assert token.split("_", 2)[2] not in str(found)  # the secret is never audited
