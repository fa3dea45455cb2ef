"""Server-side sessions: the browser holds only a random id, the token stays here.

The cookie is HttpOnly and SameSite=Strict, so page scripts cannot read it and other sites
cannot send it. Every form also carries the session's CSRF token, compared in constant
time, so a request forged from elsewhere is refused even where SameSite is not honoured.
Sessions expire ``ttl_s`` after sign-in; the store holds at most ``max_sessions`` and drops
the oldest first, so nobody can grow it without bound by signing in repeatedly.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

COOKIE = "modelbus_console"


@dataclass
class Session:
    token: str
    name: str
    role: str
    # The token's principal id (``token:<id>``): what governance's four-eyes rule compares.
    principal_id: str
    expires_at: float
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    # What the last action said, shown once on the next page: (kind, text).
    notices: list[tuple[str, str]] = field(default_factory=list)

    def notify(self, kind: str, text: str) -> None:
        self.notices = [*self.notices[-4:], (kind, text)]

    def take_notices(self) -> list[tuple[str, str]]:
        taken, self.notices = self.notices, []
        return taken

    def csrf_matches(self, offered: str | None) -> bool:
        return offered is not None and hmac.compare_digest(self.csrf, offered)


class SessionStore:
    def __init__(
        self, ttl_s: float, max_sessions: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self.max_sessions = max_sessions
        self._clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def open(self, token: str, name: str, role: str, principal_id: str) -> tuple[str, Session]:
        """A new session for a token the services accepted; returns its cookie value."""
        session_id = secrets.token_urlsafe(32)
        session = Session(token, name, role, principal_id, self._clock() + self.ttl_s)
        self._sessions[session_id] = session
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        if session.expires_at <= self._clock():
            del self._sessions[session_id]
            return None
        return session

    def close(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._sessions)
