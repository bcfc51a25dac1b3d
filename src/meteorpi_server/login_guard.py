"""Logins that cannot exhaust the server: a cap on concurrent password hashes and throttling of
repeated failures (issue 11).

Verifying a password costs one argon2 hash: ~64 MiB of memory and tens of milliseconds of CPU
with the production parameters. Without a bound, a burst of wrong passwords costs a server
``concurrency x 64 MiB``. :class:`LoginGuard` bounds it per process:

- at most ``max_hashes`` password checks run at once (a semaphore sized from a memory budget,
  :func:`hash_slots`); a request that waits longer than ``wait_seconds`` for a slot is answered
  429 instead of queueing for ever. A login whose user id and address have no recent failures
  takes the next free slot before any that have, and may wait the whole ``wait_seconds``; one
  with recent failures waits a tenth of that, so an attack's requests give up their server
  threads quickly and a real user is not queued behind them;
- after ``failures_per_user`` failed logins for one user id, or ``failures_per_address`` from one
  client address, within ``window_seconds``, further attempts for that user / from that address
  are answered 429 with ``Retry-After`` - before any hashing - until the window ends.

Credentials already verified and cached (``meteorpi_server.auth``) bypass both, so a camera
node that is logged in keeps working while someone hammers its account or the server. Counts
are per process (with N workers an attacker gets at most N times the limits) and forgotten on
restart; the tables are bounded (least recently used entries go first).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from typing import Callable, Iterator

from meteorpi_server.errors import TooManyRequests

#: Most user ids / client addresses whose failures are remembered at once (each).
MAX_TRACKED = 10_000


def hash_slots(memory_budget_bytes: int, hash_memory_kib: int) -> int:
    """How many password hashes of ``hash_memory_kib`` fit in ``memory_budget_bytes`` (>= 1)."""
    return max(1, memory_budget_bytes // max(1, hash_memory_kib * 1024))


class _FailureCounts:
    """Failures per key in fixed windows of ``window`` seconds, for at most MAX_TRACKED keys."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._counts: OrderedDict[str, list[float]] = OrderedDict()

    def blocked_for(self, key: str) -> float:
        """Seconds until ``key`` may try again (0: it may now)."""
        if self.limit <= 0:
            return 0.0
        entry = self._counts.get(key)
        if entry is None:
            return 0.0
        left = entry[0] + self.window - self._clock()
        if left <= 0:
            del self._counts[key]
            return 0.0
        return left if entry[1] >= self.limit else 0.0

    def count(self, key: str) -> int:
        """Failures of ``key`` in the current window."""
        entry = self._counts.get(key)
        if entry is None or entry[0] + self.window <= self._clock():
            return 0
        return int(entry[1])

    def add(self, key: str) -> None:
        if self.limit <= 0:
            return
        now = self._clock()
        entry = self._counts.get(key)
        if entry is None or entry[0] + self.window <= now:
            entry = self._counts[key] = [now, 0]
        entry[1] += 1
        self._counts.move_to_end(key)
        while len(self._counts) > MAX_TRACKED:
            self._counts.popitem(last=False)

    def reset(self, key: str) -> None:
        self._counts.pop(key, None)


class LoginGuard:
    """The per-process gate in front of every password check.

    :param max_hashes: password checks allowed to run at once
    :param wait_seconds: longest wait for a free slot before answering 429
    :param failures_per_user: failed logins of one user id per window before 429 (0: no limit)
    :param failures_per_address: failed logins from one client address per window (0: no limit)
    :param window_seconds: length of the failure-counting window
    """

    def __init__(self, max_hashes: int, wait_seconds: float, failures_per_user: int,
                 failures_per_address: int, window_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_hashes < 1:
            raise ValueError("max_hashes must be at least 1")
        self.max_hashes = max_hashes
        self.wait_seconds = wait_seconds
        self._free = max_hashes
        self._clean_waiting = 0
        self._slot_changed = threading.Condition()
        self._lock = threading.Lock()
        self._users = _FailureCounts(failures_per_user, window_seconds, clock)
        self._addresses = _FailureCounts(failures_per_address, window_seconds, clock)

    def check(self, user_id: str, address: str) -> None:
        """Raise ``TooManyRequests`` if this user id or address has failed too often lately."""
        user_key = user_id[:256]
        with self._lock:
            user_wait = self._users.blocked_for(user_key)
            address_wait = self._addresses.blocked_for(address)
        if user_wait:
            raise TooManyRequests(f"too many failed logins for user {user_key[:64]!r}; "
                                  f"try again in {int(user_wait + 0.999)} s", user_wait)
        if address_wait:
            raise TooManyRequests(f"too many failed logins from {address}; "
                                  f"try again in {int(address_wait + 0.999)} s", address_wait)

    def failed(self, user_id: str, address: str) -> None:
        """Count a failed login (and let waiters from that user or address lose their place)."""
        with self._lock:
            self._users.add(user_id[:256])
            self._addresses.add(address)
        with self._slot_changed:
            self._slot_changed.notify_all()

    def succeeded(self, user_id: str) -> None:
        """A correct password clears the user's failures (not the address's: one good account
        must not reset the count of guesses at others)."""
        with self._lock:
            self._users.reset(user_id[:256])

    def has_failed(self, user_id: str, address: str) -> bool:
        """Whether this user id or address failed to log in during the current window."""
        with self._lock:
            return self._users.count(user_id[:256]) > 0 or self._addresses.count(address) > 0

    @contextmanager
    def hashing(self, user_id: str | None = None, address: str = "") -> Iterator[None]:
        """Hold one of the ``max_hashes`` slots; ``TooManyRequests`` if none frees up in time.

        A login whose ``user_id`` and ``address`` have no recent failures (or with no user id)
        takes a free slot before any other waiter and waits up to ``wait_seconds``; others wait
        a tenth of that. Whether a waiter is clean is looked at again whenever a failure is
        counted, so an attack's first requests lose their place as soon as one of them fails.
        """
        started = time.monotonic()
        counted = False
        with self._slot_changed:
            try:
                while True:
                    clean = user_id is None or not self.has_failed(user_id, address)
                    if clean != counted:
                        self._clean_waiting += 1 if clean else -1
                        counted = clean
                    if self._free > 0 and (clean or self._clean_waiting == 0):
                        break
                    wait = self.wait_seconds if clean else self.wait_seconds / 10
                    left = started + wait - time.monotonic()
                    if left <= 0:
                        raise TooManyRequests("too many logins being checked at once; try again "
                                              "shortly", max(1.0, wait))
                    self._slot_changed.wait(left)
                self._free -= 1
            finally:
                if counted:
                    self._clean_waiting -= 1
                    self._slot_changed.notify_all()
        try:
            yield
        finally:
            with self._slot_changed:
                self._free += 1
                self._slot_changed.notify_all()
