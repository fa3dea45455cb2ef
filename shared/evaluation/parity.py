"""Parity: whether an ONNX model predicts what the model it was exported from predicts.

Regression values agree within :data:`TOLERANCE` relative to ``max(1, |value|)``: float32
carries about seven significant digits, so an absolute 1e-4 on values in the hundreds
would ask more than FP32 arithmetic can give. Labels must be identical.
"""

from __future__ import annotations

import numpy as np

TOLERANCE = 1e-4


def relative_difference(values: np.ndarray, expected: np.ndarray) -> np.ndarray:
    return np.asarray(np.abs(values - expected) / np.maximum(1.0, np.abs(expected)))
