"""Prometheus metrics every service exposes on ``/metrics``; labels say which service."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_CONSUMED = Counter(
    "modelbus_events_consumed_total", "Events applied by a consumer", ["service", "topic"]
)
EVENTS_DUPLICATE = Counter(
    "modelbus_events_duplicate_total",
    "Redelivered events skipped by the inbox",
    ["service", "topic"],
)
EVENTS_DEAD_LETTERED = Counter(
    "modelbus_events_dead_lettered_total",
    "Records sent to a dead-letter topic",
    ["service", "topic", "error_class"],
)
DECISIONS_REFUSED = Counter(
    "modelbus_decisions_refused_total",
    "Governance decisions dead-lettered and not acted on: unsigned, signed by an untrusted "
    "key, badly signed, or replayed",
    ["service", "topic", "reason"],
)
CONSUMER_RETRIES = Counter(
    "modelbus_consumer_retries_total", "Batches retried after a transient failure", ["service"]
)
CONSUMER_RETRYING_SECONDS = Gauge(
    "modelbus_consumer_retrying_seconds",
    "How long a partition's batch has been retried after transient failures; 0 when it is "
    "not (updated at each retry): alert when it stays above zero",
    ["service", "topic", "partition"],
)
CONSUMER_GAVE_UP = Counter(
    "modelbus_consumer_retries_exhausted_total",
    "Batches still failing transiently past the retry deadline, then applied event by "
    "event with the events that still failed dead-lettered",
    ["service", "topic"],
)
BATCH_SECONDS = Histogram(
    "modelbus_consumer_batch_seconds", "Time to apply one consumed batch", ["service"]
)
OUTBOX_PUBLISHED = Counter(
    "modelbus_outbox_published_total", "Outbox rows published by the relay", ["service"]
)
OUTBOX_QUARANTINED = Counter(
    "modelbus_outbox_quarantined_total",
    "Outbox rows the broker refused too often, moved to outbox_quarantine and dead-lettered",
    ["service", "topic", "error_class"],
)
OUTBOX_REFUSALS = Counter(
    "modelbus_outbox_refusals_total",
    "Sends of an outbox row the broker refused (not an outage)",
    ["service", "topic", "error_class"],
)
READY = Gauge("modelbus_ready", "1 when the service is ready (what /readyz answers)", ["service"])
SUPERVISOR_RESTARTS = Gauge(
    "modelbus_supervisor_restarts",
    "Times the supervisor (modelbus up) restarted this service after it exited",
    ["service"],
)
STREAM_LAG = Gauge(
    "modelbus_stream_lag_records",
    "Records between what a stream consumer last applied in a partition it owns and the "
    "partition's end, as of its last fetch",
    ["service", "topic", "partition"],
)
