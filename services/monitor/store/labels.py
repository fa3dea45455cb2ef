"""Labels and the join with their predictions: recording, late matches, expiry, retention,
and the counts people read.

A label and its prediction are matched whichever arrives second. The sweep catches
what two concurrent transactions (replicas consuming labels and predictions on different
partitions) could each miss, and expires labels that waited past the horizon: those stay
as rows with status ``expired`` until retention, so they are counted, not dropped.
"""

from __future__ import annotations

from shared.store.db import Connection

# A label is matched at once if its prediction is stored, and labels that prediction; a
# second label for the same request id only counts as a duplicate.
_INSERT = """
WITH incoming AS (
    SELECT * FROM unnest($2::text[], $3::text[]) AS t(request_id, value)),
stored AS (
    INSERT INTO labels (model_name, request_id, value, status, resolved_at)
    SELECT $1, i.request_id, i.value::jsonb, m.status, m.resolved_at
    FROM incoming i, LATERAL (
        SELECT CASE WHEN found THEN 'matched' ELSE 'pending' END AS status,
               CASE WHEN found THEN now() END AS resolved_at
        FROM (SELECT EXISTS (SELECT 1 FROM predictions p WHERE p.model_name = $1
                                AND p.request_id = i.request_id) AS found) f) m
    ON CONFLICT (model_name, request_id) DO UPDATE SET duplicates = labels.duplicates + 1
    RETURNING request_id, status, xmax = 0 AS inserted)
UPDATE predictions p SET labelled_at = now()
FROM stored s
WHERE s.inserted AND s.status = 'matched' AND p.model_name = $1 AND p.ok
  AND p.request_id = s.request_id AND p.labelled_at IS NULL
"""

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


async def record(
    conn: Connection, model_name: str, values: dict[str, str], repeats: dict[str, int]
) -> None:
    """Store labels (request id -> JSON value), and ``repeats`` more copies of some request
    ids seen in the same event, which count as duplicates only."""
    await conn.execute(_INSERT, model_name, list(values), list(values.values()))
    if repeats:
        await conn.execute(
            "UPDATE labels l SET duplicates = l.duplicates + r.n FROM unnest($2::text[],"
            " $3::int[]) AS r(request_id, n) WHERE l.model_name = $1"
            " AND l.request_id = r.request_id",
            model_name,
            list(repeats),
            list(repeats.values()),
        )


# A prediction stored while its label was being matched by another transaction (another
# replica, or the same request's other arm: a shadow's label is matched by the stable
# answer's prediction) saw the label neither pending nor matched: labelled here.
_LABEL_MISSED = """
UPDATE predictions p SET labelled_at = now()
FROM labels l
WHERE l.status = 'matched' AND l.resolved_at >= now() - make_interval(secs => $1)
  AND p.model_name = l.model_name AND p.request_id = l.request_id AND p.ok
  AND p.labelled_at IS NULL
  AND p.received_at <= l.received_at + make_interval(secs => $2)
"""
# How far back the sweep looks for such predictions; a sweep runs every tick, far more
# often than this.
MISSED_LOOKBACK_S = 300.0


async def sweep(conn: Connection, horizon_s: float) -> None:
    await conn.execute(_MATCH_LATE, horizon_s)
    await conn.execute(_LABEL_MISSED, MISSED_LOOKBACK_S, horizon_s)
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
