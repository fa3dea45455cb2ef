"""Sessions expire and stay bounded; buttons follow roles and the four-eyes rule."""

from __future__ import annotations

from console.pages.permissions import decide_review, steer_deployment
from console.sessions import SessionStore


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_session_ends_at_its_deadline_and_is_gone_after() -> None:
    clock = Clock()
    store = SessionStore(ttl_s=60, max_sessions=10, clock=clock)
    session_id, session = store.open("mb_token", "ada", "viewer", "token:ada")
    assert store.get(session_id) is session
    clock.now = 60
    assert store.get(session_id) is None
    assert len(store) == 0


def test_the_store_drops_the_oldest_session_beyond_its_bound() -> None:
    store = SessionStore(ttl_s=60, max_sessions=2)
    first, _ = store.open("t1", "a", "viewer", "token:a")
    store.open("t2", "b", "viewer", "token:b")
    store.open("t3", "c", "viewer", "token:c")
    assert store.get(first) is None and len(store) == 2


def test_csrf_matches_only_the_sessions_own_token() -> None:
    _, session = SessionStore(ttl_s=60, max_sessions=2).open("t", "a", "viewer", "token:a")
    assert session.csrf_matches(session.csrf)
    assert not session.csrf_matches(None)
    assert not session.csrf_matches("")
    assert not session.csrf_matches(session.csrf[:-1] + "x")


def test_notices_are_shown_once() -> None:
    _, session = SessionStore(ttl_s=60, max_sessions=2).open("t", "a", "viewer", "token:a")
    session.notify("ok", "approved")
    assert session.take_notices() == [("ok", "approved")]
    assert session.take_notices() == []


def test_a_viewer_gets_no_review_buttons_and_an_approver_does() -> None:
    viewer = decide_review(
        "viewer", "token:v", requester="token:q", registrant="token:r", approvers=[]
    )
    assert not viewer.shown
    approver = decide_review(
        "approver", "token:a", requester="token:q", registrant="token:r", approvers=[]
    )
    assert approver.shown and approver.enabled


def test_four_eyes_compares_principal_ids_as_governance_does() -> None:
    requester = decide_review(
        "approver", "token:q", requester="token:q", registrant="token:r", approvers=[]
    )
    assert requester.shown and not requester.enabled
    assert "four-eyes" in (requester.disabled_because or "")
    registrant = decide_review(
        "admin", "token:r", requester="token:q", registrant="token:r", approvers=[]
    )
    assert not registrant.enabled
    twice = decide_review(
        "approver", "token:a", requester=None, registrant="token:r", approvers=["token:a"]
    )
    assert "already approved" in (twice.disabled_because or "")
    # A name that happens to equal the registrant's id text decides nothing: ids only.
    other = decide_review("approver", "token:b", requester=None, registrant="token:r", approvers=[])
    assert other.enabled


def test_deployment_buttons_by_role_and_state() -> None:
    assert not any(
        a.shown for a in steer_deployment("viewer", has_candidate=True, has_previous=True).values()
    )
    approver = steer_deployment("approver", has_candidate=False, has_previous=False)
    assert approver["promote"].disabled_because == "no candidate is in canary or shadow"
    assert approver["suspend"].disabled_because == "suspending needs the admin role"
    admin = steer_deployment("admin", has_candidate=True, has_previous=True)
    assert all(a.enabled for a in admin.values())
