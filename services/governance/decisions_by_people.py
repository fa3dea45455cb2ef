"""Decisions by people: approving or rejecting a version under review, the kill switch, and
retirement.

Every use case takes the audit chain head first (:meth:`AuditLog.lock`): decisions are
serialised, so two approvers clicking at once cannot both complete a review, and a decided
version cannot be decided again (409). An approval counts once per person (the approvals
table's key). Each decision is emitted and recorded in the one unit of work that changes
governance's state, continuing the correlation chain of the version's registration.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.governance.policy.verdict import approval
from services.governance.recording import Governance, emit_decision
from services.governance.store import reviews
from services.governance.store.reviews import GivenApproval, Review, VersionUnderDecision
from shared.bus.unit_of_work import Transactions, UnitOfWork
from shared.errors import Conflict, Forbidden, NotFound
from shared.events.common import CheckResult, Payload
from shared.events.governance import Decision, ModelRejected, ModelRetired, ModelSuspended

# What may be retired: a version that was once allowed to serve.
RETIRABLE = frozenset({"approved", "suspended"})


@dataclass(frozen=True)
class PeopleDecisions:
    """The use cases, over the service's transactions; ``by`` is the principal id of the
    person deciding (their token's, ``shared.http.auth.Principal.id``), never a name."""

    transactions: Transactions
    governance: Governance

    async def approve(self, model: str, version: int, by: str, comment: str) -> dict[str, Any]:
        """Count ``by``'s approval once; approve the version when enough people have.

        Four-eyes compares principal ids: whoever asked for the version's training or
        registered it cannot approve it, whatever name their token or ``metadata.owner``
        carries (both are free text)."""
        async with self._open_review(model, version) as (uow, state, review):
            reg = state.registration
            if by in {reg.requested_by, reg.registered_by}:
                raise Forbidden(
                    f"four-eyes rule: {by} requested the training of or registered {model} "
                    f"v{version} and cannot approve it"
                )
            given = GivenApproval(by, comment)
            await reviews.add_approval(uow.conn, model, version, given, datetime.now(UTC))
            approvals = await reviews.approvals(uow.conn, model, version)
            required = review.required_approvals
            status = "in_review"
            if len(approvals) >= required:
                names = ", ".join(a.approver for a in approvals)
                check = CheckResult(
                    name="approvals",
                    passed=True,
                    value=len(approvals),
                    threshold=required,
                    message=f"approved by {names}",
                )
                decision = _with_people(review, approvals, check)
                await self._decide(uow, state, approval(reg, decision))
                status = "approved"
        return {
            "model_name": model,
            "version": version,
            "status": status,
            "approvers": [a.approver for a in approvals],
            "required_approvals": required,
        }

    async def reject(self, model: str, version: int, by: str, comment: str) -> dict[str, Any]:
        async with self._open_review(model, version) as (uow, state, review):
            approvals = await reviews.approvals(uow.conn, model, version)
            check = CheckResult(
                name="review",
                passed=False,
                value=f"rejected by {by}",
                threshold=f"{review.required_approvals} approval(s)",
                message=comment,
            )
            rejected = ModelRejected(
                model_name=model,
                version=version,
                decision=_with_people(review, approvals, check),
                failed_checks=["review"],
                actor=by,
                comment=comment,
            )
            await self._decide(uow, state, rejected)
        return {"model_name": model, "version": version, "status": "rejected"}

    async def suspend(self, model: str, version: int, by: str, reason: str) -> dict[str, Any]:
        """The kill switch: an approved version must stop serving now."""
        async with self._deciding(model, version) as (uow, state):
            if state.status != "approved":
                raise Conflict(
                    f"{model} v{version} is {state.status}; only an approved version can be "
                    "suspended"
                )
            suspended = ModelSuspended(model_name=model, version=version, reason=reason, actor=by)
            await self._decide(uow, state, suspended)
        return {"model_name": model, "version": version, "status": "suspended"}

    async def retire(self, model: str, version: int, by: str, reason: str) -> dict[str, Any]:
        """End of life: an approved or suspended version leaves service for good.

        A retired version is never decided on again (approval needs an open review, and
        its review was closed when it was approved); serving it again takes a new
        registration, hence a new version number."""
        async with self._deciding(model, version) as (uow, state):
            if state.status not in RETIRABLE:
                raise Conflict(
                    f"{model} v{version} is {state.status}; only an approved or suspended "
                    "version can be retired"
                )
            retired = ModelRetired(model_name=model, version=version, reason=reason, actor=by)
            await self._decide(uow, state, retired)
        return {"model_name": model, "version": version, "status": "retired"}

    @asynccontextmanager
    async def _deciding(
        self, model: str, version: int
    ) -> AsyncIterator[tuple[UnitOfWork, VersionUnderDecision]]:
        """One unit of work holding the audit chain head, and the version as it stands."""
        async with self.transactions.begin() as uow:
            await self.governance.log.lock(uow.conn)
            state = await reviews.version_under_decision(uow.conn, model, version)
            if state is None:
                raise NotFound(f"governance knows no version {version} of {model!r}")
            yield uow, state

    @asynccontextmanager
    async def _open_review(
        self, model: str, version: int
    ) -> AsyncIterator[tuple[UnitOfWork, VersionUnderDecision, Review]]:
        """:meth:`_deciding`, for a version people are still asked to decide on."""
        async with self._deciding(model, version) as (uow, state):
            if state.status == "retired":
                raise Conflict(
                    f"{model} v{version} is retired and cannot be decided on again; "
                    "register the model anew to serve it"
                )
            if state.review is None or state.review.status != "open":
                raise Conflict(
                    f"{model} v{version} is already decided ({state.status}); "
                    "a decided version cannot be decided again"
                )
            yield uow, state, state.review

    async def _decide(self, uow: UnitOfWork, state: VersionUnderDecision, payload: Payload) -> None:
        await emit_decision(uow, payload, self.governance, correlation_id=state.correlation_id)


def _with_people(review: Review, approvals: list[GivenApproval], check: CheckResult) -> Decision:
    """The policy's decision that asked for people, completed with what they decided."""
    pending = review.pending
    return pending.model_copy(
        update={
            "checks": [*pending.checks, check],
            "approvers": [a.approver for a in approvals],
            "comments": {a.approver: a.comment for a in approvals if a.comment},
        }
    )
