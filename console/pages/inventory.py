"""The inventory: one row per model, with a one-line health summary a non-specialist reads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from console.services import Failed

DASH = "\N{EN DASH}"  # shown for a missing owner, team or tier
# The metric a task is judged by, in the order they are looked for in a window.
PRIMARY_METRICS = ("accuracy", "f1", "roc_auc", "r2", "rmse", "mae")


@dataclass(frozen=True)
class Row:
    name: str
    owner: str
    team: str
    risk_tier: str
    status: str
    latest_version: int | None
    serving: list[str]  # "v2 stable 90%", "v3 canary 10%"
    last_alert: str | None
    health: str
    healthy: bool | None  # None: nothing measured yet


def arms(serving: Sequence[Mapping[str, Any]] | None) -> list[str]:
    """Governance's serving list as "v2 stable 90%", "v3 canary 10%"."""
    out = []
    for arm in sorted(serving or [], key=lambda a: int(a.get("version") or 0)):
        weight = arm.get("weight")
        share = f" {weight * 100:.0f}%" if isinstance(weight, int | float) else ""
        out.append(f"v{arm.get('version')} {arm.get('arm') or 'serving'}{share}")
    return out


def primary_metric(metrics: Mapping[str, Any]) -> tuple[str, float] | None:
    for name in PRIMARY_METRICS:
        value = metrics.get(name)
        if isinstance(value, int | float):
            return name, float(value)
    return None


def alert_line(alert: Mapping[str, Any]) -> str:
    kind = str(alert.get("kind", "alert")).replace("_", " ")
    summary = alert.get("summary") or {}
    features = summary.get("top_features") or summary.get("features") or []
    detail = f" in {', '.join(map(str, features[:4]))}" if features else ""
    metric = summary.get("metric")
    if metric and not detail:
        detail = f" of {metric}"
    return f"{kind}{detail} on v{alert.get('version')} since {str(alert.get('opened_at'))[:16]}"


def health_line(
    windows: Iterable[Mapping[str, Any]] | None, open_alerts: Sequence[Mapping[str, Any]]
) -> tuple[str, bool | None]:
    """ "healthy: accuracy 0.970 on 1,240 labelled requests; no drift", from the latest
    performance window of the stable arm and the open alerts."""
    performance = [w for w in windows or () if w.get("kind") == "performance"]
    performance.sort(key=lambda w: (w.get("arm") != "stable", str(w.get("closed_at"))))
    measured = ""
    if performance:
        latest = performance[0]
        metric = primary_metric(latest.get("metrics") or {})
        if metric is not None:
            count = latest.get("count") or 0
            measured = f"{metric[0]} {metric[1]:.3f} on {count:,} labelled requests"
    kinds = sorted({str(a.get("kind", "alert")).replace("_", " ") for a in open_alerts})
    if kinds:
        concern = ", ".join(kinds)
        return f"attention: {concern}" + (f"; {measured}" if measured else ""), False
    if measured:
        return f"healthy: {measured}; no drift", True
    if windows:
        return "no drift; no labelled requests measured yet", True
    return "not monitored yet: no closed window", None


def rows(
    models: Sequence[Mapping[str, Any]],
    alerts: Sequence[Mapping[str, Any]],
    windows: Mapping[str, Sequence[Mapping[str, Any]] | None],
) -> list[Row]:
    by_model: dict[str, list[Mapping[str, Any]]] = {}
    for alert in alerts:
        by_model.setdefault(str(alert.get("model_name")), []).append(alert)
    out = []
    for m in models:
        name = str(m["name"])
        open_alerts = [a for a in by_model.get(name, []) if not a.get("resolved_at")]
        latest_alert = by_model.get(name, [None])[0]
        health, healthy = health_line(windows.get(name), open_alerts)
        out.append(
            Row(
                name=name,
                owner=m.get("owner") or DASH,
                team=m.get("team") or DASH,
                risk_tier=m.get("risk_tier") or DASH,
                status=str(m.get("status") or "unknown").replace("_", " "),
                latest_version=m.get("latest_version"),
                serving=arms(m.get("serving")),
                last_alert=alert_line(latest_alert) if latest_alert else None,
                health=health,
                healthy=healthy,
            )
        )
    return out


def filter_options(facets: Mapping[str, Any] | Failed, rows: Sequence[Row]) -> dict[str, list[str]]:
    """What each filter offers: every value governance holds, else (its facets could not be
    read) the values on this page."""
    if isinstance(facets, Failed):
        return {
            "teams": sorted({r.team for r in rows}),
            "tiers": sorted({r.risk_tier for r in rows}),
            "statuses": sorted({r.status for r in rows}),
        }
    return {
        "teams": list(facets["teams"]),
        "tiers": list(facets["risk_tiers"]),
        "statuses": [s.replace("_", " ") for s in facets["statuses"]],
    }


def pages(
    filters: Mapping[str, str | None], *, after: str | None, last: str | None
) -> dict[str, str | None]:
    """Links to the first page (when this is not it) and to the next one, keeping the
    filters: ``last`` is the last name of a full page, which may have more after it."""
    kept = [(k, v) for k, v in filters.items() if v]
    return {
        "first": f"/?{urlencode(kept)}" if after else None,
        "next": f"/?{urlencode([*kept, ('after', last)])}" if last else None,
    }


def service_filters(
    *, team: str | None, tier: str | None, status: str | None
) -> dict[str, str | None]:
    """The page's filters as governance's inventory takes them, so a filter sees every model,
    not only one page's. A dash (no team, no tier) has no value to ask for: :func:`matches`
    applies it to the page instead."""

    def given(value: str | None) -> str | None:
        return value if value and value != DASH else None

    return {
        "team": given(team),
        "risk_tier": given(tier),
        "status": given(status.replace(" ", "_") if status else None),
    }


def matches(row: Row, *, team: str | None, tier: str | None, status: str | None) -> bool:
    return (
        (not team or row.team == team)
        and (not tier or row.risk_tier == tier)
        and (not status or row.status == status)
    )
