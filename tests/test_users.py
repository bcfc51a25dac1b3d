"""Users: argon2id password hashes, roles, creation and update rules, uniform login failures."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

import meteorpi_model as model
from meteorpi_fdb import _users
from meteorpi_fdb.schema import t_user

CHEAP = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    """Keep the suite fast: the documented low-cost profile."""
    monkeypatch.setenv(_users.PROFILE_VARIABLE, "test")


class CountingHasher(PasswordHasher):
    """A real argon2 hasher that counts how often it verifies."""

    def __init__(self, **parameters) -> None:
        super().__init__(**{**CHEAP, **parameters})
        self.verifications = 0

    def verify(self, hash, password) -> bool:  # noqa: A002 - argon2's own parameter name
        self.verifications += 1
        return super().verify(hash, password)


def stored_hash(db, user_id: str) -> str:
    with db.connection() as connection:
        return connection.execute(select(t_user.c.pwhash).where(t_user.c.userid == user_id)).scalar_one()


def user_count(db) -> int:
    return len(db.get_users())


def test_create_then_log_in(db):
    assert db.create_or_update_user("alice", "correct horse", ["user", "camera_admin"]) == "create"

    user = db.get_user("alice", "correct horse")

    assert user == model.User("alice", model.User.role_mask_from_roles(["user", "camera_admin"]))
    assert user.get_roles() == ["user", "camera_admin"]


def test_roles_default_to_user_on_creation(db):
    db.create_or_update_user("bob", "password-1", None)

    assert db.get_user("bob", "password-1").get_roles() == ["user"]


def test_empty_role_list_is_kept(db):
    db.create_or_update_user("nobody", "password-1", [])

    assert db.get_user("nobody", "password-1").get_roles() == []


def test_password_is_stored_only_as_an_argon2id_hash(db):
    db.create_or_update_user("alice", "correct horse", None)
    db.create_or_update_user("bob", "correct horse", None)

    alice_hash, bob_hash = stored_hash(db, "alice"), stored_hash(db, "bob")
    assert alice_hash.startswith("$argon2id$")
    assert "correct horse" not in alice_hash
    assert alice_hash != bob_hash  # salted


def test_unknown_user_and_wrong_password_fail_identically(db):
    db.create_or_update_user("alice", "correct horse", None)

    with pytest.raises(ValueError) as wrong_password:
        db.get_user("alice", "battery staple")
    with pytest.raises(ValueError) as unknown_user:
        db.get_user("mallory", "correct horse")

    assert str(wrong_password.value) == str(unknown_user.value) == _users.LOGIN_FAILED


def test_unknown_user_costs_a_hash_verification(db, monkeypatch):
    hasher = CountingHasher()
    monkeypatch.setattr(_users, "PASSWORD_HASHER", hasher)
    db.create_or_update_user("alice", "correct horse", None)

    for user_id, password in [("alice", "wrong"), ("mallory", "wrong"), ("x" * 300, "wrong"), ("bad\x00id", "wrong")]:
        before = hasher.verifications
        with pytest.raises(ValueError, match=_users.LOGIN_FAILED):
            db.get_user(user_id, password)
        assert hasher.verifications == before + 1, user_id


@pytest.mark.parametrize("password", ["", "p" * (_users.MAX_PASSWORD_LENGTH + 1)])
def test_implausible_password_fails_like_a_wrong_one(db, password):
    db.create_or_update_user("alice", "correct horse", None)

    with pytest.raises(ValueError, match=_users.LOGIN_FAILED):
        db.get_user("alice", password)


@pytest.mark.parametrize(
    "user_id, password, field",
    [(None, "password-1", "user_id"), (7, "password-1", "user_id"), ("alice", None, "password"), ("alice", b"password-1", "password")],
)
def test_get_user_rejects_wrong_types(db, user_id, password, field):
    with pytest.raises(ValueError, match=field):
        db.get_user(user_id, password)


def test_corrupt_stored_hash_refuses_login(db):
    db.create_or_update_user("alice", "correct horse", None)
    with db.transaction() as connection:
        connection.execute(update(t_user).values(pwhash="plaintext?"))

    with pytest.raises(ValueError, match=_users.LOGIN_FAILED):
        db.get_user("alice", "correct horse")


def test_create_needs_a_password(db):
    with pytest.raises(ValueError, match="password"):
        db.create_or_update_user("alice", None, ["user"])
    with pytest.raises(ValueError, match="password"):
        db.create_or_update_user("alice", None, None)
    assert db.get_users() == []


def test_change_password(db):
    db.create_or_update_user("alice", "old-password", ["user"])

    assert db.create_or_update_user("alice", "new-password", None) == "update"

    assert db.get_user("alice", "new-password").get_roles() == ["user"]
    with pytest.raises(ValueError, match=_users.LOGIN_FAILED):
        db.get_user("alice", "old-password")


def test_change_roles_keeps_password(db):
    db.create_or_update_user("alice", "password-1", ["user"])

    assert db.create_or_update_user("alice", None, ["user", "import"]) == "update"

    assert db.get_user("alice", "password-1").get_roles() == ["user", "import"]


@pytest.mark.parametrize("roles", [None, ["user"], ["user", "user"]])
def test_no_change_is_none(db, roles):
    db.create_or_update_user("alice", "password-1", ["user"])
    before = stored_hash(db, "alice")

    assert db.create_or_update_user("alice", None, roles) == "none"

    assert stored_hash(db, "alice") == before


@pytest.mark.parametrize(
    "roles, message",
    [(["user", "superuser"], "superuser"), ("user", "roles"), ([None], "role"), ({"user": True}, "roles")],
)
def test_bad_roles_are_rejected_and_nothing_written(db, roles, message):
    db.create_or_update_user("alice", "password-1", ["user"])

    with pytest.raises(ValueError, match=message):
        db.create_or_update_user("alice", "new-password", roles)
    with pytest.raises(ValueError, match=message):
        db.create_or_update_user("bob", "password-1", roles)

    assert db.get_user("alice", "password-1").get_roles() == ["user"]
    assert [u.user_id for u in db.get_users()] == ["alice"]


@pytest.mark.parametrize("user_id", ["", "u" * 256, "two\nlines", "tab\there", "nul\x00", None, 42])
def test_bad_user_ids_are_rejected(db, user_id):
    with pytest.raises(ValueError, match="user_id"):
        db.create_or_update_user(user_id, "password-1", None)
    with pytest.raises(ValueError, match="user_id"):
        db.delete_user(user_id)
    assert db.get_users() == []


def test_longest_user_id_is_accepted(db):
    user_id = "ü" * 255
    assert db.create_or_update_user(user_id, "password-1", None) == "create"
    assert db.get_user(user_id, "password-1").user_id == user_id


@pytest.mark.parametrize("password", ["", 12, b"bytes", "p" * (_users.MAX_PASSWORD_LENGTH + 1)])
def test_bad_passwords_are_rejected(db, password):
    db.create_or_update_user("alice", "password-1", None)

    with pytest.raises(ValueError, match="password"):
        db.create_or_update_user("alice", password, None)
    with pytest.raises(ValueError, match="password"):
        db.create_or_update_user("bob", password, None)

    assert db.get_user("alice", "password-1").user_id == "alice"
    assert [u.user_id for u in db.get_users()] == ["alice"]


def test_get_users_is_sorted(db):
    for user_id in ["zoe", "Adam", "mike", "bob"]:
        db.create_or_update_user(user_id, "password-1", ["user"])
    db.create_or_update_user("mike", None, ["camera_admin"])

    users = db.get_users()

    assert [u.user_id for u in users] == sorted(["zoe", "Adam", "mike", "bob"])
    assert next(u for u in users if u.user_id == "mike").get_roles() == ["camera_admin"]


def test_delete_user(db):
    db.create_or_update_user("alice", "password-1", None)
    db.create_or_update_user("bob", "password-1", None)

    assert db.delete_user("alice") is True
    assert db.delete_user("alice") is False

    assert [u.user_id for u in db.get_users()] == ["bob"]
    with pytest.raises(ValueError, match=_users.LOGIN_FAILED):
        db.get_user("alice", "password-1")
    assert db.create_or_update_user("alice", "again-password", None) == "create"


def test_get_user_by_id_follows_changes(db):
    assert db.get_user_by_id("alice") is None
    db.create_or_update_user("alice", "password-1", ["user"])

    assert db.get_user_by_id("alice") == model.User("alice", 1)
    assert db.get_user_by_id("alice") == model.User("alice", 1)  # served from the cache

    db.create_or_update_user("alice", None, ["import"])
    assert db.get_user_by_id("alice").get_roles() == ["import"]
    db.delete_user("alice")
    assert db.get_user_by_id("alice") is None


@pytest.mark.parametrize("user_id", ["", "u" * 256, "nul\x00", None, 3])
def test_get_user_by_id_of_impossible_ids_is_none(db, user_id):
    assert db.get_user_by_id(user_id) is None


def test_outdated_hash_is_upgraded_on_login(db, monkeypatch):
    db.create_or_update_user("alice", "password-1", None)
    old = stored_hash(db, "alice")
    monkeypatch.setattr(_users, "PASSWORD_HASHER", PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1))

    with pytest.raises(ValueError, match=_users.LOGIN_FAILED):
        db.get_user("alice", "wrong")
    assert stored_hash(db, "alice") == old

    db.get_user("alice", "password-1")

    new = stored_hash(db, "alice")
    assert new != old and new.startswith("$argon2id$v=19$m=2048,t=2,p=1$")
    assert db.get_user("alice", "password-1").user_id == "alice"
    assert stored_hash(db, "alice") == new


def test_profiles(monkeypatch):
    monkeypatch.setenv(_users.PROFILE_VARIABLE, "test")
    assert _users.password_hasher().memory_cost == CHEAP["memory_cost"]
    monkeypatch.setenv(_users.PROFILE_VARIABLE, "default")
    assert _users.password_hasher().memory_cost == PasswordHasher().memory_cost
    monkeypatch.delenv(_users.PROFILE_VARIABLE)
    assert _users.password_hasher().memory_cost == PasswordHasher().memory_cost
    monkeypatch.setenv(_users.PROFILE_VARIABLE, "fast-please")
    with pytest.raises(ValueError, match=_users.PROFILE_VARIABLE):
        _users.password_hasher()


def test_users_are_shared_between_instances(make_db, db):
    other = make_db()
    db.create_or_update_user("alice", "password-1", ["user"])

    assert other.get_user("alice", "password-1").user_id == "alice"
    assert other.create_or_update_user("alice", None, ["user", "import"]) == "update"
    assert db.get_user("alice", "password-1").get_roles() == ["user", "import"]


# --- issue 10: ids that cannot log in, short passwords, the last administrator ---------------


@pytest.mark.parametrize("user_id", ["node:7", ":", "a:b:c"])
def test_user_ids_with_a_colon_are_refused(db, user_id):
    with pytest.raises(ValueError, match="':'"):
        db.create_or_update_user(user_id, "password-1", ["import"])
    assert db.get_users() == []


@pytest.mark.parametrize("password", ["p", "1234567"])
def test_short_passwords_are_refused(db, password):
    db.create_or_update_user("alice", "password-1", None)
    for user_id in ("alice", "bob"):
        with pytest.raises(ValueError, match=f"at least {_users.MIN_PASSWORD_LENGTH}"):
            db.create_or_update_user(user_id, password, None)
    assert [u.user_id for u in db.get_users()] == ["alice"]
    assert db.get_user("alice", "password-1").user_id == "alice"


def test_the_shortest_password_is_accepted(db):
    password = "p" * _users.MIN_PASSWORD_LENGTH
    assert db.create_or_update_user("alice", password, None) == "create"
    assert db.get_user("alice", password).user_id == "alice"


def test_the_last_admin_cannot_be_deleted_or_demoted(db):
    db.create_or_update_user("root", "password-1", ["user", "camera_admin"])
    db.create_or_update_user("viewer", "password-1", ["user"])

    with pytest.raises(ValueError, match="last user with the camera_admin role"):
        db.delete_user("root")
    with pytest.raises(ValueError, match="last user with the camera_admin role"):
        db.create_or_update_user("root", None, ["user"])
    assert db.get_user("root", "password-1").get_roles() == ["user", "camera_admin"]

    db.create_or_update_user("viewer", None, ["camera_admin"])
    assert db.create_or_update_user("root", None, ["user"]) == "update"
    assert db.delete_user("root") is True
    with pytest.raises(ValueError, match="last user"):
        db.delete_user("viewer")
    assert [u.user_id for u in db.get_users()] == ["viewer"]
