"""A fetch of ``predictions.logged`` as arrays: the features of many requests in one
conversion.

:func:`feature_rows` turns the inputs of many events into rows with one numpy conversion
when they share one input name and shape (what a deployer logs for one model), and falls
back to :func:`~services.monitor.analysis.tensors.feature_matrix` per event otherwise;
both convert the same nested lists elementwise the same way.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from services.monitor.analysis.tensors import feature_matrix

Features = tuple[np.ndarray[Any, Any] | None, str | None]


def feature_rows(inputs: Sequence[dict[str, Any]], words: Collection[int] = ()) -> list[Features]:
    """:func:`feature_matrix` of each request's inputs (``words``: its free-text columns),
    converted in one pass when the requests share one numeric input name and shape."""
    names = {tuple(i) for i in inputs}
    if not words and len(names) == 1 and len(name := next(iter(names))) == 1:
        values = [i[name[0]] for i in inputs]
        if all(type(v) is list for v in values):  # an OIP {"data": ...} object is read per request
            try:
                batch = np.asarray(values, dtype=np.float64)
            except (TypeError, ValueError):
                batch = None  # ragged or text: per request below
            if batch is not None and batch.ndim >= 2 and batch.size:
                rows = 1 if batch.ndim == 2 else batch.shape[1]
                matrix = batch.reshape(len(values), rows, -1)
                return [(m, None) for m in matrix]
    return [feature_matrix(i, words) for i in inputs]
