"""``modelbus monitor NAME``: the latest monitoring windows of a model, readably."""

from __future__ import annotations

import argparse
from typing import Any

import orjson

DATA_COLUMNS = (
    ("psi", "psi"),
    ("ks", "ks"),
    ("ks_p", "ks p"),
    ("chi2", "chi2"),
    ("chi2_p", "chi2 p"),
    ("jensen_shannon", "js"),
    ("wasserstein", "wass."),
    ("missing_rate", "missing"),
    ("out_of_range", "out-of-rng"),
    ("unseen_categories", "unseen"),
)
PERFORMANCE = ("accuracy", "f1", "roc_auc", "rmse", "mae")
ESTIMATED = ("accuracy", "roc_auc")  # estimated before labels (CBPE), on data windows


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("monitor", help="show the latest monitoring windows of a model")
    parser.add_argument("name", help="model name")
    parser.add_argument("--version", type=int, help="only this version")
    parser.add_argument("--arm", choices=("stable", "canary", "shadow"), help="only this arm")
    parser.add_argument("--json", action="store_true", help="print the raw JSON")
    parser.set_defaults(func=show)


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.2e}"
    return f"{value:.3f}"


def _features(metrics: dict[str, float]) -> list[str]:
    names: list[str] = []
    for key in metrics:
        if "." in key:
            name = key.split(".", 1)[1]
            if name not in names:
                names.append(name)
    return names


def _data_window(w: dict[str, Any]) -> list[str]:
    m = w["metrics"]
    drift = {None: "not tested", True: "DRIFT", False: "no drift"}[w["drifted"]]
    if w["drifted"]:
        drift += f" (top: {', '.join(w['top_features'] or [])})"
    lines = [
        f"  requests {int(m.get('requests', 0))} · rows {int(m.get('rows', 0))}"
        f" · error rate {m.get('error_rate', 0.0):.2%}"
        f" · schema violations {int(m.get('schema_violations', 0))}",
        "  latency p50/p95/p99 "
        + " / ".join(_num(m.get(f"latency_p{q}_ms")) for q in (50, 95, 99))
        + " ms",
        f"  {drift}",
        *_multivariate(m),
        *_estimated(m),
    ]
    names = _features(m)
    if names:
        drifted = {
            e["feature"]
            for e in (w.get("drift") or [])
            if e["drifted"] and e["method"] in ("ks", "chi2")
        }
        shown = [(k, title) for k, title in DATA_COLUMNS if any(f"{k}.{n}" in m for n in names)]
        width = max(len(n) for n in names) + 2
        lines.append(
            "  " + "feature".ljust(width) + "".join(t.rjust(11) for _, t in shown) + "   test"
        )
        for n in names:
            cells = "".join(_num(m.get(f"{k}.{n}")).rjust(11) for k, _ in shown)
            lines.append("  " + n.ljust(width) + cells + ("   REJECTS" if n in drifted else ""))
    return lines


def _multivariate(m: dict[str, float]) -> list[str]:
    if "reconstruction_error" not in m:
        return []
    verdict = "DRIFT" if m.get("multivariate_drifted") else "no drift"
    return [
        f"  multivariate (PCA reconstruction error) {_num(m['reconstruction_error'])}"
        f" · reference {_num(m.get('reconstruction_error_reference'))}"
        f" · drifts above {_num(m.get('reconstruction_error_threshold'))}: {verdict}"
    ]


def _estimated(m: dict[str, float]) -> list[str]:
    parts = []
    for k in ESTIMATED:
        value = m.get(f"estimated_{k}")
        if value is None:
            continue
        bound = m.get(f"estimated_{k}_threshold")
        low = bound is not None and value < bound
        parts.append(
            f"{k} {_num(value)} (reference {_num(m.get(f'estimated_{k}_reference'))},"
            f" alert below {_num(bound)}){' DEGRADED' if low else ''}"
        )
    if not parts:
        return []
    return [
        f"  estimated before labels on {int(m.get('estimated_rows', 0))} rows: " + " · ".join(parts)
    ]


def _beside(window: dict[str, Any], windows: list[dict[str, Any]]) -> str:
    """The estimates of the stream's latest data window, beside its measured performance."""
    data = next(
        (
            w
            for w in windows
            if w["kind"] == "data"
            and w["version"] == window["version"]
            and w["arm"] == window["arm"]
        ),
        None,
    )
    m = data["metrics"] if data else {}
    shown = [f"{k} {_num(m[f'estimated_{k}'])}" for k in ESTIMATED if f"estimated_{k}" in m]
    return f" · estimated on the latest data window: {' · '.join(shown)}" if shown else ""


def _ingest(ingest: dict[str, Any]) -> str:
    if not ingest.get("folded"):
        return "ingest: no prediction folded into a window yet"
    lag = ingest["lag"]
    fresh = ingest["freshness_s"]
    return (
        f"ingest: {ingest['folded']} predictions folded · lag "
        f"{'-' if lag is None else lag} records (partition {ingest['partition']}) · newest "
        f"prediction {'-' if fresh is None else f'{fresh:.1f} s'} old"
    )


def render(
    name: str,
    latest: dict[str, Any],
    counts: dict[str, Any],
    alerts: list[dict[str, Any]],
    ingest: dict[str, Any] | None = None,
) -> str:
    lines = [f"model {name}"]
    if ingest is not None:
        lines.append(_ingest(ingest))
    for w in latest["windows"]:
        lines.append(
            f"version {w['version']} · {w['arm']} · {w['kind']} window "
            f"{w['start']} → {w['end']} ({w['count']} predictions, "
            f"closed {w['closed_at']})"
        )
        if w["kind"] == "data":
            lines.extend(_data_window(w))
        else:
            m = w["metrics"]
            scores = [f"{k} {_num(m[k])}" for k in PERFORMANCE if k in m]
            lines.append(
                f"  {int(m.get('labelled', 0))} labelled · "
                + (" · ".join(scores) or "no metric defined")
                + _beside(w, latest["windows"])
            )
    lines.append(
        f"labels: {counts['received']} received · {counts['matched']} matched · "
        f"{counts['unmatched']} unmatched · {counts['expired']} expired · "
        f"{counts['duplicates']} duplicates"
    )
    if alerts:
        lines.append("open alerts:")
        lines.extend(
            f"  {a['kind']} {a['alert_id']} (version {a['version']}, {a['arm']}, "
            f"since {a['opened_at']})"
            for a in alerts
        )
    else:
        lines.append("open alerts: none")
    return "\n".join(lines)


def show(args: argparse.Namespace) -> int:
    from modelbus.client import ServiceClient

    client = ServiceClient("monitor")
    params = {k: v for k, v in (("version", args.version), ("arm", args.arm)) if v is not None}
    latest = client.get(f"/v1/models/{args.name}/windows", params=params)
    counts = client.get(f"/v1/models/{args.name}/labels")
    alerts = client.get("/v1/alerts", params={"model_name": args.name})["alerts"]
    ingest = client.get(f"/v1/models/{args.name}/ingest")
    if args.json:
        doc = {"latest": latest, "labels": counts, "alerts": alerts, "ingest": ingest}
        print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
    else:
        print(render(args.name, latest, counts, alerts, ingest))
    return 0
