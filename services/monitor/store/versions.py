"""Registered versions as the monitor keeps them, and a process-wide cache of them.

A version row never changes after registration (the first ``model.registered`` for a
version wins; a redelivery with the same content is a no-op), so a compiled version may be
cached for the life of the process: windows never touch the profile artifact again.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from typing import Any

import numpy as np
import orjson

from services.monitor.analysis.monitored import NewVersion, Version
from services.monitor.analysis.reference import compile_reference
from services.monitor.analysis.thresholds import thresholds_from
from shared.events.reference_profile import parse_reference_profile
from shared.store.db import Connection


async def save(conn: Connection, v: NewVersion) -> bool:
    """Store a version; False if it was already stored (the first registration wins)."""
    sample = None
    if v.sample is not None:
        buffer = io.BytesIO()
        np.save(buffer, v.sample, allow_pickle=False)
        sample = buffer.getvalue()
    status = await conn.execute(
        "INSERT INTO versions (model_name, version, task, feature_names, target_name, profile,"
        " sample, thresholds, baseline, problems) VALUES ($1, $2, $3, $4, $5, $6, $7,"
        " $8::jsonb, $9::jsonb, $10) ON CONFLICT DO NOTHING",
        v.model_name,
        v.version,
        v.task,
        v.feature_names,
        v.target_name,
        v.profile,
        sample,
        orjson.dumps(v.thresholds).decode(),
        orjson.dumps(v.baseline).decode(),
        v.problems,
    )
    return bool(status.endswith(" 1"))


def _compile(row: Any) -> Version:
    reference = None
    if row["profile"] is not None:
        sample = None
        if row["sample"] is not None:
            sample = np.load(io.BytesIO(row["sample"]), allow_pickle=False)
        reference = compile_reference(parse_reference_profile(row["profile"]), sample)
    thresholds, _ = thresholds_from(orjson.loads(row["thresholds"]))
    return Version(
        model_name=row["model_name"],
        version=row["version"],
        task=row["task"],
        feature_names=list(row["feature_names"]),
        target_name=row["target_name"],
        thresholds=thresholds,
        reference=reference,
        baseline=orjson.loads(row["baseline"]),
        problems=list(row["problems"]),
    )


class VersionCache:
    """Compiled versions by (model, version); a miss reads the row once."""

    def __init__(self, capacity: int = 512) -> None:
        self.capacity = capacity
        self._items: OrderedDict[tuple[str, int], Version] = OrderedDict()

    async def get(self, conn: Connection, model_name: str, version: int) -> Version | None:
        key = (model_name, version)
        cached = self._items.get(key)
        if cached is not None:
            self._items.move_to_end(key)
            return cached
        row = await conn.fetchrow(
            "SELECT * FROM versions WHERE model_name = $1 AND version = $2", model_name, version
        )
        if row is None:
            return None
        compiled = _compile(row)
        self._items[key] = compiled
        if len(self._items) > self.capacity:
            self._items.popitem(last=False)
        return compiled
