"""A model card per version, in Markdown, from what governance knows about that version."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shared.events.governance import AuditRecord, Decision
from shared.events.registry import ModelRegistered

DEPLOYMENT_ACTIONS = (
    "model.approved",
    "model.rejected",
    "review.requested",
    "model.deployed",
    "model.promoted",
    "model.rolled_back",
    "model.suspended",
    "model.retired",
    "deployment.failed",
    "drift.detected",
    "performance.degraded",
    "monitor.alert_resolved",
)


@dataclass(frozen=True)
class CardFacts:
    registration: ModelRegistered
    status: str
    status_reason: str | None
    decision: Decision | None
    history: list[AuditRecord]  # the version's audit records, in chain order


def _cell(value: Any) -> str:
    text = (
        value
        if isinstance(value, str)
        else f"{value:g}"
        if isinstance(value, float)
        else "—"
        if value is None
        else str(value)
    )
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> list[str]:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines if len(lines) > 2 else ["_None recorded._"]


def render_card(facts: CardFacts) -> str:
    reg, meta = facts.registration, facts.registration.metadata
    out = [
        f"# Model card: {reg.model_name} v{reg.version}",
        "",
        f"- **Status:** {facts.status}"
        + (f" ({facts.status_reason})" if facts.status_reason else ""),
        f"- **Task:** {reg.task} · **Risk tier:** {meta.risk_tier} · **Owner:** "
        f"{meta.owner or '—'} · **Team:** {meta.team or '—'}",
        "",
        "## Intended use",
        "",
        meta.intended_use or "_Not stated._",
        "",
        "## Description",
        "",
        meta.description or "_Not stated._",
        "",
        "## Data",
        "",
        f"- Dataset SHA-256: `{reg.dataset_sha256 or 'unknown'}`",
        f"- Training job: {reg.training_job_id or '—'}",
        f"- Sensitive attribute: {meta.sensitive_attribute or 'none declared'}",
        "",
        "## Metrics (holdout)",
        "",
        *_table(["metric", "value"], sorted(reg.metrics.items())),
        "",
        "## Fairness",
        "",
        *_table(["measure", "value"], sorted(reg.fairness.items())),
        "",
        "## Feature importance",
        "",
        *_table(
            ["feature", "importance"],
            sorted(reg.feature_importance.items(), key=lambda i: -i[1])[:20],
        ),
        "",
        "## Lineage",
        "",
        f"- Artifact: `{reg.artifact.uri}` (SHA-256 `{reg.artifact.sha256}`, "
        f"{reg.artifact.size} bytes)",
        f"- Source: {reg.source}; registered by {reg.registered_by or '—'}",
        f"- Algorithm: {reg.algorithm or '—'}; parent version: "
        f"{f'v{reg.parent_version}' if reg.parent_version else '—'}",
        f"- ONNX parity with the trained model: {'passed' if reg.parity_passed else 'not shown'}",
        "",
        *_decision(facts.decision),
        "## History",
        "",
        *_table(
            ["time", "event", "actor", "details"],
            [
                (r.time, r.action, r.actor, _details(r.summary))
                for r in facts.history
                if r.action in DEPLOYMENT_ACTIONS
            ],
        ),
        "",
    ]
    return "\n".join(out)


def _decision(decision: Decision | None) -> list[str]:
    if decision is None:
        return ["## Governance decision", "", "_No decision yet._", ""]
    approvers = [
        f"{a} ({decision.comments[a]})" if decision.comments.get(a) else a
        for a in decision.approvers
    ]
    return [
        "## Governance decision",
        "",
        f"Policy `{decision.policy}` version {decision.policy_version or '—'} "
        f"(SHA-256 `{decision.policy_digest or '—'}`), {decision.required_approvals} human "
        f"approval(s) required.",
        "",
        *_table(
            ["check", "result", "value", "threshold", "note"],
            [
                (c.name, "pass" if c.passed else "FAIL", c.value, c.threshold, c.message)
                for c in decision.checks
            ],
        ),
        "",
        f"- Approved by: {', '.join(approvers) or '—'}",
        f"- Deployment strategy: {decision.strategy.kind}"
        + (
            f" ({decision.strategy.canary_weight:g} of traffic first)"
            if decision.strategy.kind == "canary"
            else ""
        ),
        "",
    ]


def _details(summary: dict[str, Any]) -> str:
    keys = (
        "arm",
        "weight",
        "reason",
        "previous_version",
        "restored_version",
        "approvers",
        "failed_checks",
        "comment",
        "stage",
        "alert_id",
        "metric",
        "value",
    )
    return "; ".join(f"{k}={summary[k]}" for k in keys if summary.get(k) not in (None, [], ""))
