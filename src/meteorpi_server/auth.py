"""Basic-auth credential checking with a short-lived cache of verified credentials.

Passwords are stored as slow salted hashes (SPEC section 6), so verifying one costs tens of
milliseconds of CPU by design. A replication run sends hundreds of requests with the same
credentials; verifying each would cost seconds. :class:`CredentialCache` remembers, for a few
seconds, that a password was correct - without keeping the password: the key is
``(user_id, HMAC-SHA256(secret, password))`` with a random secret made when the process starts
and never stored anywhere, so neither a memory dump of the cache nor the cache keys reveal or
allow checking passwords offline beyond the life of the process.

The cache is per process. A change to users made through this process's admin API clears it at
once. A change made in another process (another gunicorn worker, the CLI) is seen here within
``recheck_seconds``: an entry older than that is checked against the user's row in the database
(``stamp``, a fingerprint of the stored hash and roles) before it is used again, so a deleted
user, a new password or a lost role stops the old credentials in every process within
``recheck_seconds`` (at most ``ttl_seconds`` without a ``stamp``).
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
#: How old a cached verification may be before it is checked against the database again.
DEFAULT_RECHECK_SECONDS = 1.0
#: Most verified credentials kept at once (only successful checks are cached).
DEFAULT_MAX_ENTRIES = 1024


class CredentialCache:
    """Verified ``(user_id, password)`` pairs for ``ttl_seconds``, keyed by an HMAC of the password.

    :param ttl_seconds: lifetime of an entry; 0 disables caching (every request verifies)
    :param max_entries: capacity; the least recently used entry goes first
    :param clock: monotonic time source (seconds)
    :param stamp: ``user_id`` -> fingerprint of the user's stored credentials (None for no such
        user); entries are re-validated with it once they are ``recheck_seconds`` old
    :param recheck_seconds: age after which an entry is re-validated with ``stamp`` (0: on
        every use)
    """

    def __init__(self, ttl_seconds: float = DEFAULT_TTL_SECONDS,
                 max_entries: int = DEFAULT_MAX_ENTRIES,
                 clock: Callable[[], float] = time.monotonic,
                 stamp: Callable[[str], str | None] | None = None,
                 recheck_seconds: float = DEFAULT_RECHECK_SECONDS) -> None:
        if ttl_seconds < 0:
            raise ValueError("ttl_seconds must not be negative")
        if recheck_seconds < 0:
            raise ValueError("recheck_seconds must not be negative")
        self.recheck_seconds = float(recheck_seconds)
        self._stamp = stamp
        self.ttl_seconds = float(ttl_seconds)
        self.max_entries = max_entries
        self._clock = clock
        self._secret = secrets.token_bytes(32)
        # key -> (expires, user, stamp at verification, last validated)
        self._entries: OrderedDict[tuple[str, bytes], tuple[float, User, str | None, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0

    def _key(self, user_id: str, password: str) -> tuple[str, bytes]:
        digest = hmac.new(self._secret, password.encode("utf-8", "surrogatepass"),
                          hashlib.sha256).digest()
        return user_id, digest

    def cached(self, user_id: str, password: str) -> User | None:
        """The user for these credentials if they were verified recently and the user's row is
        unchanged since; None means "verify them" (no password hashing happens here)."""
        key = self._key(user_id, password)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, user, stamp, validated = entry
            now = self._clock()
            if expires <= now:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            due = self._stamp is not None and now - validated >= self.recheck_seconds
        if due:
            current = self._stamp(user_id)
            if current is None or current != stamp:
                with self._lock:
                    self._entries.pop(key, None)
                return None
            with self._lock:
                if key in self._entries:
                    self._entries[key] = (expires, user, stamp, self._clock())
        return User(user.user_id, user.role_mask)

    def verify(self, user_id: str, password: str, check: Callable[[str, str], User]) -> User:
        """The user for these credentials, from the cache or from ``check`` (which raises
        ``ValueError`` for unknown users and wrong passwords; failures are never cached)."""
        user = self.cached(user_id, password)
        if user is not None:
            return user
        with self._lock:
            generation = self._generation
        # Read before checking: a change in between makes the next re-validation fail (safe).
        stamp = self._stamp(user_id) if self._stamp is not None and self.ttl_seconds > 0 else None
        user = check(user_id, password)
        if self.ttl_seconds > 0:
            with self._lock:
                # A clear() while we were checking means the answer may already be stale.
                if generation == self._generation:
                    now = self._clock()
                    self._entries[self._key(user_id, password)] = (
                        now + self.ttl_seconds, User(user.user_id, user.role_mask), stamp, now)
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
