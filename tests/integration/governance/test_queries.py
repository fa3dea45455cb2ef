"""The viewer's queries: inventory, what was approved and serving at time T, trail, card."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from shared.events.monitoring import MultivariateDrift
from tests.integration.governance.conftest import FOREIGN_REPLIES, LOOP, Governance
from tests.support.events import HIGH_RISK, deployed, drift, promoted, registered

pytestmark = [pytest.mark.integration, LOOP]


async def test_inventory_point_in_time_trail_and_card(governance: Governance, unique: str) -> None:
    name = f"inv-{unique}"
    [reg1] = await governance.publish(registered(name, 1, accuracy=0.91))
    await governance.next_event("model.approved", name)
    [dep1] = await governance.publish(deployed(name, 1), source="deployer")
    await governance.wait_for(lambda: governance.audited(dep1), "v1 deployment audited")
    serving_v1_only = datetime.now(UTC)
    await governance.publish(registered(name, 2, accuracy=0.93))
    await governance.next_event("model.approved", name, count=2)
    together = MultivariateDrift(
        statistic=2.5, reference=1.0, threshold=1.4, p_value=1e-6, drifted=True,
        components=3, columns=4, reference_n=500, current_n=200,
    )  # fmt: skip
    # A correlation flip: the features together drift, no single one does.
    flip = drift(name, 2, features=[], multivariate=together)
    for payload in (deployed(name, 2, "canary", 0.1), promoted(name, 2, 1), flip):
        [event] = await governance.publish(payload, source="deployer")
        await governance.wait_for(lambda e=event: governance.audited(e), payload.__class__.__name__)

    async with governance.client("vic") as viewer:
        inventory = (await viewer.get("/v1/models", params={"name": name})).json()
        [entry] = [m for m in inventory if m["name"] == name]
        assert entry["owner"] == "olivia" and entry["risk_tier"] == "low"
        assert entry["status"] == "serving" and entry["latest_version"] == 2
        assert entry["serving"] == [{"version": 2, "arm": "stable", "weight": 1.0}]
        assert entry["open_reviews"] == []
        assert entry["last_approval"]["version"] == 2
        assert entry["last_drift"]["version"] == 2
        assert entry["last_drift"]["top_features"] == []
        assert entry["last_drift"]["multivariate"] == {
            "method": "pca_reconstruction", "drifted": True, "statistic": 2.5,
            "threshold": 1.4, "p_value": 1e-6,
        }  # fmt: skip

        detail = (await viewer.get(f"/v1/models/{name}")).json()
        assert [(v["version"], v["status"]) for v in detail["versions"]] == [
            (1, "approved"),
            (2, "approved"),
        ]

        then = (
            await viewer.get(
                "/v1/as-of", params={"time": serving_v1_only.isoformat(), "model": name}
            )
        ).json()["models"][name]
        assert then == {
            "approved": [1],
            "serving": [{"version": 1, "arm": "stable", "weight": 1.0}],
        }
        before = (await viewer.get("/v1/as-of", params={"time": reg1.time.isoformat()})).json()
        assert name not in before["models"]
        naive = await viewer.get("/v1/as-of", params={"time": "2025-01-01T00:00:00"})
        assert naive.status_code == 400

        trail = (await viewer.get(f"/v1/models/{name}/audit")).json()
        mine = [r for r in trail if r["action"] not in FOREIGN_REPLIES]
        assert [r["action"] for r in mine] == [
            "model.registered",
            "model.approved",
            "model.deployed",
            "model.registered",
            "model.approved",
            "model.deployed",
            "model.promoted",
            "drift.detected",
        ]
        assert [r["model_seq"] for r in trail] == list(range(1, len(trail) + 1))
        assert all(r["prev_hash"] == p["hash"] for p, r in itertools.pairwise(trail))

        card = await viewer.get(f"/v1/models/{name}/versions/2/card")
        assert card.headers["content-type"].startswith("text/markdown")
        assert "# Model card" in card.text and "| accuracy | 0.93 |" in card.text
        assert "| metric.accuracy | pass | 0.93 |" in card.text
        assert "model.promoted" in card.text and "drift.detected" in card.text
        assert (await viewer.get(f"/v1/models/{name}/versions/7/card")).status_code == 404

        tail = (await viewer.get("/v1/audit", params={"model": name, "limit": 2})).json()
        assert [r["seq"] for r in tail] == [r["seq"] for r in trail[-2:]]


async def test_the_inventory_pages_and_filters_over_every_model(
    governance: Governance, unique: str
) -> None:
    team = f"team-{unique}"
    names = [f"page-{unique}-{i}" for i in range(3)]
    for name in names[:2]:
        await governance.publish(registered(name, metadata={"team": team}))
    # High risk: a review waits for two approvers.
    await governance.publish(registered(names[2], metadata={**HIGH_RISK, "team": team}))
    for name in names[:2]:
        await governance.next_event("model.approved", name)
    await governance.next_event("review.requested", names[2])

    async with governance.client("vic") as viewer:
        first = await viewer.get("/v1/models", params={"name": unique, "limit": 2})
        assert [m["name"] for m in first.json()] == names[:2]
        link = first.headers["link"]
        assert link.endswith('; rel="next"') and f"after={names[1]}" in link
        following = await viewer.get(link.removeprefix("<").split(">;")[0])
        assert [m["name"] for m in following.json()] == names[2:]
        assert "link" not in following.headers  # not a full page: nothing after it

        async def shown(**filters: str) -> list[str]:
            page = await viewer.get("/v1/models", params={"name": unique, **filters})
            return [m["name"] for m in page.json()]

        assert await shown(team=team) == names
        assert await shown(team=team, risk_tier="high") == names[2:]
        assert await shown(status="in_review") == names[2:]
        assert await shown(team="no-such-team") == []
        assert (await viewer.get("/v1/models", params={"limit": 0})).status_code == 400

        facets = (await viewer.get("/v1/model-facets")).json()
        assert team in facets["teams"] and {"low", "high"} <= set(facets["risk_tiers"])
        assert "in_review" in facets["statuses"]
