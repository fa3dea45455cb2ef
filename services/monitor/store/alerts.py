"""Alert rows: at most one open alert per stream and kind.

The partial unique index ``alerts_one_open`` holds that invariant even across replicas;
the open alert is read ``FOR UPDATE`` so one step at a time advances an episode.
"""

from __future__ import annotations

from typing import Any

import orjson

from services.monitor.analysis.episodes import Kind
from services.monitor.analysis.monitored import Stream
from shared.store.db import Connection


async def lock_open(conn: Connection, stream: Stream, kind: Kind) -> Any:
    """The open alert (alert_id, clean_windows) of ``stream`` and ``kind``, or None."""
    return await conn.fetchrow(
        "SELECT alert_id, clean_windows FROM alerts WHERE model_name = $1 AND version = $2"
        " AND arm = $3 AND kind = $4 AND resolved_at IS NULL FOR UPDATE",
        stream.model_name,
        stream.version,
        stream.arm,
        kind,
    )


async def open_alert(
    conn: Connection,
    alert_id: str,
    stream: Stream,
    kind: Kind,
    window_id: int,
    summary: dict[str, object],
    labelled_data: str | None,
) -> None:
    """A new open alert; ``labelled_data`` is the claim check of its export, as JSON."""
    await conn.execute(
        "INSERT INTO alerts (alert_id, model_name, version, arm, kind, opened_window_id,"
        " summary, labelled_data) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb)",
        alert_id,
        stream.model_name,
        stream.version,
        stream.arm,
        kind,
        window_id,
        orjson.dumps(summary).decode(),
        labelled_data,
    )


async def count_clean(conn: Connection, alert_id: str, clean_windows: int) -> None:
    await conn.execute(
        "UPDATE alerts SET clean_windows = $2 WHERE alert_id = $1", alert_id, clean_windows
    )


async def resolve(conn: Connection, alert_id: str, clean_windows: int, window_id: int) -> None:
    await conn.execute(
        "UPDATE alerts SET clean_windows = $2, resolved_at = now(), resolved_window_id = $3"
        " WHERE alert_id = $1",
        alert_id,
        clean_windows,
        window_id,
    )
