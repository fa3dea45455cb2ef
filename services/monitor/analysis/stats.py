"""Drift statistics as pure functions of counts or samples.

Each function is checked against scipy on identical inputs (tests/unit/monitor/test_stats.py):
``ks`` equals ``scipy.stats.ks_2samp`` (statistic exactly; p-value equal to its
``method="asymp"``), ``chi2_homogeneity`` equals ``scipy.stats.chi2_contingency`` (without
Yates' correction), ``jensen_shannon`` equals ``scipy.spatial.distance.jensenshannon`` in
base 2, ``wasserstein`` and ``wasserstein_weighted`` equal ``scipy.stats.wasserstein_distance``.

The streaming windows never keep samples: they keep counts on cells fixed by the
reference (see :mod:`services.monitor.analysis.reference`), and ``ks_from_cells`` computes the
two-sample KS statistic from such counts. When the cells separate every reference value
(the reference sample is known), that statistic IS the exact ``ks_2samp`` statistic; on
coarse quantile bins it is a lower bound, so its p-value is conservative.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

# PSI is undefined for an empty bin on either side; a tiny floor keeps it finite. The
# same floor is applied to both sides, as in the usual definition of the index.
PSI_FLOOR = 1e-4

FloatArray = NDArray[np.float64]


def _proportions(counts: ArrayLike) -> FloatArray:
    values = np.asarray(counts, dtype=np.float64)
    total = values.sum()
    if total <= 0:
        raise ValueError("proportions of an empty histogram")
    result: FloatArray = values / total
    return result


def psi(ref_counts: ArrayLike, cur_counts: ArrayLike, floor: float = PSI_FLOOR) -> float:
    """Population stability index: sum((c - r) * ln(c / r)) over bins of proportions."""
    r = np.maximum(_proportions(ref_counts), floor)
    c = np.maximum(_proportions(cur_counts), floor)
    return float(np.sum((c - r) * np.log(c / r)))


def ks_pvalue(statistic: float, n_ref: int, n_cur: int) -> float:
    """Two-sided asymptotic p-value of the two-sample KS statistic (scipy's ``asymp``)."""
    return float(ks_pvalues(np.array([statistic]), np.array([n_ref]), np.array([n_cur]))[0])


def ks_pvalues(statistics: FloatArray, n_ref: ArrayLike, n_cur: ArrayLike) -> FloatArray:
    """:func:`ks_pvalue` of many statistics in one call (a window's features: scipy's
    per-call overhead is most of the cost of one).

    Each value is remembered: a statistic on counts is a difference of two fractions with
    the samples' sizes as denominators, so windows of one size against one reference keep
    meeting the same few hundred values, and the exact distribution (a matrix power for
    small statistics) is computed once for each. The memo holds at most
    :data:`KS_MEMO_SIZE` values and starts again when full."""
    n_ref, n_cur = np.asarray(n_ref, np.float64), np.asarray(n_cur, np.float64)
    effective_n = np.round(n_ref * n_cur / (n_ref + n_cur))
    keys = list(zip(np.asarray(statistics, np.float64).tolist(), effective_n.tolist(), strict=True))
    missing = [k for k in dict.fromkeys(keys) if k not in _KS_MEMO]
    if missing:
        if len(_KS_MEMO) + len(missing) > KS_MEMO_SIZE:
            _KS_MEMO.clear()
        d, n = np.array(missing, np.float64).T
        computed = np.clip(np.asarray(sps.kstwo.sf(d, n), np.float64), 0.0, 1.0)
        _KS_MEMO.update(zip(missing, computed.tolist(), strict=True))
    return np.array([_KS_MEMO[k] for k in keys], np.float64)


KS_MEMO_SIZE = 100_000
_KS_MEMO: dict[tuple[float, float], float] = {}


def ks(ref_sample: ArrayLike, cur_sample: ArrayLike) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and asymptotic p-value."""
    a = np.sort(np.asarray(ref_sample, dtype=np.float64))
    b = np.sort(np.asarray(cur_sample, dtype=np.float64))
    points = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, points, side="right") / a.size
    cdf_b = np.searchsorted(b, points, side="right") / b.size
    statistic = float(np.max(np.abs(cdf_a - cdf_b)))
    return statistic, ks_pvalue(statistic, a.size, b.size)


def ks_from_cells(ref_counts: ArrayLike, cur_counts: ArrayLike) -> tuple[float, float]:
    """KS on counts over the same ordered cells: the largest gap between the two CDFs."""
    statistic, n_ref, n_cur = ks_statistic_from_cells(ref_counts, cur_counts)
    return statistic, ks_pvalue(statistic, n_ref, n_cur)


def ks_statistic_from_cells(ref_counts: ArrayLike, cur_counts: ArrayLike) -> tuple[float, int, int]:
    """:func:`ks_from_cells`' statistic and the two sample sizes, for :func:`ks_pvalues`."""
    r = np.asarray(ref_counts, dtype=np.float64)
    c = np.asarray(cur_counts, dtype=np.float64)
    n_ref, n_cur = int(r.sum()), int(c.sum())
    statistic = float(np.max(np.abs(np.cumsum(r) / n_ref - np.cumsum(c) / n_cur)))
    return statistic, n_ref, n_cur


def chi2_homogeneity(ref_counts: ArrayLike, cur_counts: ArrayLike) -> tuple[float, float]:
    """Chi-square test that two samples share one categorical distribution (2 x K table).

    Categories seen in neither sample are dropped; no continuity correction is applied.
    """
    table = np.vstack([np.asarray(ref_counts, np.float64), np.asarray(cur_counts, np.float64)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return statistic, float(sps.chi2.sf(statistic, table.shape[1] - 1))


def jensen_shannon(ref_counts: ArrayLike, cur_counts: ArrayLike) -> float:
    """Jensen-Shannon distance (square root of the divergence), base 2, in [0, 1]."""
    p, q = _proportions(ref_counts), _proportions(cur_counts)
    m = (p + q) / 2

    def kl(x: FloatArray) -> float:
        mask = x > 0
        return float(np.sum(x[mask] * np.log2(x[mask] / m[mask])))

    return float(np.sqrt(max((kl(p) + kl(q)) / 2, 0.0)))


def wasserstein_weighted(
    ref_positions: ArrayLike,
    ref_weights: ArrayLike,
    cur_positions: ArrayLike,
    cur_weights: ArrayLike,
) -> float:
    """First Wasserstein distance between two weighted discrete distributions on the line."""
    u = np.asarray(ref_positions, np.float64)
    v = np.asarray(cur_positions, np.float64)
    uw = _proportions(ref_weights)
    vw = _proportions(cur_weights)
    points = np.concatenate([u, v])
    order = np.argsort(points, kind="mergesort")
    points = points[order]
    mass = np.concatenate([uw, -vw])[order]
    # Between consecutive support points the CDF gap is constant: integrate it.
    gap = np.cumsum(mass)[:-1]
    return float(np.sum(np.abs(gap) * np.diff(points)))


def wasserstein(ref_sample: ArrayLike, cur_sample: ArrayLike) -> float:
    a = np.asarray(ref_sample, np.float64)
    b = np.asarray(cur_sample, np.float64)
    return wasserstein_weighted(a, np.ones_like(a), b, np.ones_like(b))
