"""Reference profiles and windows built from arrays, for the monitor's tests."""

from __future__ import annotations

import numpy as np
import orjson

from services.monitor.profile import parse_profile
from services.monitor.profiling import build_profile
from services.monitor.reference import CompiledReference, compile_reference


def reference(
    matrix: np.ndarray,
    names: list[str] | None = None,
    *,
    categorical: tuple[str, ...] = (),
    sample_rows: int | None = None,
    predictions: np.ndarray | None = None,
) -> CompiledReference:
    names = names or [f"f{i}" for i in range(matrix.shape[1])]
    profile = parse_profile(
        orjson.dumps(build_profile(matrix, names, categorical=categorical, predictions=predictions))
    )
    sample = None if sample_rows is None else matrix[:sample_rows]
    return compile_reference(profile, sample)
