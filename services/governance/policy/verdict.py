"""Governance's answer to a registered version: approve it, reject it, or ask people.

Pure, like the evaluation: the caller supplies the policies in force and the champion.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.governance.policy.evaluate import Champion, Evaluation, evaluate
from services.governance.policy.rules import LoadedPolicy, policy_name_for
from shared.events.common import CheckResult
from shared.events.governance import Decision, ModelApproved, ModelRejected, ReviewRequested
from shared.events.registry import ModelRegistered

Verdict = ModelApproved | ModelRejected | ReviewRequested


def evaluate_registration(
    policies: Mapping[str, LoadedPolicy], registered: ModelRegistered, champion: Champion | None
) -> Evaluation:
    """The version against the policy its metadata names; a policy not in force fails it."""
    name = policy_name_for(registered.metadata)
    loaded = policies.get(name)
    if loaded is not None:
        return evaluate(loaded, registered, champion)
    missing = CheckResult(
        name="policy",
        passed=False,
        value=name,
        threshold=sorted(policies),
        message=f"no policy named {name!r} is in force",
    )
    tier = registered.metadata.risk_tier
    return Evaluation(
        Decision(policy=name, policy_version="", policy_digest="", checks=[missing], risk_tier=tier)
    )


def verdict(evaluation: Evaluation, registered: ModelRegistered) -> Verdict:
    """Any failed check rejects; otherwise approve, unless the tier wants people to.

    A version with no measured evidence is never approved by policy: unless it fails a
    check evidence cannot fix (its metadata, its policy), people review it, with the
    evidence checks showing what was not measured.
    """
    decision = evaluation.decision
    if not evaluation.measured and not evaluation.failed_beyond_evidence:
        return ReviewRequested(
            model_name=registered.model_name,
            version=registered.version,
            required_approvals=evaluation.required_approvals,
            decision=decision,
        )
    if evaluation.failed:
        return ModelRejected(
            model_name=registered.model_name,
            version=registered.version,
            decision=decision,
            failed_checks=evaluation.failed,
        )
    if evaluation.required_approvals == 0:
        return approval(registered, decision)
    return ReviewRequested(
        model_name=registered.model_name,
        version=registered.version,
        required_approvals=evaluation.required_approvals,
        decision=decision,
    )


def approval(registered: ModelRegistered, decision: Decision) -> ModelApproved:
    """What lets a version serve: its artifact and metadata, with the decision that allows it."""
    return ModelApproved(
        model_name=registered.model_name,
        version=registered.version,
        artifact=registered.artifact,
        decision=decision,
        metadata=registered.metadata,
    )
