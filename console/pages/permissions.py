"""Which buttons a person gets, and why one is disabled.

This only decides what the page offers; the services decide what is allowed (the
console forwards the person's own token). The reasons mirror their rules so a refusal is
explained before it is met: roles from ``shared.http.auth.GRANTS``, and governance's
four-eyes rule (never the owner or the registrant, never the same approver twice).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shared.http.auth import GRANTS


@dataclass(frozen=True)
class Action:
    """A button: shown when ``shown``; enabled unless ``disabled_because`` says why not."""

    shown: bool
    disabled_because: str | None = None

    @property
    def enabled(self) -> bool:
        return self.shown and self.disabled_because is None


HIDDEN = Action(shown=False)


def has_role(role: str, needed: str) -> bool:
    return role in GRANTS.get(needed, frozenset())  # type: ignore[call-overload]


def decide_review(
    role: str,
    person: str,
    *,
    requester: str | None,
    registrant: str | None,
    approvers: Iterable[str],
) -> Action:
    """Approve or reject a version in review, for ``person``'s principal id.

    The same ids governance's four-eyes rule compares (who asked for the training, who
    registered it, who approved already); names and ``metadata.owner`` are free text and
    decide nothing, so the hint matches what governance will answer."""
    if not has_role(role, "approver"):
        return HIDDEN
    if person in {requester, registrant}:
        return Action(True, "four-eyes: you asked for the training of or registered this version")
    if person in set(approvers):
        return Action(True, "you have already approved this version; another approver must")
    return Action(True)


def steer_deployment(role: str, *, has_candidate: bool, has_previous: bool) -> dict[str, Action]:
    """Promote a canary, roll back, and suspend (the kill switch, admins only)."""
    if not has_role(role, "approver"):
        return {"promote": HIDDEN, "rollback": HIDDEN, "suspend": HIDDEN}
    promote = Action(True, None if has_candidate else "no candidate is in canary or shadow")
    rollback = Action(
        True,
        None if has_candidate or has_previous else "no candidate and no previous version",
    )
    suspend = (
        Action(True) if has_role(role, "admin") else Action(True, "suspending needs the admin role")
    )
    return {"promote": promote, "rollback": rollback, "suspend": suspend}
