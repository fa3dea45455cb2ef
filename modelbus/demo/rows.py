"""What the demo's traffic sends: rows of one dataset as Open Inference Protocol inputs.

Each kind of demo data makes rows (with a covariate shift when asked), the ``inputs`` of
an inference request for one row, and the true label of that row. The labels do not move
with the shift, so a model that leans on the shifted features gets worse and the monitor
should see the drift.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from shared.datasets import credit


class Rows(Protocol):
    shifted_features: tuple[str, ...]
    shift_description: str

    def next(self, shifted: bool) -> tuple[list[dict[str, Any]], Any]:
        """The inputs of one request and the row's true label."""
        ...


class BreastCancerRows:
    """scikit-learn's breast cancer table with a little noise; the shift multiplies a few
    size features, as a recalibrated imaging device would."""

    shifted_features: tuple[str, ...] = ("mean radius", "mean perimeter", "mean area", "worst area")
    shift_factor = 1.35
    shift_description: str = f"{', '.join(shifted_features)} read 35% high from now on"

    def __init__(self, seed: int = 7) -> None:
        from sklearn.datasets import load_breast_cancer

        data = load_breast_cancer()
        self.X = data.data.astype(np.float32)
        self.y = data.target
        names = list(data.feature_names)
        self.shift_columns = [names.index(n) for n in self.shifted_features]
        self.scale = self.X.std(axis=0) * 0.05
        self.rng = np.random.default_rng(seed)

    def next(self, shifted: bool) -> tuple[list[dict[str, Any]], Any]:
        i = int(self.rng.integers(len(self.X)))
        x = self.X[i] + self.rng.normal(0, self.scale).astype(np.float32)
        if shifted:
            x[self.shift_columns] *= self.shift_factor
        x = np.maximum(x, 0)
        inputs = [{"name": "input", "shape": [1, len(x)], "datatype": "FP32", "data": x.tolist()}]
        return inputs, int(self.y[i])


class CreditRows:
    """The generated credit applications (:mod:`shared.datasets.credit`), one request input
    per column: BYTES for text, FP32 for numbers. The shift moves most applications to one
    country and makes every amount larger."""

    shift = credit.Shift()
    shifted_features: tuple[str, ...] = ("country", "amount")
    shift_description: str = (
        f"{shift.country_share:.0%} of applications now come from {shift.country}, "
        f"amounts {shift.amount:g}x larger"
    )

    def __init__(self, seed: int = 7, rows: int = 5_000) -> None:
        self.tables = {
            False: credit.credit_applications(rows, seed=seed + 1),
            True: credit.credit_applications(rows, seed=seed + 2, shift=self.shift),
        }
        self.rows = rows
        self.rng = np.random.default_rng(seed)

    def next(self, shifted: bool) -> tuple[list[dict[str, Any]], Any]:
        table = self.tables[shifted]
        while True:  # a JSON request cannot carry NaN: rows without an income are not sent
            i = int(self.rng.integers(self.rows))
            if table["income"][i] is not None:
                break
        return request_inputs({n: table[n][i] for n in credit.COLUMNS}), table[credit.TARGET][i]


def request_inputs(row: dict[str, Any]) -> list[dict[str, Any]]:
    """One credit application as the inputs of an inference request (one row each)."""
    inputs = []
    for name in (*credit.CATEGORICAL, *credit.NUMERIC):
        value = row[name]
        if name in credit.CATEGORICAL:
            inputs.append(
                {"name": name, "shape": [1, 1], "datatype": "BYTES", "data": [value or ""]}
            )
        else:
            inputs.append({"name": name, "shape": [1, 1], "datatype": "FP32", "data": [value]})
    return inputs
