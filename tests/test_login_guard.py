"""Logins cannot exhaust the server, and revocation reaches every process (issue 11).

Unit tests of the guard's arithmetic with a fake clock; a bounded loopback load test of
concurrent wrong passwords against a real server (memory, 429s, the real user still logging
in); and revocation seen by every worker of a real gunicorn target within the documented bound.
"""

from __future__ import annotations

import base64
import http.client
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from argon2 import PasswordHasher

from meteorpi_fdb import MeteorDatabase, _users
from meteorpi_server.auth import CredentialCache
from meteorpi_server.errors import TooManyRequests
from meteorpi_server.login_guard import LoginGuard, hash_slots
from tests.replication_helpers import start_gunicorn, stop_process, wait_for
from tests.server_helpers import cheap_password_hashing, make_server  # noqa: F401


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_hash_slots_are_sized_from_memory() -> None:
    assert hash_slots(64 << 20, 65536) == 1
    assert hash_slots(256 << 20, 65536) == 4
    assert hash_slots(1 << 20, 65536) == 1  # never zero
    assert hash_slots(64 << 20, 1024) == 64  # the test profile


def test_failures_are_throttled_per_user_and_per_address() -> None:
    clock = FakeClock()
    guard = LoginGuard(1, 1.0, failures_per_user=3, failures_per_address=5, window_seconds=60,
                       clock=clock)
    for _ in range(3):
        guard.check("victim", "10.0.0.1")
        guard.failed("victim", "10.0.0.1")
    with pytest.raises(TooManyRequests, match="for user 'victim'") as refused:
        guard.check("victim", "10.0.0.9")
    assert refused.value.retry_after == 60
    guard.check("other", "10.0.0.1")  # another user from the same address: 3 of 5 so far
    guard.failed("other", "10.0.0.1")
    guard.failed("other", "10.0.0.1")
    with pytest.raises(TooManyRequests, match="from 10.0.0.1"):
        guard.check("third", "10.0.0.1")
    guard.check("third", "10.0.0.2")
    clock.now += 45
    with pytest.raises(TooManyRequests) as later:
        guard.check("victim", "10.0.0.9")
    assert later.value.retry_after == 15
    clock.now += 15
    guard.check("victim", "10.0.0.1")  # the window is over


def test_a_success_clears_the_users_failures_not_the_addresses() -> None:
    guard = LoginGuard(1, 1.0, failures_per_user=2, failures_per_address=3, window_seconds=60,
                       clock=FakeClock())
    guard.failed("alice", "10.0.0.1")
    guard.failed("alice", "10.0.0.1")
    guard.succeeded("alice")
    guard.check("alice", "10.0.0.2")
    guard.failed("bob", "10.0.0.1")
    with pytest.raises(TooManyRequests):
        guard.check("carol", "10.0.0.1")


def test_zero_limits_disable_throttling() -> None:
    guard = LoginGuard(1, 1.0, 0, 0, 60, clock=FakeClock())
    for _ in range(100):
        guard.failed("victim", "10.0.0.1")
    guard.check("victim", "10.0.0.1")


def test_the_hash_semaphore_caps_concurrent_checks() -> None:
    guard = LoginGuard(2, 0.2, 0, 0, 60)
    inside, most = [0], [0]
    lock = threading.Lock()
    refused = []

    def login() -> None:
        try:
            with guard.hashing():
                with lock:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                time.sleep(0.05)
                with lock:
                    inside[0] -= 1
        except TooManyRequests as error:
            refused.append(error)

    threads = [threading.Thread(target=login) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == 2
    assert refused and all(error.retry_after == 1 for error in refused)


def test_a_login_without_failures_takes_the_next_slot_first() -> None:
    guard = LoginGuard(1, 5.0, 100, 100, 60)
    order: list[str] = []
    release = threading.Event()

    def login(name: str, user_id: str, address: str) -> None:
        with guard.hashing(user_id, address):
            order.append(name)
            if name == "holder":
                release.wait(5)

    holder = threading.Thread(target=login, args=("holder", "alice", "10.0.0.9"))
    holder.start()
    while not order:
        time.sleep(0.01)
    # Waiting before their address failed: clean at first, they lose their place at the failure.
    attackers = [threading.Thread(target=login, args=(f"attacker-{n}", f"guess-{n}", "10.0.0.1"))
                 for n in range(3)]
    for thread in attackers:
        thread.start()
    time.sleep(0.1)
    guard.failed("mallory", "10.0.0.1")
    real = threading.Thread(target=login, args=("real", "bob", "10.0.0.2"))
    real.start()
    time.sleep(0.1)
    release.set()
    for thread in [holder, real, *attackers]:
        thread.join()
    assert order[:2] == ["holder", "real"]
    assert sorted(order[2:]) == ["attacker-0", "attacker-1", "attacker-2"]


def test_the_cache_rechecks_the_users_row() -> None:
    clock = FakeClock()
    stamps = {"alice": "s1"}
    checks = []

    def check(user_id, password):
        checks.append(user_id)
        from meteorpi_model import User
        return User(user_id, 1)

    cache = CredentialCache(60, clock=clock, stamp=stamps.get, recheck_seconds=2)
    cache.verify("alice", "password-1", check)
    assert cache.cached("alice", "password-1") is not None
    stamps["alice"] = "s2"  # a new password / role, made by another process
    clock.now += 1
    assert cache.cached("alice", "password-1") is not None  # within the recheck bound
    clock.now += 1
    assert cache.cached("alice", "password-1") is None  # re-checked: gone
    del stamps["alice"]
    cache.verify("alice", "password-1", check)
    clock.now += 2
    assert cache.cached("alice", "password-1") is None  # deleted user
    assert checks == ["alice", "alice"]


# --- a bounded load test on loopback ---------------------------------------------------------

#: Above glibc's largest mmap threshold (32 MiB), so each hash's memory is returned when freed,
#: as with the production profile's 64 MiB (smaller blocks would stay in per-thread arenas).
HASH_MIB = 40


def _basic(user_id: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user_id}:{password}".encode()).decode()


def _login(port: int, user_id: str, password: str, source: str = "127.0.0.1") -> tuple[int, str | None]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60,
                                            source_address=(source, 0))
    try:
        connection.request("GET", "/login", headers={"Authorization": _basic(user_id, password)})
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("Retry-After")
    finally:
        connection.close()


def _rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_concurrent_wrong_passwords_leave_memory_and_the_real_user_alone(make_server, monkeypatch) -> None:
    """96 wrong passwords, 48 at once, each check a 40 MiB argon2 hash, against a server whose
    budget allows one hash at a time: memory grows by about one hash (16 threads unguarded
    would need 640 MiB), the attacker gets 429s with Retry-After, and the real user, logging in
    from another address for the first time, gets in during the attack."""
    monkeypatch.setattr(_users, "PASSWORD_HASHER",
                        PasswordHasher(time_cost=1, memory_cost=HASH_MIB * 1024, parallelism=1))
    server = make_server(settings={"MPI_AUTH_HASH_MEMORY_MB": HASH_MIB,
                                   "MPI_LOGIN_FAILURES_PER_USER": 10,
                                   "MPI_LOGIN_FAILURES_PER_ADDRESS": 30})
    assert server.meteor_app.login_guard.max_hashes == 1
    server.db.create_or_update_user("victim", "victim-password", ["user"])
    server.db.create_or_update_user("observer", "observer-password", ["user"])
    port = server.port
    assert _login(port, "warm-up", "wrong-password-0", source="127.0.0.3")[0] == 403
    idle = _rss_bytes()
    peak = [idle]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with ThreadPoolExecutor(48) as attackers:
            attack = [attackers.submit(_login, port, "victim" if n % 2 else f"nobody-{n}",
                                       f"wrong-password-{n}") for n in range(96)]
            real = _login(port, "observer", "observer-password", source="127.0.0.2")
            answers = [future.result() for future in attack]
    finally:
        stop.set()
        sampler.join()
    assert real == (200, None)
    statuses = [status for status, _ in answers]
    assert set(statuses) <= {403, 429} and statuses.count(429) >= 96 - 30 - 1
    assert all(retry and int(retry) >= 1 for status, retry in answers if status == 429)
    assert peak[0] - idle < 4 * HASH_MIB << 20, f"grew {(peak[0] - idle) >> 20} MiB"
    # Past the per-user limit even the right password is refused (before any hashing), and the
    # real user still gets in.
    tries = [_login(port, "victim", f"guess-{n}", source="127.0.0.4")[0] for n in range(11)]
    assert tries[-1] == 429 and set(tries) <= {403, 429}
    assert _login(port, "victim", "victim-password", source="127.0.0.4")[0] == 429
    assert _login(port, "observer", "observer-password", source="127.0.0.2")[0] == 200


# --- revocation in every worker of a real gunicorn target ------------------------------------

def test_revocation_reaches_every_worker_within_the_bound(db_url: str, tmp_path: Path) -> None:
    store = str(tmp_path / "files")
    db = MeteorDatabase(db_url, store, installation_id="b0b0b0b0b0b0")
    db.create_or_update_user("node1", "node1-password", ["user", "import"])
    db.create_or_update_user("node2", "node2-password", ["user", "import"])
    process, base_url = start_gunicorn(db_url, store, workers=2, log_path=tmp_path / "gunicorn.log")
    try:
        def logins(user: tuple[str, str], count: int = 12) -> list[int]:
            # A new connection each time, so both workers answer some of them.
            return [requests.get(f"{base_url}/login", auth=user, timeout=30,
                                 headers={"Connection": "close"}).status_code for _ in range(count)]

        assert logins(("node1", "node1-password")) == [200] * 12  # cached in the workers
        db.delete_user("node1")  # from another process: the workers are not told
        revoked_at = time.monotonic()
        # Refused: 403, or 429 once its failures are throttled.
        wait_for(lambda: set(logins(("node1", "node1-password"), 6)) <= {403, 429}, timeout=10,
                 interval=0.1)
        assert time.monotonic() - revoked_at < 1 + 2  # MPI_AUTH_RECHECK_SECONDS, plus slack
        assert set(logins(("node1", "node1-password"))) <= {403, 429}  # in every worker
        assert logins(("node2", "node2-password")) == [200] * 12  # the other node is untouched
    finally:
        stop_process(process)
        db.close()
