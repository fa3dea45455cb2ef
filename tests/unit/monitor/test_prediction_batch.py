"""A fetch's features read in one conversion equal those read one request at a time."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from services.monitor.analysis.prediction_batch import feature_rows
from services.monitor.analysis.tensors import feature_matrix


@pytest.mark.parametrize(
    "batch",
    [
        [{"input": [[1, 2, None]]}, {"input": [[4, 5, 6]]}],
        [{"input": [[1, 2], [3, 4]]}, {"input": [[5, 6], [7, 8]]}],
        [{"input": [1, 2, 3]}, {"input": [4, 5, 6]}],
        [{"input": [[[1, 2], [3, 4]]]}, {"input": [[[5, 6], [7, 8]]]}],
        [{"input": [[1, 2]]}, {"input": [[3]]}],  # ragged across requests
        [{"input": [["DE", "FR"]]}, {"input": [["US", "DE"]]}],  # text
        [{"input": [[1, 2]]}, {"input": [["a", 2]]}],
        [{"input": {"data": [1, 2], "shape": [1, 2]}}, {"input": [[1, 2]]}],
        [{"a": [[1]], "b": [[2, 3]]}, {"a": [[4]], "b": [[5, 6]]}],
        [{"input": [[1, 2]]}, {"other": [[1, 2]]}],
        [{}, {"input": [[1]]}],
        [{"input": 5}, {"input": 6}],
        [{"input": []}, {"input": []}],
        [{"input": [["1.5", True]]}, {"input": [[2, False]]}],
    ],
)
def test_batch_features_equal_features_read_one_at_a_time(batch: list[dict[str, Any]]) -> None:
    together = feature_rows(batch)
    alone = [feature_matrix(i) for i in batch]
    assert len(together) == len(alone)
    for (m1, p1), (m2, p2) in zip(together, alone, strict=True):
        assert p1 == p2
        if m2 is None:
            assert m1 is None
        else:
            assert m1 is not None and m1.shape == m2.shape
            np.testing.assert_array_equal(m1, m2)
