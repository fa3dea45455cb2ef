"""The model repository extension's index: what this replica serves, and what it refuses.

Triton's and KServe's shape: one entry per model version with ``name``, ``version``,
``state`` (``READY``, or ``UNAVAILABLE`` for a version governance withdrew) and ``reason``
(empty when ready). Read from the serving table, so it says what this replica answers now.
"""

from __future__ import annotations

from typing import Any

from services.deployer.serving.table import ServedVersion, ServingTable, Stopped


def repository_index(table: ServingTable, *, ready_only: bool = False) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for name in sorted(table.models):
        model = table.models[name]
        versions: dict[int, ServedVersion | Stopped] = dict(model.withdrawn)
        for arm in (model.stable, model.candidate):
            if arm is not None:
                versions[arm.version] = arm
        for number in sorted(versions):
            arm = versions[number]
            ready = isinstance(arm, ServedVersion)
            if ready_only and not ready:
                continue
            entries.append(
                {
                    "name": name,
                    "version": str(number),
                    "state": "READY" if ready else "UNAVAILABLE",
                    "reason": ""
                    if isinstance(arm, ServedVersion)
                    else f"{arm.status}: {arm.reason}",
                }
            )
    return entries
