"""Dashboard login sessions: random tokens held in memory with an expiry.

Only a SHA-256 of each token is kept, so a memory dump or a debug print of the store never
shows a cookie that still works. Sessions end at restart, which is the safe default.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable

MAX_SESSIONS = 1000


def _key(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


class SessionStore:
    """Creates, checks and revokes session tokens; oldest sessions go first past `max_sessions`."""

    def __init__(self, ttl_s: float, *, max_sessions: int = MAX_SESSIONS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_sessions = max_sessions
        self._clock = clock
        self._expires: OrderedDict[bytes, float] = OrderedDict()

    def create(self) -> str:
        """A new session token (256 random bits, URL-safe)."""
        self._prune()
        token = secrets.token_urlsafe(32)
        self._expires[_key(token)] = self._clock() + self.ttl_s
        while len(self._expires) > self.max_sessions:
            self._expires.popitem(last=False)
        return token

    def valid(self, token: str) -> bool:
        if not token:
            return False
        key = _key(token)
        expires = self._expires.get(key)
        if expires is None:
            return False
        if self._clock() >= expires:
            del self._expires[key]
            return False
        return True

    def revoke(self, token: str) -> None:
        self._expires.pop(_key(token), None)

    def _prune(self) -> None:
        now = self._clock()
        for key in [k for k, exp in self._expires.items() if exp <= now]:
            del self._expires[key]

    def __len__(self) -> int:
        return len(self._expires)
