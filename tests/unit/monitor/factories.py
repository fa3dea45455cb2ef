"""Reference profiles and windows built from arrays, for the monitor's tests."""

from __future__ import annotations

import numpy as np

from services.monitor.analysis.reference import CompiledReference, compile_reference
from shared.events.common import Task
from shared.events.reference_profile import HoldoutScores
from shared.reference_builder import build_reference_profile


def reference(
    matrix: np.ndarray,
    names: list[str] | None = None,
    *,
    sample_rows: int | None = None,
    predictions: np.ndarray | None = None,
    task: Task = "classification",
    holdout: HoldoutScores | None = None,
) -> CompiledReference:
    """Columns with few distinct values (integer codes) are categorical, as in training."""
    names = names or [f"f{i}" for i in range(matrix.shape[1])]
    profile = build_reference_profile(
        matrix, names, task=task, predictions=predictions, holdout=holdout
    )
    sample = None if sample_rows is None else matrix[:sample_rows]
    return compile_reference(profile, sample)
