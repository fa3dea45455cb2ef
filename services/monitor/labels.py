"""The label join's housekeeping: late matches, expiry, retention, and the counts people read.

Handlers match a label and its prediction whichever arrives second. The sweep catches
what two concurrent transactions (replicas consuming labels and predictions on different
partitions) could each miss, and expires labels that waited past the horizon: those stay
as rows with status ``expired`` until retention, so they are counted, not dropped.
"""

from __future__ import annotations

from shared.store.db import Connection

_MATCH_LATE = """
WITH matched AS (
    UPDATE labels l SET status = 'matched', resolved_at = now()
    WHERE l.status = 'pending' AND EXISTS (
        SELECT 1 FROM predictions p WHERE p.model_name = l.model_name
          AND p.request_id = l.request_id
          AND p.received_at <= l.received_at + make_interval(secs => $1))
    RETURNING l.model_name, l.request_id)
UPDATE predictions p SET labelled_at = now()
FROM matched m
WHERE p.model_name = m.model_name AND p.request_id = m.request_id AND p.ok
  AND p.labelled_at IS NULL
"""


async def sweep(conn: Connection, horizon_s: float) -> None:
    await conn.execute(_MATCH_LATE, horizon_s)
    await conn.execute(
        "UPDATE labels SET status = 'expired', resolved_at = now() WHERE status = 'pending'"
        " AND received_at < now() - make_interval(secs => $1)",
        horizon_s,
    )


async def prune(conn: Connection, retention_s: float) -> None:
    """Forget what is older than retention, except predictions in a window still open.

    Predictions of a version never registered go too: without a reference they never
    enter a window.
    """
    await conn.execute(
        "DELETE FROM predictions p WHERE received_at < now() - make_interval(secs => $1)"
        " AND NOT EXISTS (SELECT 1 FROM windows w WHERE w.id = p.window_id"
        " AND w.closed_at IS NULL)",
        retention_s,
    )
    await conn.execute(
        "DELETE FROM labels WHERE status <> 'pending'"
        " AND received_at < now() - make_interval(secs => $1)",
        retention_s,
    )


async def counts(conn: Connection, model_name: str) -> dict[str, int]:
    row = await conn.fetchrow(
        "SELECT count(*) AS received,"
        " count(*) FILTER (WHERE status = 'matched') AS matched,"
        " count(*) FILTER (WHERE status = 'pending') AS unmatched,"
        " count(*) FILTER (WHERE status = 'expired') AS expired,"
        " coalesce(sum(duplicates), 0) AS duplicates"
        " FROM labels WHERE model_name = $1",
        model_name,
    )
    assert row is not None
    return {k: int(row[k]) for k in ("received", "matched", "unmatched", "expired", "duplicates")}
