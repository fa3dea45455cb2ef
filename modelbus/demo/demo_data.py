"""The datasets the demo can run its loop on: what to train on, and the traffic to send.

``breast_cancer`` is scikit-learn's bundled table (numbers only, one FP32 input);
``credit`` the generated credit applications of :mod:`shared.datasets.credit` (text and
numbers, one input per column), put into the platform's artifact store first so that the
trainer reads it by claim check like any dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from modelbus.demo.platform import Platform
from modelbus.demo.rows import BreastCancerRows, CreditRows, Rows
from shared.datasets import credit
from shared.settings import Settings
from shared.store.artifacts import open_store

CREDIT_ROWS = 3_000
CREDIT_SEED = 11


@dataclass(frozen=True)
class DemoData:
    name: str
    model_prefix: str
    metadata: dict[str, Any]
    # One algorithm, one setting: the demo's model (and its retraining) train in seconds.
    candidates: list[dict[str, Any]] | None = None

    def rows(self) -> Rows:
        return CreditRows() if self.name == "credit" else BreastCancerRows()

    async def training_fields(self, platform: Platform) -> dict[str, Any]:
        """The ``dataset`` (and ``target``) of the training request."""
        if self.name != "credit":
            return {"dataset": {"builtin": self.name}}
        data = credit.credit_csv(CREDIT_ROWS, seed=CREDIT_SEED)
        ref = await _put(platform, data)
        return {
            "dataset": {"artifact": ref, "format": "csv"},
            "target": credit.TARGET,
        }


async def _put(platform: Platform, data: bytes) -> dict[str, Any]:
    url = Settings(home=platform.home).artifact_store_url()
    pool = (
        await asyncpg.create_pool(platform.database_url, min_size=1, max_size=1)
        if (url == "postgres")
        else None
    )
    try:
        store = await open_store(url, pool)
        ref = await store.put(data, media_type="text/csv")
    finally:
        if pool is not None:
            await pool.close()
    return ref.model_dump(mode="json", exclude_none=True)


_THRESHOLDS = {"window_size": 200, "window_seconds": 30}  # a demo sends a few hundred a minute
# Seven countries and four employments: at 200 rows a window's category shares wander
# further from the reference by chance than a few numeric columns' quantiles do.
_CREDIT_THRESHOLDS = {"window_size": 400, "window_seconds": 30}

DATASETS: dict[str, DemoData] = {
    "breast_cancer": DemoData(
        "breast_cancer",
        "breast-cancer",
        {
            "owner": "demo-data-scientist",
            "team": "diagnostics",
            "description": "Flags likely malignant tumours from imaging measurements.",
            "intended_use": "Second opinion for radiologists; never the only signal.",
            "risk_tier": "low",
            "retraining": "auto",
            "tags": {"policy": "continuous", "dataset": "breast_cancer"},
            "monitor_thresholds": _THRESHOLDS,
        },
    ),
    "credit": DemoData(
        "credit",
        "credit",
        {
            "owner": "demo-data-scientist",
            "team": "lending",
            "description": "Estimates the chance that a credit application defaults.",
            "intended_use": "Ranks applications for a credit officer's review.",
            "risk_tier": "low",
            "retraining": "auto",
            "tags": {"policy": "continuous", "dataset": "credit"},
            "monitor_thresholds": _CREDIT_THRESHOLDS,
        },
        candidates=[{"algorithm": "logistic_regression", "search_space": {"C": [1.0]}}],
    ),
}
