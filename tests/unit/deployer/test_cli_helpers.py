"""The CLI's own logic: turning a shorthand into a V2 request, and the status table."""

from __future__ import annotations

import pytest

from modelbus.commands.deploy import format_status
from modelbus.commands.predict import to_request
from shared.errors import InvalidInput

METADATA = {
    "inputs": [
        {"name": "X", "datatype": "FP32", "shape": [-1, 2]},
        {"name": "S", "datatype": "BYTES", "shape": [-1]},
    ]
}


def test_shorthand_inputs_take_datatypes_from_metadata_and_shapes_from_nesting() -> None:
    request = to_request({"X": [[1, 2], [3, 4], [5, 6]], "S": ["a", "b", "c"]}, METADATA)
    assert request == {
        "inputs": [
            {"name": "X", "datatype": "FP32", "shape": [3, 2], "data": [[1, 2], [3, 4], [5, 6]]},
            {"name": "S", "datatype": "BYTES", "shape": [3], "data": ["a", "b", "c"]},
        ]
    }
    full = {"inputs": [{"name": "X", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}]}
    assert to_request(full, {}) is full
    with pytest.raises(InvalidInput, match="unknown input"):
        to_request({"Z": [1]}, METADATA)


def test_status_shows_arms_weights_and_what_this_replica_serves() -> None:
    status = {
        "replica": "r1",
        "ready": True,
        "models": [
            {
                "model_name": "churn",
                "revision": 4,
                "previous_version": 1,
                "pending": [4],
                "stable": {"version": 2, "status": "active", "reason": None, "weight": 0.9},
                "candidate": {
                    "version": 3,
                    "status": "active",
                    "reason": None,
                    "mode": "canary",
                    "weight": 0.1,
                    "sticky_header": None,
                },
                "serving_here": {
                    "stable": 2,
                    "candidate": None,
                    "mode": None,
                    "weight": 0.0,
                    "stable_stopped": False,
                    "evidence": None,
                },
            }
        ],
    }
    rows = [line.split() for line in format_status(status).splitlines()[2:]]
    assert rows == [
        ["churn", "stable", "2", "90%", "active", "yes"],
        ["churn", "canary", "3", "10%", "active", "no", "(nothing)"],
        ["churn", "pending", "4"],
    ]
