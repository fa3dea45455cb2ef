"""Who may call which governance route, with real tokens against the running service.

The table of routes and roles is the unit test's (which also proves it lists every route);
here each role calls each route: a role that is not enough gets 403, one that is enough
gets through to the use case (404 for an unknown model, 200 for the queries).
"""

from __future__ import annotations

import pytest

from shared.http.auth import GRANTS, ROLES
from tests.integration.governance.conftest import LOOP, Governance
from tests.unit.governance.test_route_roles import EXPECTED

pytestmark = [pytest.mark.integration, LOOP]

BODIES = {
    "approve": {"comment": "ok"},
    "reject": {"comment": "no"},
    "suspend": {"reason": "x"},
    "retire": {"reason": "x"},
}
WHO = {"viewer": "vic", "data-scientist": "dana", "approver": "ann", "admin": "root"}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED))
async def test_role_table(
    governance: Governance, unique: str, method: str, path: str, role: str
) -> None:
    needed = EXPECTED[(method, path)]
    url = path.format(name=f"nobody-{unique}", version=1)
    params = {"time": "2025-01-01T00:00:00Z"} if path == "/v1/as-of" else None
    body = BODIES.get(path.rsplit("/", 1)[-1])
    async with governance.client(WHO[role]) as client:
        response = await client.request(method, url, json=body, params=params)
    if role in GRANTS[needed]:  # type: ignore[index]
        assert response.status_code in (200, 404), response.text
    else:
        assert response.status_code == 403, response.text
        assert needed in response.json()["error"]
