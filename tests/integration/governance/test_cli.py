"""The people's commands against the running service: review list, approve, reject,
suspend, audit tail and checkpoint (each the real command, in-process, with its token)."""

from __future__ import annotations

import asyncio
import contextlib
import io

import pytest

from modelbus.cli import main
from tests.integration.governance.conftest import FOREIGN_REPLIES, LOOP, Governance
from tests.support.events import HIGH_RISK, registered

pytestmark = [pytest.mark.integration, LOOP]


@pytest.fixture
def modelbus(governance: Governance, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MODELBUS_GOVERNANCE_URL", f"http://127.0.0.1:{governance.service.port}")

    async def run(who: str, *argv: str) -> tuple[int, str]:
        monkeypatch.setenv("MODELBUS_TOKEN", governance.tokens[who])
        out = io.StringIO()

        def call() -> int:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                return main(list(argv))

        return await asyncio.to_thread(call), out.getvalue()

    return run


async def test_review_approve_suspend_and_read_the_trail(
    governance: Governance,
    unique: str,
    modelbus,  # type: ignore[no-untyped-def]
) -> None:
    name = f"cli-{unique}"
    olivia = governance.id("olivia")
    await governance.publish(
        registered(name, accuracy=0.95, metadata=HIGH_RISK, registered_by=olivia)
    )
    await governance.next_event("review.requested", name)

    code, listed = await modelbus("vic", "review", "list")
    assert code == 0 and name in listed and "0/2" in listed
    code, said = await modelbus("olivia", "approve", name, "1")
    assert code == 1 and "403" in said and "four-eyes" in said
    # The service logs in this same process; its lines may land in the captured output.
    code, said = await modelbus("ann", "approve", name, "1", "--comment", "fine")
    ann, bob = governance.id("ann"), governance.id("bob")
    assert code == 0 and f"approval recorded: 1 of 2 ({ann})" in said.splitlines()
    code, said = await modelbus("bob", "approve", name, "1")
    assert code == 0 and f"{name} v1 approved by {ann}, {bob}" in said.splitlines()
    code, said = await modelbus("carol", "reject", name, "1", "--comment", "too late")
    assert code == 1 and "409" in said

    code, said = await modelbus("ann", "suspend", name, "1", "--reason", "bias")
    assert code == 1 and "403" in said
    code, said = await modelbus("root", "suspend", name, "1", "--reason", "bias in production")
    assert code == 0 and "suspended" in said
    await governance.next_event("model.suspended", name)

    code, trail = await modelbus("vic", "audit", "tail", "--model", name)
    lines = [
        line
        for line in trail.splitlines()
        if line.startswith("#") and line.split()[4] not in FOREIGN_REPLIES
    ]
    assert code == 0 and len(lines) == 4, trail
    assert [line.split()[4] for line in lines] == [
        "model.registered",
        "review.requested",
        "model.approved",
        "model.suspended",
    ]
    assert f"by {ann},{bob}" in lines[2] and "reason=bias in production" in lines[3]
    code, signed = await modelbus("root", "audit", "checkpoint")
    assert code == 0 and signed.startswith("signed checkpoint at seq ")
    code, said = await modelbus("vic", "audit", "checkpoint")
    assert code == 1 and "403" in said
