"""The policy document (YAML), its validation, and where policies are loaded from.

A policy file holds one :class:`Policy`. Its digest is the SHA-256 of the file's bytes, so
anyone can check which exact rules a decision was made under with ``sha256sum``. Shipped
policies live in ``services/governance/policies``; a file of the same ``name`` in the
override directory (``MODELBUS_GOVERNANCE_POLICY_DIR``) replaces the shipped one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shared.events.common import DeploymentStrategy, ModelMetadata, RiskTier, Task

DEFAULT_POLICY = "default"
POLICY_TAG = "policy"  # a model's metadata tag naming the policy it is governed by


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Bound(_Strict):
    """An acceptable range for a number: at least ``min``, at most ``max``, or both."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _some_limit(self) -> Bound:
        if self.min is None and self.max is None:
            raise ValueError("a bound needs 'min' or 'max'")
        return self

    def holds(self, value: float) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def describe(self) -> str:
        parts = [
            f">= {self.min:g}" if self.min is not None else "",
            f"<= {self.max:g}" if self.max is not None else "",
        ]
        return " and ".join(p for p in parts if p)


class PrimaryMetric(_Strict):
    name: str
    goal: Literal["maximize", "minimize"] = "maximize"


class FairnessLimits(_Strict):
    """Largest acceptable gap between groups of the sensitive attribute, on the holdout."""

    demographic_parity_difference: float = Field(ge=0.0)  # gap in positive rate
    equal_opportunity_difference: float = Field(ge=0.0)  # gap in recall


class TierRules(_Strict):
    required_metadata: list[str] = Field(default_factory=list)
    thresholds: dict[Task, dict[str, Bound]] = Field(default_factory=dict)
    onnx_parity: bool = True
    # Largest acceptable loss on the primary metric against the current champion;
    # None: no comparison with the champion.
    champion_tolerance: float | None = Field(default=None, ge=0.0)
    fairness: FairnessLimits | None = None
    approvals: int = Field(default=0, ge=0)
    strategy: DeploymentStrategy = Field(default_factory=DeploymentStrategy)

    @field_validator("required_metadata")
    @classmethod
    def _known_fields(cls, fields: list[str]) -> list[str]:
        unknown = sorted(set(fields) - set(ModelMetadata.model_fields))
        if unknown:
            raise ValueError(f"unknown metadata fields {unknown}")
        return fields


class Policy(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,62}$")
    version: str = Field(min_length=1)
    description: str = ""
    primary_metric: dict[Task, PrimaryMetric]
    tiers: dict[RiskTier, TierRules]

    @model_validator(mode="after")
    def _every_tier_and_task(self) -> Policy:
        missing_tiers = {"low", "medium", "high"} - set(self.tiers)
        missing_tasks = {"classification", "regression"} - set(self.primary_metric)
        if missing_tiers or missing_tasks:
            raise ValueError(
                f"policy must cover every risk tier and task; missing "
                f"{sorted(missing_tiers | missing_tasks)}"
            )
        return self


@dataclass(frozen=True)
class LoadedPolicy:
    policy: Policy
    digest: str  # sha256 of the file's bytes
    path: Path


class PolicyError(Exception):
    """A policy file that cannot be used; the service refuses to start with it."""


def load_policy(path: Path) -> LoadedPolicy:
    raw = path.read_bytes()
    try:
        policy = Policy.model_validate(yaml.safe_load(raw))
    except (yaml.YAMLError, ValidationError) as exc:
        raise PolicyError(f"policy {path}: {exc}") from exc
    return LoadedPolicy(policy, hashlib.sha256(raw).hexdigest(), path)


def load_policies(shipped: Path, override: Path | None = None) -> dict[str, LoadedPolicy]:
    """Every policy by name: the shipped ones, then the override directory's on top."""
    found: dict[str, LoadedPolicy] = {}
    for folder in (shipped, override):
        if folder is None:
            continue
        if not folder.is_dir():
            raise PolicyError(f"policy directory {folder} does not exist")
        seen_here: set[str] = set()
        for path in sorted(folder.glob("*.y*ml")):
            loaded = load_policy(path)
            name = loaded.policy.name
            if name in seen_here:
                raise PolicyError(f"two policies named {name!r} in {folder}")
            seen_here.add(name)
            found[name] = loaded
    if DEFAULT_POLICY not in found:
        raise PolicyError(f"no policy named {DEFAULT_POLICY!r} in {shipped} or {override}")
    return found


def policy_name_for(metadata: ModelMetadata) -> str:
    return metadata.tags.get(POLICY_TAG, DEFAULT_POLICY)
