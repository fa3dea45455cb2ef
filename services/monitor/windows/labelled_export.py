"""Recent labelled production data of a version as a training-ready CSV artifact.

An alert carries it (``labelled_data``), so that the retraining it starts learns from
the traffic that raised it: the newest ``rows`` labelled rows of the version, one per
request id, in the format of :func:`services.monitor.analysis.labelled.render_csv`.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.monitor.analysis.labelled import render_csv
from services.monitor.analysis.monitored import Version
from services.monitor.analysis.reference import CategoricalReference
from services.monitor.store import predictions
from shared.events.common import ArtifactRef
from shared.store.artifacts import ArtifactStore
from shared.store.db import Connection


def _text(version: Version) -> list[dict[float, str] | None]:
    """Per feature, the labels of a text feature by category code (None: write the number;
    empty: a free-text feature, whose text the monitor never kept, written as missing)."""
    reference = version.reference
    if reference is None or len(reference.features) != len(version.feature_names or []):
        return []
    return [
        {}
        if i in reference.words
        else dict(zip(f.values.tolist(), f.labels, strict=True))
        if isinstance(f, CategoricalReference) and not f.numeric
        else None
        for i, f in enumerate(reference.features)
    ]


@dataclass(frozen=True)
class LabelledExport:
    artifacts: ArtifactStore
    rows: int

    async def __call__(self, conn: Connection, version: Version) -> ArtifactRef | None:
        """Store the version's recent labelled rows as CSV; None when there are none yet."""
        records = await predictions.recent_labelled(
            conn, version.model_name, version.version, self.rows
        )
        if not records:
            return None
        columns = version.feature_names or [f"f{i}" for i in range(records[0]["n_cols"])]
        data, written = render_csv(columns, version.target_name, records, _text(version))
        if written == 0:
            return None
        return await self.artifacts.put(data, media_type="text/csv")
