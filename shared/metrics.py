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
CONSUMER_RETRIES = Counter(
    "modelbus_consumer_retries_total", "Batches retried after a transient failure", ["service"]
)
BATCH_SECONDS = Histogram(
    "modelbus_consumer_batch_seconds", "Time to apply one consumed batch", ["service"]
)
OUTBOX_PUBLISHED = Counter(
    "modelbus_outbox_published_total", "Outbox rows published by the relay", ["service"]
)
READY = Gauge("modelbus_ready", "1 when the service is ready", ["service"])
