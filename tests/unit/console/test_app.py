"""The console's HTTP behaviour against fake services: sign-in, cookies, CSRF, forwarding."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from console.app import create_app
from console.services import Failed, ServiceError
from console.settings import ConsoleSettings

TOKEN = "mb_0123456789ab_" + "s" * 43


class FakeServices:
    """Answers like the services would; remembers what was forwarded with which token."""

    def __init__(self, role: str = "approver") -> None:
        self.role = role
        self.registrant = "token:rob1"
        self.posts: list[tuple[str, str, str, dict[str, Any]]] = []

    async def get(self, service: str, path: str, token: str, **params: Any) -> Any:
        if token != TOKEN:
            return Failed(service, 401, f"{service} answered 401: invalid or revoked token")
        if path == "/v1/whoami":
            return {"name": "amy", "role": self.role, "id": "token:amy1"}
        if path == "/v1/reviews":
            return [
                {
                    "model_name": "m",
                    "version": 1,
                    "owner": "olga",
                    "registered_by": self.registrant,
                    "requested_by": None,
                    "risk_tier": "medium",
                    "required_approvals": 1,
                    "approvers": [],
                    "requested_at": "2026-01-01T00:00:00+00:00",
                    "checks": [],
                }
            ]
        return Failed(service, 503, f"{service} did not answer (ConnectError)")

    async def post(self, service: str, path: str, token: str, body: dict[str, Any]) -> Any:
        self.posts.append((service, path, token, body))
        if "reject" in path and not body.get("comment"):
            raise ServiceError(Failed(service, 400, "governance answered 400: comment is required"))
        return {"status": "approved", "approvers": ["token:amy1"], "required_approvals": 1}

    async def aclose(self) -> None:
        pass


@pytest.fixture
def fake() -> FakeServices:
    return FakeServices()


@pytest.fixture
def client(fake: FakeServices) -> TestClient:
    app = create_app(ConsoleSettings(refresh_s=0))
    app.state.console.services = fake
    return TestClient(app, base_url="http://testserver")


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def sign_in(client: TestClient) -> str:
    form = client.get("/signin")
    answer = client.post(
        "/signin", data={"csrf": csrf_of(form.text), "token": TOKEN}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/reviews").text)


def test_pages_need_a_session(client: TestClient) -> None:
    answer = client.get("/reviews", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/signin"
    refresh = client.get("/reviews", headers={"X-Console-Fragment": "1"})
    assert refresh.status_code == 401


def test_sign_in_sets_an_httponly_strict_cookie_that_is_not_the_token(client: TestClient) -> None:
    form = client.get("/signin")
    answer = client.post(
        "/signin", data={"csrf": csrf_of(form.text), "token": TOKEN}, follow_redirects=False
    )
    cookie = next(
        h
        for k, h in answer.headers.multi_items()
        if k == "set-cookie" and h.startswith("modelbus_console=")
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and TOKEN not in cookie
    assert "Content-Security-Policy" in client.get("/reviews").headers


def test_a_wrong_token_is_refused_and_a_sign_in_without_its_form_token_too(
    client: TestClient,
) -> None:
    form = client.get("/signin")
    wrong = client.post("/signin", data={"csrf": csrf_of(form.text), "token": "mb_nope"})
    assert wrong.status_code == 401 and "not accepted" in wrong.text
    client.cookies.clear()
    forged = client.post("/signin", data={"csrf": "guess", "token": TOKEN})
    assert forged.status_code == 403


def test_a_form_without_the_csrf_token_is_refused_and_nothing_is_forwarded(
    client: TestClient, fake: FakeServices
) -> None:
    sign_in(client)
    answer = client.post("/reviews/m/1/approve", data={"comment": "ok"})
    assert answer.status_code == 403 and "CSRF" in answer.text
    answer = client.post("/reviews/m/1/approve", data={"comment": "ok", "csrf": "x" * 43})
    assert answer.status_code == 403
    assert fake.posts == []


def test_an_approval_is_forwarded_with_the_persons_token_and_the_answer_shown(
    client: TestClient, fake: FakeServices
) -> None:
    csrf = sign_in(client)
    answer = client.post(
        "/reviews/m/1/approve",
        data={"comment": "looks right", "csrf": csrf, "back": "//evil.example/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/reviews"
    assert fake.posts == [
        ("governance", "/v1/models/m/versions/1/approve", TOKEN, {"comment": "looks right"})
    ]
    assert "approved m v1: approved (1 of 1 approvals)" in client.get("/reviews").text


def test_the_review_buttons_are_disabled_for_whoever_registered_the_version(
    client: TestClient, fake: FakeServices
) -> None:
    sign_in(client)
    assert "four-eyes: you" not in client.get("/reviews").text
    fake.registrant = "token:amy1"  # the signed-in token's id, whatever the names say
    page = client.get("/reviews").text
    assert "four-eyes: you asked for the training of or registered this version" in page
    assert 'data-action="approve" disabled' in page


def test_a_refusal_by_the_service_is_shown_with_its_reason(
    client: TestClient, fake: FakeServices
) -> None:
    csrf = sign_in(client)
    client.post("/reviews/m/1/reject", data={"csrf": csrf, "comment": ""}, follow_redirects=False)
    assert "comment is required" in client.get("/reviews").text


def test_a_page_says_which_service_did_not_answer(client: TestClient) -> None:
    sign_in(client)
    page = client.get("/deployments")
    assert page.status_code == 200 and "deployer did not answer" in page.text


def test_an_oversized_form_is_refused_before_it_is_read(client: TestClient) -> None:
    csrf = sign_in(client)
    answer = client.post("/reviews/m/1/approve", data={"csrf": csrf, "comment": "x" * 70_000})
    assert answer.status_code == 413


def test_sign_out_ends_the_session(client: TestClient) -> None:
    csrf = sign_in(client)
    client.post("/signout", data={"csrf": csrf})
    assert client.get("/reviews", follow_redirects=False).status_code == 303


def test_the_review_queue_filters_by_tier_and_model(client: TestClient) -> None:
    sign_in(client)
    everything = client.get("/reviews").text
    assert "1 of 1 waiting" in everything and 'href="#review-1"' in everything
    by_name = client.get("/reviews", params={"model": "M"}).text  # a case-blind substring
    assert "1 of 1 waiting" in by_name and 'data-review="m/1"' in by_name
    other_tier = client.get("/reviews", params={"tier": "high"}).text
    assert "0 of 1 waiting" in other_tier and "No review waiting matches the filter" in other_tier
    assert 'data-review="m/1"' not in other_tier


class HeldCanary(FakeServices):
    """A deployer whose canary passed its requests and waits for labelled evidence."""

    async def get(self, service: str, path: str, token: str, **params: Any) -> Any:
        if path != "/v1/deployments":
            return await super().get(service, path, token, **params)
        candidate = {"version": 2, "status": "active", "reason": None, "mode": "canary",
                     "weight": 0.1, "sticky_header": None}  # fmt: skip
        candidate["labelled_evidence"] = {
            "candidate_labelled": 120.0,
            "stable_labelled": 640.0,
            "min_labelled": 500,
            "max_quality_drop": 0.01,
            "requests_passed": True,
            "says": "waiting for 500 labelled predictions per arm (candidate 120, stable 640)",
        }
        stable = {"version": 1, "status": "active", "reason": None, "weight": 0.9}
        model = {"model_name": "credit", "revision": 3, "stable": stable,
                 "candidate": candidate, "previous_version": None, "pending": [],
                 "serving_here": None}  # fmt: skip
        return {"replica": "r1", "ready": True, "models": [model]}


def test_a_canary_held_for_labels_says_how_many_it_has_and_needs() -> None:
    app = create_app(ConsoleSettings(refresh_s=0))
    app.state.console.services = HeldCanary()
    client = TestClient(app, base_url="http://testserver")
    sign_in(client)
    page = client.get("/deployments").text
    assert "candidate 120 and stable 640 of 500 labelled predictions each" in page
    assert "The request evidence has passed; the candidate waits for its labels." in page
    assert "waiting for 500 labelled predictions per arm (candidate 120, stable 640)" in page
