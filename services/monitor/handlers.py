"""Handlers of the monitor's input topics: record what arrives; the worker does the rest.

Each handler only stores (in the consumer's transaction, next to the inbox row), so that a
batch of predictions costs one insert each and nothing here depends on window state.
Idempotency beyond the inbox: a request id counts once per model version and arm
(unique key), a label once per request id (later copies only raise ``duplicates``), and
the first registration of a version wins.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import structlog

from services.monitor import versions
from services.monitor.analysis.records import feature_matrix
from services.monitor.analysis.reference import compile_reference
from services.monitor.analysis.thresholds import thresholds_from
from services.monitor.settings import MonitorSettings
from shared.bus.unit_of_work import UnitOfWork
from shared.errors import InvalidInput, ModelbusError
from shared.events.deployment import ModelDeployed, PredictionLogged
from shared.events.envelope import Event
from shared.events.monitoring import LabelsReceived
from shared.events.reference_profile import parse_reference_profile
from shared.events.reference_sample import read_reference_sample
from shared.events.registry import ModelRegistered
from shared.store.artifacts import ArtifactStore, fetch

log = structlog.get_logger(__name__)


def _feature_names(payload: ModelRegistered) -> list[str]:
    names = payload.params.get("feature_names")
    return [str(n) for n in names] if isinstance(names, list) else []


async def on_model_registered(
    event: Event[ModelRegistered],
    uow: UnitOfWork,
    *,
    store: ArtifactStore,
    settings: MonitorSettings,
) -> None:
    p = event.data
    problems: list[str] = []
    overrides: dict[str, Any] = dict(p.metadata.monitor_thresholds)
    try:
        _, unknown = thresholds_from(overrides)
        if unknown:
            problems.append(f"unknown monitor_thresholds ignored: {', '.join(unknown)}")
    except InvalidInput as exc:
        problems.append(f"{exc.message}; default thresholds used")
        overrides = {}
    names = _feature_names(p)
    target = str(p.params.get("target") or p.params.get("target_name") or "target")
    raw = sample = None
    if p.reference_profile is None:
        problems.append("no reference profile: drift and data quality are not monitored")
    else:
        try:
            raw = await fetch(p.reference_profile, store, max_bytes=settings.max_profile_bytes)
            profile = parse_reference_profile(raw)
            if profile.reference_sample is not None:
                sample = read_reference_sample(
                    await fetch(
                        profile.reference_sample, store, max_bytes=settings.max_profile_bytes
                    ),
                    profile.feature_names,
                )
            compile_reference(profile, sample)  # refuse it now rather than in every window
            names = profile.feature_names
            target = profile.target.name if profile.target else target
        except ModelbusError as exc:
            if exc.retryable:
                raise
            problems.append(f"reference profile unusable: {exc.message}")
            raw = sample = None
    stored = await versions.save(
        uow.conn,
        versions.NewVersion(
            model_name=p.model_name,
            version=p.version,
            task=p.task,
            feature_names=names,
            target_name=target,
            thresholds=overrides,
            profile=raw,
            sample=sample,
            baseline=dict(p.metrics),
            problems=problems,
        ),
    )
    log.info("monitor.version_recorded", version=p.version, stored=stored, problems=problems)


async def on_model_deployed(event: Event[ModelDeployed], uow: UnitOfWork) -> None:
    p = event.data
    await uow.conn.execute(
        "INSERT INTO deployments (model_name, version, arm, strategy, weight)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (model_name, version, arm) DO UPDATE"
        " SET strategy = EXCLUDED.strategy, weight = EXCLUDED.weight, deployed_at = now()",
        p.model_name,
        p.version,
        p.arm,
        p.strategy.kind,
        p.weight,
    )


def _event_time(p: PredictionLogged, fallback: datetime) -> datetime:
    try:
        parsed = datetime.fromisoformat(p.time)
    except ValueError:
        return fallback
    return parsed if parsed.tzinfo is not None else fallback


# A pending label for this request is matched now; the prediction is labelled at insert
# if its label is (or just became) matched. A label that waited past the horizon is not.
_INSERT_PREDICTION = """
WITH label AS (
    UPDATE labels SET status = 'matched', resolved_at = now()
    WHERE model_name = $1 AND request_id = $4 AND status = 'pending'
      AND received_at >= now() - make_interval(secs => $13)
    RETURNING 1)
INSERT INTO predictions (model_name, version, arm, request_id, event_time, n_rows, n_cols,
                         features, outputs, latency_ms, ok, schema_error, labelled_at)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12,
       CASE WHEN $11 AND (EXISTS (SELECT 1 FROM label) OR EXISTS (
           SELECT 1 FROM labels WHERE model_name = $1 AND request_id = $4
                                  AND status = 'matched')) THEN now() END
ON CONFLICT (model_name, version, arm, request_id) DO NOTHING
"""


async def on_predictions_logged(
    events: list[Event[PredictionLogged]], uow: UnitOfWork, *, settings: MonitorSettings
) -> None:
    """A run of prediction records, stored with one ``executemany`` (a batch handler:
    this is the highest-volume topic on the bus)."""
    await uow.conn.executemany(_INSERT_PREDICTION, [_prediction_row(e, settings) for e in events])


def _prediction_row(event: Event[PredictionLogged], settings: MonitorSettings) -> tuple[Any, ...]:
    p = event.data
    matrix, problem = feature_matrix(p.inputs)
    rows, cols = matrix.shape if matrix is not None else (1, 0)
    return (
        p.model_name,
        p.version,
        p.arm,
        p.request_id,
        _event_time(p, event.time),
        rows,
        cols,
        matrix.astype("<f8").tobytes() if matrix is not None else None,
        orjson.dumps(p.outputs).decode(),
        p.latency_ms,
        p.status == "ok",
        problem,
        settings.label_horizon_s,
    )


_INSERT_LABELS = """
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


async def on_labels_received(event: Event[LabelsReceived], uow: UnitOfWork) -> None:
    p = event.data
    first: dict[str, str] = {}
    repeats: dict[str, int] = {}
    for label in p.labels:
        if label.request_id in first:
            repeats[label.request_id] = repeats.get(label.request_id, 0) + 1
        else:
            first[label.request_id] = orjson.dumps(label.value).decode()
    await uow.conn.execute(_INSERT_LABELS, p.model_name, list(first), list(first.values()))
    if repeats:  # the same request id twice in one event: the first value stands
        await uow.conn.execute(
            "UPDATE labels l SET duplicates = l.duplicates + r.n FROM unnest($2::text[],"
            " $3::int[]) AS r(request_id, n) WHERE l.model_name = $1"
            " AND l.request_id = r.request_id",
            p.model_name,
            list(repeats),
            list(repeats.values()),
        )
