"""Alert episodes: one alert when trouble starts, one resolution when it has cleared.

An episode opens on the first bad window of a stream (model, version, arm) and kind
(drift, performance, estimated performance) and stays open through further bad windows without a new alert; it
resolves after ``recovery`` consecutive clean windows. A window that could not be judged
(too few rows, no reference, no labels) neither extends nor clears an episode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# estimated_performance: a data window's performance estimated before labels (CBPE)
Kind = Literal["drift", "performance", "estimated_performance"]


@dataclass(frozen=True)
class Step:
    action: Literal["open", "keep", "resolve", "none"]
    clean_windows: int


def step(
    is_open: bool, clean_windows: int, bad: bool | None, recovery: int, clear: bool = True
) -> Step:
    """The episode state machine for one judged (or unjudged: ``bad is None``) window.

    ``clear`` is False for a window that is no longer bad but not clearly recovered either
    (within the recovery margin of its bound): it keeps an open episode and restarts the
    recovery count, so a metric hovering at its bound does not open and close episodes.
    """
    if bad is None:
        return Step("none", clean_windows)
    if bad:
        return Step("keep" if is_open else "open", 0)
    if not is_open:
        return Step("none", 0)
    if not clear:
        return Step("keep", 0)
    clean = clean_windows + 1
    return Step("resolve" if clean >= recovery else "keep", clean)
