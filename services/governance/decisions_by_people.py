"""Decisions by people: approving or rejecting a version under review, and the kill switch.

Every use case takes the audit chain head first (:meth:`AuditLog.lock`): decisions are
serialised, so two approvers clicking at once cannot both complete a review, and a decided
version cannot be decided again (409). An approval counts once per person (the approvals
table's key). Each decision is emitted and recorded in the one transaction that changes
governance's state, with the correlation id of the version's registration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.governance.audit.log import SOURCE
from services.governance.policy.verdict import approval
from services.governance.recording import Governance, emit_decision
from shared.bus.unit_of_work import UnitOfWork, unit_of_work
from shared.errors import Conflict, Forbidden, NotFound
from shared.events.common import CheckResult
from shared.events.governance import Decision, ModelRejected, ModelSuspended
from shared.events.registry import ModelRegistered
from shared.http.auth import Principal
from shared.store.db import Connection


async def _version(conn: Connection, model: str, version: int) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT v.status, v.registration, v.correlation_id, r.status AS review,"
        " r.required_approvals, r.decision AS pending FROM versions v"
        " LEFT JOIN reviews r USING (model_name, version)"
        " WHERE v.model_name = $1 AND v.version = $2",
        model,
        version,
    )
    if row is None:
        raise NotFound(f"governance knows no version {version} of {model!r}")
    return row


async def _open_review(
    conn: Connection, governance: Governance, model: str, version: int
) -> asyncpg.Record:
    """The version under review, with the audit log locked for this transaction's decision."""
    await governance.log.lock(conn)
    row = await _version(conn, model, version)
    if row["review"] != "open":
        raise Conflict(
            f"{model} v{version} is already decided ({row['status']}); "
            "a decided version cannot be decided again"
        )
    return row


async def _approvals(conn: Connection, model: str, version: int) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            "SELECT approver, comment FROM approvals WHERE model_name = $1 AND version = $2"
            " ORDER BY approved_at, approver",
            model,
            version,
        )
    )


def _with_people(pending: str, approvals: list[asyncpg.Record], check: CheckResult) -> Decision:
    decision = Decision.model_validate_json(pending)
    return decision.model_copy(
        update={
            "checks": [*decision.checks, check],
            "approvers": [a["approver"] for a in approvals],
            "comments": {a["approver"]: a["comment"] for a in approvals if a["comment"]},
        }
    )


async def approve(
    pool: asyncpg.Pool,
    governance: Governance,
    model: str,
    version: int,
    who: Principal,
    comment: str,
) -> dict[str, Any]:
    """Count ``who``'s approval once; approve the version when enough people have."""
    async with unit_of_work(pool, SOURCE) as tx:
        conn = tx.conn
        row = await _open_review(conn, governance, model, version)
        reg = ModelRegistered.model_validate_json(row["registration"])
        if who.name in {reg.metadata.owner, reg.registered_by}:
            raise Forbidden(
                f"four-eyes rule: {who.name} owns or registered {model} and cannot approve it"
            )
        await conn.execute(
            "INSERT INTO approvals (model_name, version, approver, comment, approved_at)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            model,
            version,
            who.name,
            comment,
            datetime.now(UTC),
        )
        approvals = await _approvals(conn, model, version)
        required = row["required_approvals"]
        status = "in_review"
        if len(approvals) >= required:
            names = ", ".join(a["approver"] for a in approvals)
            check = CheckResult(
                name="approvals",
                passed=True,
                value=len(approvals),
                threshold=required,
                message=f"approved by {names}",
            )
            uow = UnitOfWork(conn, SOURCE, correlation_id=row["correlation_id"])
            decision = _with_people(row["pending"], approvals, check)
            await emit_decision(uow, approval(reg, decision), governance)
            status = "approved"
    return {
        "model_name": model,
        "version": version,
        "status": status,
        "approvers": [a["approver"] for a in approvals],
        "required_approvals": required,
    }


async def reject(
    pool: asyncpg.Pool,
    governance: Governance,
    model: str,
    version: int,
    who: Principal,
    comment: str,
) -> dict[str, Any]:
    async with unit_of_work(pool, SOURCE) as tx:
        conn = tx.conn
        row = await _open_review(conn, governance, model, version)
        approvals = await _approvals(conn, model, version)
        check = CheckResult(
            name="review",
            passed=False,
            value=f"rejected by {who.name}",
            threshold=f"{row['required_approvals']} approval(s)",
            message=comment,
        )
        uow = UnitOfWork(conn, SOURCE, correlation_id=row["correlation_id"])
        await emit_decision(
            uow,
            ModelRejected(
                model_name=model,
                version=version,
                decision=_with_people(row["pending"], approvals, check),
                failed_checks=["review"],
                actor=who.name,
                comment=comment,
            ),
            governance,
        )
    return {"model_name": model, "version": version, "status": "rejected"}


async def suspend(
    pool: asyncpg.Pool,
    governance: Governance,
    model: str,
    version: int,
    who: Principal,
    reason: str,
) -> dict[str, Any]:
    """The kill switch: an approved version must stop serving now."""
    async with unit_of_work(pool, SOURCE) as tx:
        conn = tx.conn
        await governance.log.lock(conn)
        row = await _version(conn, model, version)
        if row["status"] != "approved":
            raise Conflict(
                f"{model} v{version} is {row['status']}; only an approved version can be suspended"
            )
        uow = UnitOfWork(conn, SOURCE, correlation_id=row["correlation_id"])
        await emit_decision(
            uow,
            ModelSuspended(model_name=model, version=version, reason=reason, actor=who.name),
            governance,
        )
    return {"model_name": model, "version": version, "status": "suspended"}
