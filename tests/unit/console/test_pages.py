"""What the pages compute: the audit chain check, the correlation chain, the heat map,
the inventory's health line and the canary's progress."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from console.pages import audit, deployments, inventory, monitoring


def chain(model: str, n: int, correlation: str = "c1") -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    prev = audit.GENESIS
    for i in range(1, n + 1):
        record: dict[str, Any] = {
            "seq": i,
            "model_seq": i,
            "time": f"2026-01-01T00:00:0{i}Z",
            "actor": "test",
            "action": "model.promoted" if i == n else "model.registered",
            "model_name": model,
            "version": 1,
            "event_id": f"e{i}",
            "event_type": "t",
            "correlation_id": correlation,
            "payload_sha256": "0" * 64,
            "summary": {},
            "prev_hash": prev,
        }
        body = {k: v for k, v in record.items() if k != "seq"}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        record["hash"] = hashlib.sha256(canonical.encode()).hexdigest()
        prev = record["hash"]
        records.append(record)
    return records


def test_an_intact_chain_verifies_and_an_edited_record_does_not() -> None:
    records = chain("m", 3)
    assert audit.check_chain(records).ok
    records[1] = {**records[1], "actor": "someone else"}
    check = audit.check_chain(records)
    assert not check.ok and "record 2" in (check.problem or "")


def test_a_record_relinked_to_another_parent_breaks_the_chain() -> None:
    records = chain("m", 3)
    forged = chain("m", 3)[2]
    forged["prev_hash"] = "f" * 64
    body = {k: v for k, v in forged.items() if k not in ("seq", "hash")}
    forged["hash"] = hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    assert "breaks" in (audit.check_chain([*records[:2], forged]).problem or "")


def window(i: int, psi: dict[str, float], drifted: list[str]) -> dict[str, Any]:
    return {
        "window_id": i,
        "end": f"2026-01-01T00:0{i}:00Z",
        "version": 1,
        "arm": "stable",
        "count": 200,
        "drifted": bool(drifted),
        "top_features": drifted,
        "metrics": {f"psi.{k}": v for k, v in psi.items()},
    }


def test_the_heat_map_marks_drifted_cells_and_highlights_the_latest_windows_features() -> None:
    windows = [
        window(1, {"a": 0.01, "b": 0.02}, []),
        window(2, {"a": 0.9, "b": 0.15}, ["a"]),
    ]
    heat = monitoring.heat_map(windows, ["a", "b"])
    assert heat.highlighted == ["a"]
    a, b = heat.rows
    assert [c.drifted for c in a.cells] == [False, True]
    assert [c.band for c in a.cells] == ["psi-low", "psi-high"]
    assert b.cells[1].band == "psi-mid" and not b.drifted_latest


def test_health_reads_as_a_sentence() -> None:
    windows = [
        {
            "kind": "performance",
            "arm": "stable",
            "count": 1240,
            "closed_at": "t",
            "metrics": {"accuracy": 0.97},
        }
    ]
    assert inventory.health_line(windows, []) == (
        "healthy: accuracy 0.970 on 1,240 labelled requests; no drift",
        True,
    )
    line, healthy = inventory.health_line(windows, [{"kind": "drift"}])
    assert line.startswith("attention: drift") and healthy is False
    assert inventory.health_line(None, [])[1] is None


def test_canary_progress_against_its_thresholds() -> None:
    progress = deployments.progress(
        {
            "evidence": {
                "candidate_requests": 50.0,
                "candidate_error_rate": 0.02,
                "stable_error_rate": 0.0,
                "latency_ratio": 1.2,
            },
            "thresholds": {
                "promote_after_requests": 200.0,
                "max_error_rate_delta": 0.01,
                "max_latency_ratio": 2.0,
            },
        }
    )
    assert progress is not None
    assert progress.percent == 25 and not progress.error_ok and progress.latency_ok
    assert deployments.progress({"evidence": None}) is None


def test_estimated_performance_stands_beside_the_measured_on_one_time_axis() -> None:
    data = [
        {"end": "2026-01-01T00:01:00Z", "metrics": {"estimated_accuracy": 0.91}},
        {
            "end": "2026-01-01T00:03:00Z",
            "metrics": {
                "estimated_accuracy": 0.83,
                "estimated_accuracy_threshold": 0.86,
                "reconstruction_error": 1.2,
                "reconstruction_error_threshold": 0.9,
                "reconstruction_error_reference": 0.7,
            },
        },
    ]
    measured = [{"end": "2026-01-01T00:04:00Z", "metrics": {"accuracy": 0.82}}]
    chart = monitoring.performance_chart(measured, data, [])
    lines = {line["name"]: line["values"] for line in chart["lines"]}
    assert lines["estimated_accuracy"] == [0.91, 0.83, None]
    assert lines["accuracy"] == [None, None, 0.82]
    assert chart["thresholds"] == [{"name": "estimated_accuracy alert threshold", "value": 0.86}]
    multivariate = monitoring.multivariate_chart(data)
    assert multivariate["lines"] == [{"name": "reconstruction_error", "values": [None, 1.2]}]
    assert {t["name"] for t in multivariate["thresholds"]} == {"drift above", "reference"}


def test_the_inventory_asks_governance_for_its_filters_and_links_its_pages() -> None:
    asked = inventory.service_filters(team="fraud", tier=inventory.DASH, status="in review")
    assert asked == {"team": "fraud", "risk_tier": None, "status": "in_review"}
    filters = {"team": "fraud & risk", "tier": None, "status": "serving"}
    assert inventory.pages(filters, after=None, last="m-200") == {
        "first": None,
        "next": "/?team=fraud+%26+risk&status=serving&after=m-200",
    }
    assert inventory.pages(filters, after="m-200", last=None) == {
        "first": "/?team=fraud+%26+risk&status=serving",
        "next": None,
    }
