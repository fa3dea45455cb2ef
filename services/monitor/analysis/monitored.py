"""What is monitored: a registered version as the windows use it, and its streams.

A stream is the traffic of one model version on one arm (stable, canary, shadow); its
windows and alert episodes are counted apart from every other stream's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.monitor.analysis.reference import CompiledReference
from services.monitor.analysis.stats import FloatArray
from services.monitor.analysis.thresholds import Thresholds
from shared.events.common import Task


@dataclass(frozen=True)
class Stream:
    model_name: str
    version: int
    arm: str


@dataclass(frozen=True)
class Version:
    model_name: str
    version: int
    task: Task
    feature_names: list[str]
    target_name: str
    thresholds: Thresholds
    reference: CompiledReference | None = None
    baseline: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class NewVersion:
    """What registration stores: the profile document and sample as read."""

    model_name: str
    version: int
    task: Task
    feature_names: list[str]
    target_name: str
    thresholds: dict[str, Any]
    profile: bytes | None
    sample: FloatArray | None
    baseline: dict[str, float]
    problems: list[str]
