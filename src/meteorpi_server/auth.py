"""Basic-auth credential checking with a short-lived cache of verified credentials.

Passwords are stored as slow salted hashes (SPEC section 6), so verifying one costs tens of
milliseconds of CPU by design. A replication run sends hundreds of requests with the same
credentials; verifying each would cost seconds. :class:`CredentialCache` remembers, for a few
seconds, that a password was correct - without keeping the password: the key is
``(user_id, HMAC-SHA256(secret, password))`` with a random secret made when the process starts
and never stored anywhere, so neither a memory dump of the cache nor the cache keys reveal or
allow checking passwords offline beyond the life of the process.

The cache is per process. A change to users made through this process's admin API clears it at
once; a change made in another process (another gunicorn worker, the CLI) is seen here at most
``ttl_seconds`` later - that is how long a revoked password can still work elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from typing import Callable

from meteorpi_model import User

#: Default lifetime of a cached verification, in seconds.
DEFAULT_TTL_SECONDS = 60.0
#: Most verified credentials kept at once (only successful checks are cached).
DEFAULT_MAX_ENTRIES = 1024


class CredentialCache:
    """Verified ``(user_id, password)`` pairs for ``ttl_seconds``, keyed by an HMAC of the password.

    :param ttl_seconds: lifetime of an entry; 0 disables caching (every request verifies)
    :param max_entries: capacity; the least recently used entry goes first
    :param clock: monotonic time source (seconds)
    """

    def __init__(self, ttl_seconds: float = DEFAULT_TTL_SECONDS,
                 max_entries: int = DEFAULT_MAX_ENTRIES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if ttl_seconds < 0:
            raise ValueError("ttl_seconds must not be negative")
        self.ttl_seconds = float(ttl_seconds)
        self.max_entries = max_entries
        self._clock = clock
        self._secret = secrets.token_bytes(32)
        self._entries: OrderedDict[tuple[str, bytes], tuple[float, User]] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0

    def _key(self, user_id: str, password: str) -> tuple[str, bytes]:
        digest = hmac.new(self._secret, password.encode("utf-8", "surrogatepass"),
                          hashlib.sha256).digest()
        return user_id, digest

    def verify(self, user_id: str, password: str, check: Callable[[str, str], User]) -> User:
        """The user for these credentials, from the cache or from ``check`` (which raises
        ``ValueError`` for unknown users and wrong passwords; failures are never cached)."""
        key = self._key(user_id, password)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                expires, user = entry
                if expires > self._clock():
                    self._entries.move_to_end(key)
                    return User(user.user_id, user.role_mask)
                del self._entries[key]
            generation = self._generation
        user = check(user_id, password)
        if self.ttl_seconds > 0:
            with self._lock:
                # A clear() while we were checking means the answer may already be stale.
                if generation == self._generation:
                    self._entries[key] = (self._clock() + self.ttl_seconds,
                                          User(user.user_id, user.role_mask))
                    while len(self._entries) > self.max_entries:
                        self._entries.popitem(last=False)
        return user

    def clear(self) -> None:
        """Forget every verified credential (call whenever any user changes)."""
        with self._lock:
            self._entries.clear()
            self._generation += 1

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
