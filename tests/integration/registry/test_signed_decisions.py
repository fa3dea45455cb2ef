"""The registry acts on governance's decisions only when they are signed by a trusted key:
a forged approval or suspension is dead-lettered by the registry's consumer, with the
reason, and the version's status does not move."""

from __future__ import annotations

import pytest

from shared.events.envelope import new_event
from tests.integration.registry.conftest import LOOP, Registry
from tests.support.bus import collect, publish
from tests.support.events import approved, signed, suspended
from tests.support.polling import eventually

pytestmark = [pytest.mark.integration, LOOP]


async def test_the_registry_dead_letters_a_forged_decision_and_keeps_the_status(
    registry: Registry, unique: str
) -> None:
    name = f"forged-{unique}"
    forged = new_event(suspended(name, 1), source="governance")  # no signature
    await publish(registry.bootstrap, forged)
    genuine = signed(approved(name, 1))
    await publish(registry.bootstrap, genuine)

    letters = await collect(
        registry.bootstrap,
        "model.suspended.dlq",
        raw=True,
        where=lambda r: (
            dict(r.headers).get("modelbus.dlq.consumer") == b"registry" and r.key == name.encode()
        ),
        until=lambda found: len(found) >= 1,
    )
    headers = {k: v.decode() for k, v in letters[0].headers}
    assert headers["modelbus.dlq.error_class"] == "UntrustedDecision"
    assert "not signed by governance" in headers["modelbus.dlq.error_message"]

    assert registry.service.infra is not None
    pool = registry.service.infra.pool

    async def recorded() -> list[str] | None:
        rows = await pool.fetch(
            "SELECT topic FROM lifecycle_events WHERE model_name = $1 ORDER BY topic", name
        )
        return [r["topic"] for r in rows] or None

    # The signed approval is recorded; the forged suspension never is.
    assert await eventually(recorded, timeout=30, what="the approval recorded") == [
        "model.approved"
    ]
