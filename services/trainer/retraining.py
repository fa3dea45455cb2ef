"""Whether an alert asks for a retraining, and which: a pure decision, no I/O.

A model opts in with ``metadata.retraining == "auto"`` on its latest training request.
The retraining repeats that request (dataset, search, metric, seed, metadata) with
``reason`` drift/performance, ``parent_version`` the alerted version and the monitor's
recent labelled traffic as ``extra_data``. Its request id derives from the alert, so the
same alert, however often delivered, can never queue two jobs. Queueing it, at most one
per model at a time, is :func:`services.trainer.handlers.on_alert`.
"""

from __future__ import annotations

import uuid

from shared.events.monitoring import Alert, DriftDetected
from shared.events.training import TrainingRequested

_NAMESPACE = uuid.UUID("5b0f3c2e-8f0e-4d2a-9a57-6f1f3d1c9e10")


def retraining_request(last: TrainingRequested | None, alert: Alert) -> TrainingRequested | None:
    """The request to send for ``alert``, or None when the model did not opt in."""
    if last is None or last.metadata.retraining != "auto":
        return None
    return last.model_copy(
        update={
            "request_id": str(uuid.uuid5(_NAMESPACE, f"{alert.model_name}:{alert.alert_id}")),
            "reason": "drift" if isinstance(alert, DriftDetected) else "performance",
            "parent_version": alert.version,
            # Recent labelled production traffic, exported by the monitor with the alert:
            # appended to the original training split, so the new model learns the shift.
            "extra_data": alert.labelled_data,
        }
    )
