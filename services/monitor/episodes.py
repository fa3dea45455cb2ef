"""Alert episodes: one alert when trouble starts, one resolution when it has cleared.

An episode opens on the first bad window of a stream (model, version, arm) and kind
(drift, performance) and stays open through further bad windows without a new alert; it
resolves after ``recovery`` consecutive clean windows. A window that could not be judged
(too few rows, no reference, no labels) neither extends nor clears an episode. The
partial unique index ``alerts_one_open`` holds the invariant even across replicas.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import orjson

from shared.bus.unit_of_work import UnitOfWork
from shared.events.common import Payload, Window
from shared.events.monitoring import AlertResolved

Kind = Literal["drift", "performance"]


@dataclass(frozen=True)
class Stream:
    model_name: str
    version: int
    arm: str


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


RaiseAlert = Callable[[str], Awaitable[tuple[Payload, dict[str, object]]]]


async def observe(
    uow: UnitOfWork,
    stream: Stream,
    kind: Kind,
    window_id: int,
    window: Window,
    bad: bool | None,
    recovery: int,
    raise_alert: RaiseAlert,
    clear: bool = True,
) -> None:
    """Advance the episode of ``stream`` and ``kind`` by one window, emitting what changes.

    ``raise_alert(alert_id)`` builds the alert payload (and its summary) only when an
    episode opens, so the labelled-data export runs once per episode.
    """
    conn = uow.conn
    row = await conn.fetchrow(
        "SELECT alert_id, clean_windows FROM alerts WHERE model_name = $1 AND version = $2"
        " AND arm = $3 AND kind = $4 AND resolved_at IS NULL FOR UPDATE",
        stream.model_name,
        stream.version,
        stream.arm,
        kind,
    )
    result = step(row is not None, row["clean_windows"] if row else 0, bad, recovery, clear)
    if result.action == "open":
        alert_id = str(uuid.uuid4())
        payload, summary = await raise_alert(alert_id)
        labelled = getattr(payload, "labelled_data", None)
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
            labelled.model_dump_json() if labelled is not None else None,
        )
        await uow.emit(payload)
    elif result.action == "keep" and row is not None:
        await conn.execute(
            "UPDATE alerts SET clean_windows = $2 WHERE alert_id = $1",
            row["alert_id"],
            result.clean_windows,
        )
    elif result.action == "resolve" and row is not None:
        await conn.execute(
            "UPDATE alerts SET clean_windows = $2, resolved_at = now(), resolved_window_id = $3"
            " WHERE alert_id = $1",
            row["alert_id"],
            result.clean_windows,
            window_id,
        )
        await uow.emit(
            AlertResolved(
                model_name=stream.model_name,
                version=stream.version,
                arm=stream.arm,
                alert_id=row["alert_id"],
                kind=kind,
                window=window,
            )
        )
