"""Login sessions held by the server, and their CSRF tokens.

The browser holds only a random session id (cookie: HttpOnly, SameSite=Strict,
Secure when served over TLS); who is logged in stays on the server, so logging
out or restarting the server ends the session. Every session, logged in or
not, carries a CSRF token that each form posts back (synchronizer token).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

COOKIE = "specqc_session"
IDLE_S = 30 * 60
LIFETIME_S = 12 * 3600
CAPACITY = 10_000
# failed logins of one account name before it is held off for a while
FAILURES_ALLOWED = 5
FAILURE_WINDOW_S = 300.0
HOLD_OFF_S = 60.0


@dataclass
class Session:
    id: str
    csrf: str
    user: str | None = None
    created: float = field(default_factory=time.monotonic)
    seen: float = field(default_factory=time.monotonic)
    fresh: bool = True  # not yet sent to the browser


class Sessions:
    def __init__(self, idle_s: float = IDLE_S, lifetime_s: float = LIFETIME_S, capacity: int = CAPACITY):
        self.idle_s, self.lifetime_s, self.capacity = idle_s, lifetime_s, capacity
        self._by_id: OrderedDict[str, Session] = OrderedDict()
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def new(self, user: str | None = None) -> Session:
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), user)
        with self._lock:
            self._by_id[session.id] = session
            while len(self._by_id) > self.capacity:  # the least recently seen go first
                self._by_id.popitem(last=False)
        return session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        now = time.monotonic()
        with self._lock:
            session = self._by_id.get(session_id)
            if session is None:
                return None
            if now - session.seen > self.idle_s or now - session.created > self.lifetime_s:
                del self._by_id[session_id]
                return None
            session.seen = now
            session.fresh = False
            self._by_id.move_to_end(session_id)
            return session

    def drop(self, session_id: str) -> None:
        with self._lock:
            self._by_id.pop(session_id, None)

    def log_in(self, old: Session, user: str) -> Session:
        """A new session id for the logged-in user (the one used before login is dropped)."""
        self.drop(old.id)
        return self.new(user)

    # ---- failed logins

    def held_off(self, name: str) -> bool:
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._failures.get(name, []) if now - t < FAILURE_WINDOW_S]
            self._failures[name] = recent
            return len(recent) >= FAILURES_ALLOWED and now - recent[-1] < HOLD_OFF_S

    def failed(self, name: str) -> None:
        with self._lock:
            self._failures.setdefault(name, []).append(time.monotonic())
            if len(self._failures) > self.capacity:
                self._failures.pop(next(iter(self._failures)))

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name, None)


def token_matches(expected: str, given: object) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())
