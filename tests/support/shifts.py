"""Generated traffic with a known shift, for the monitor's tests of its detectors.

- :func:`sized_population`: a classifier's world like the demo's, where a few "size"
  features decide the class. Its shift multiplies the size features by 1.35 as the demo's
  does, but as a change of population (bigger cases are seen more often), not of meaning:
  labels are drawn from the same ``P(y | x)``, which is what confidence-based performance
  estimation assumes. Bigger cases sit closer to the decision boundary, so the model gets
  less sure and less accurate.
- :func:`correlated_pair`: two features whose correlation flips sign while each keeps its
  N(0, 1) marginal, next to independent ones: only a multivariate detector can see it.
"""

from __future__ import annotations

import numpy as np

SIZES = (0, 1, 2)  # the size features
FEATURES = 6
SHIFT_FACTOR = 1.35


def _probability(x: np.ndarray) -> np.ndarray:
    """P(y = 1 | x): the size of a case against a boundary, plus a little of the rest."""
    size = x[:, list(SIZES)].mean(axis=1)
    logit = 10.0 * (size - 1.35) + 0.5 * x[:, 3]
    result: np.ndarray = 1 / (1 + np.exp(-logit))
    return result


def sized_population(
    rng: np.random.Generator, n: int, *, shifted: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Rows (n x FEATURES) and their labels, drawn from the same P(y | x) either way."""
    common = rng.lognormal(0.0, 0.2, size=n)
    x = np.empty((n, FEATURES))
    for j in SIZES:
        x[:, j] = common * rng.lognormal(0.0, 0.08, size=n)
    x[:, 3:] = rng.normal(size=(n, FEATURES - 3))
    if shifted:
        x[:, list(SIZES)] *= SHIFT_FACTOR
    y = (rng.random(n) < _probability(x)).astype(np.int64)
    return x, y


def correlated_pair(
    rng: np.random.Generator, n: int, *, flipped: bool = False, others: int = 3
) -> np.ndarray:
    """Rows whose first two columns correlate at 0.9 (at -0.9 when ``flipped``)."""
    rho = -0.9 if flipped else 0.9
    pair = rng.multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]], size=n)
    return np.hstack([pair, rng.normal(size=(n, others))])
