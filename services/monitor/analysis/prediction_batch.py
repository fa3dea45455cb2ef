"""Reading a fetch of ``predictions.logged`` records in bulk: events from bytes, features
as one matrix.

:func:`decode_plain` parses a record with orjson and accepts it only when every field has
exactly the JSON type the strict decoder (``Event[PredictionLogged]``, pydantic, lax mode)
would turn into the same value without coercion; anything else (a missing or unknown
field, a string where a number belongs, a time in another format, a signature attribute,
an escaped NUL, non-JSON) returns None, and the record goes through the strict decoder,
which either accepts it or dead-letters it with the reason. So the plain path accepts a
subset of what the strict one does, with the same values, and refuses nothing itself.

:func:`feature_rows` turns the inputs of many events into rows with one numpy conversion
when they share one input name and shape (what a deployer logs for one model), and falls
back to :func:`~services.monitor.analysis.tensors.feature_matrix` per event otherwise;
both convert the same nested lists elementwise the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import orjson

from services.monitor.analysis.tensors import feature_matrix
from shared.events.deployment import PredictionLogged
from shared.events.envelope import Event
from shared.events.topics import TOPICS

EVENT_TYPE = TOPICS["predictions.logged"].event_type
_EVENT: Any = Event[PredictionLogged]
_ENVELOPE_TEXT = ("id", "source", "type", "correlationid")
_ENVELOPE_OPTIONAL = ("subject", "causationid")
_SIGNATURE = ("govseq", "govkeyid", "govsig")
_REQUIRED = frozenset(
    {"request_id", "model_name", "version", "arm", "time", "inputs", "outputs", "latency_ms",
     "status"}
)  # fmt: skip
_ALLOWED = _REQUIRED | {"error"}
_ARMS = frozenset({"stable", "canary", "shadow"})
_STATUSES = frozenset({"ok", "error"})
# RFC 3339 with an offset: a form pydantic and datetime.fromisoformat read alike.
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)\Z")


def decode_plain(raw: bytes | None) -> Event[PredictionLogged] | None:
    """The event in ``raw`` when it is plainly valid; None when only the strict decoder
    can tell (it may still be valid)."""
    if raw is None or b"\\u0000" in raw:
        return None
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(doc) is not dict or doc.get("type") != EVENT_TYPE:
        return None
    if (
        doc.get("specversion", "1.0") != "1.0"
        or doc.get("datacontenttype", "application/json") != "application/json"
    ):
        return None
    if any(type(doc.get(k)) is not str for k in _ENVELOPE_TEXT):
        return None
    if any(doc.get(k) is not None and type(doc[k]) is not str for k in _ENVELOPE_OPTIONAL):
        return None
    if any(doc.get(k) is not None for k in _SIGNATURE):
        return None
    when, data = doc.get("time"), doc.get("data")
    if type(when) is not str or not _TIMESTAMP.match(when) or type(data) is not dict:
        return None
    payload = _payload(data)
    if payload is None:
        return None
    try:
        time = datetime.fromisoformat(when)
    except ValueError:
        return None
    event: Event[PredictionLogged] = _EVENT.model_construct(
        specversion="1.0",
        id=doc["id"],
        source=doc["source"],
        type=doc["type"],
        subject=doc.get("subject"),
        time=time,
        datacontenttype="application/json",
        correlationid=doc["correlationid"],
        causationid=doc.get("causationid"),
        govseq=None,
        govkeyid=None,
        govsig=None,
        data=payload,
    )
    return event


def _payload(data: dict[str, Any]) -> PredictionLogged | None:
    keys = data.keys()
    if not (_REQUIRED <= keys <= _ALLOWED):
        return None
    latency, error = data["latency_ms"], data.get("error")
    if (
        type(data["request_id"]) is not str
        or type(data["model_name"]) is not str
        or type(data["version"]) is not int
        or data["arm"] not in _ARMS
        or type(data["time"]) is not str
        or type(data["inputs"]) is not dict
        or type(data["outputs"]) is not dict
        or type(latency) not in (float, int)
        or data["status"] not in _STATUSES
        or (error is not None and type(error) is not str)
    ):
        return None
    return PredictionLogged.model_construct(
        request_id=data["request_id"],
        model_name=data["model_name"],
        version=data["version"],
        arm=data["arm"],
        time=data["time"],
        inputs=data["inputs"],
        outputs=data["outputs"],
        latency_ms=float(latency),
        status=data["status"],
        error=error,
    )


Features = tuple[np.ndarray[Any, Any] | None, str | None]


def feature_rows(inputs: Sequence[dict[str, Any]]) -> list[Features]:
    """:func:`feature_matrix` of each request's inputs, converted in one pass when the
    requests share one input name and shape."""
    names = {tuple(i) for i in inputs}
    if len(names) == 1 and len(name := next(iter(names))) == 1:
        values = [i[name[0]] for i in inputs]
        if all(type(v) is list for v in values):  # an OIP {"data": ...} object is read per request
            try:
                batch = np.asarray(values, dtype=np.float64)
            except (TypeError, ValueError):
                batch = None  # ragged or text: per request below
            if batch is not None and batch.ndim >= 2 and batch.size:
                rows = 1 if batch.ndim == 2 else batch.shape[1]
                matrix = batch.reshape(len(values), rows, -1)
                return [(m, None) for m in matrix]
    return [feature_matrix(i) for i in inputs]
