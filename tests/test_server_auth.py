"""Basic auth (SPEC section 6): roles, failures, and the cache of verified credentials."""

from __future__ import annotations

import time

import pytest

from meteorpi_model import User
from meteorpi_server.auth import CredentialCache
from tests.server_helpers import (ADMIN, IMPORTER, USER, Client, add_users,  # noqa: F401
                                  cheap_password_hashing, client, make_server, server)


@pytest.fixture
def users_client(server, client: Client) -> Client:
    add_users(server.db)
    return client


@pytest.mark.parametrize("auth, path, status", [
    (ADMIN, "/login", 200), (USER, "/login", 200), (IMPORTER, "/login", 403),
    (ADMIN, "/users", 200), (USER, "/users", 403), (IMPORTER, "/users", 403),
    (ADMIN, "/export", 200), (USER, "/export", 403), (IMPORTER, "/export", 403),
])
def test_each_role_reaches_exactly_its_routes(users_client: Client, auth, path: str,
                                              status: int) -> None:
    response = users_client.get(path, auth=auth)
    assert response.status_code == status
    if status == 403:
        assert response.json()["message"].startswith("Role required")


def test_login_answers_the_user(users_client: Client) -> None:
    assert users_client.get("/login", auth=ADMIN).json() == {
        "user": {"user_id": "admin", "role_mask": 3, "roles": ["user", "camera_admin"]}}


@pytest.mark.parametrize("headers, message", [
    ({}, "Authorization required"),
    ({"Authorization": "Bearer abc"}, "Authorization required"),
    ({"Authorization": "Basic !!!not-base64"}, "Authorization required"),
    ({"Authorization": "Basic OnNlY3JldA=="}, "Authorization required"),  # ":secret", no user
])
def test_missing_or_malformed_credentials_are_403(users_client: Client, headers, message) -> None:
    response = users_client.get("/login", headers=headers)
    assert (response.status_code, response.json()) == (403, {"message": message})


def test_wrong_password_and_unknown_user_look_the_same(users_client: Client) -> None:
    wrong = users_client.get("/login", auth=("admin", "nope"))
    unknown = users_client.get("/login", auth=("nobody", "nope"))
    assert wrong.status_code == unknown.status_code == 403
    assert wrong.json() == unknown.json() == {"message": "Invalid user id or password"}


def test_password_change_through_the_api_takes_effect_at_once(users_client: Client) -> None:
    assert users_client.get("/login", auth=USER).status_code == 200  # now cached
    response = users_client.post("/users", json={"user_id": USER[0], "password": "new-password"}, auth=ADMIN)
    assert response.status_code == 200
    assert users_client.get("/login", auth=USER).status_code == 403
    assert users_client.get("/login", auth=(USER[0], "new-password")).status_code == 200


def test_deletion_and_role_changes_through_the_api_take_effect_at_once(users_client: Client) -> None:
    assert users_client.get("/login", auth=USER).status_code == 200
    assert users_client.put("/users/roles", auth=ADMIN, json={
        "new_roles": [{"user_id": USER[0], "roles": ["import"]}]}).status_code == 200
    assert users_client.get("/login", auth=USER).status_code == 403
    assert users_client.get("/login", auth=IMPORTER).status_code == 403
    assert users_client.delete(f"/users/{IMPORTER[0]}", auth=ADMIN).status_code == 200
    response = users_client.get("/users", auth=IMPORTER)
    assert response.json() == {"message": "Invalid user id or password"}


def test_another_process_sees_a_revoked_password_after_the_recheck(make_server) -> None:
    """Two servers on one database stand for two processes: each has its own cache."""
    first = make_server(settings={"MPI_AUTH_CACHE_SECONDS": 60, "MPI_AUTH_RECHECK_SECONDS": 1})
    second = make_server(settings={"MPI_AUTH_CACHE_SECONDS": 60, "MPI_AUTH_RECHECK_SECONDS": 1})
    add_users(first.db)
    a, b = Client(first.base_url()), Client(second.base_url())
    assert b.get("/login", auth=USER).status_code == 200  # cached in the second process
    assert a.post("/users", json={"user_id": USER[0], "password": "changed-password"},
                  auth=ADMIN).status_code == 200
    assert a.get("/login", auth=USER).status_code == 403  # at once where it changed
    assert b.get("/login", auth=USER).status_code == 200  # still cached elsewhere...
    time.sleep(1.2)
    assert b.get("/login", auth=USER).status_code == 403  # ...until its entry is re-checked


def test_without_cache_every_request_is_verified(make_server) -> None:
    first = make_server(settings={"MPI_AUTH_CACHE_SECONDS": 0})
    add_users(first.db)
    http = Client(first.base_url())
    assert http.get("/login", auth=USER).status_code == 200
    first.db.create_or_update_user(USER[0], "changed-directly", None)
    assert http.get("/login", auth=USER).status_code == 403
    assert len(first.meteor_app.credential_cache) == 0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Checker:
    """A password check that counts its calls (stands for the slow argon2 verification)."""

    def __init__(self, passwords: dict[str, str]) -> None:
        self.passwords = passwords
        self.calls = 0

    def __call__(self, user_id: str, password: str) -> User:
        self.calls += 1
        if self.passwords.get(user_id) != password:
            raise ValueError("Unknown user or wrong password")
        return User(user_id, 1)


def test_cache_verifies_once_per_ttl_and_never_caches_failures() -> None:
    clock, check = Clock(), Checker({"alice": "pw"})
    cache = CredentialCache(ttl_seconds=60, clock=clock)
    for _ in range(10):
        assert cache.verify("alice", "pw", check) == User("alice", 1)
    assert check.calls == 1
    for _ in range(3):
        with pytest.raises(ValueError):
            cache.verify("alice", "wrong", check)
    assert check.calls == 4
    clock.now += 61
    cache.verify("alice", "pw", check)
    assert check.calls == 5
    cache.clear()
    cache.verify("alice", "pw", check)
    assert check.calls == 6


def test_cache_keeps_no_plaintext_and_keys_differ_per_process() -> None:
    check = Checker({"alice": "correct horse"})
    first, second = CredentialCache(), CredentialCache()
    first.verify("alice", "correct horse", check)
    second.verify("alice", "correct horse", check)
    (key_1,), (key_2,) = first._entries.keys(), second._entries.keys()
    assert key_1[0] == "alice" and len(key_1[1]) == 32
    assert b"correct horse" not in key_1[1] and key_1[1] != key_2[1]
    assert "correct horse" not in repr(first._entries)


def test_cache_is_bounded() -> None:
    check = Checker({f"u{i}": "pw" for i in range(10)})
    cache = CredentialCache(max_entries=3)
    for i in range(10):
        cache.verify(f"u{i}", "pw", check)
    assert len(cache) == 3


def test_a_returned_user_cannot_change_the_cached_one() -> None:
    cache = CredentialCache()
    check = Checker({"alice": "pw"})
    cache.verify("alice", "pw", check).role_mask = 7
    assert cache.verify("alice", "pw", check).role_mask == 1


def test_unknown_roles_in_requires_auth_are_a_programming_error(server) -> None:
    with pytest.raises(ValueError, match="unknown role"):
        server.meteor_app.requires_auth(roles=["superuser"])
