"""Users, their roles, and their passwords (SPEC section 6).

Passwords are stored only as argon2id hashes (argon2-cffi). The cost parameters come from
``PASSWORD_HASHER`` if it is set, else from the ``MPI_ARGON2_PROFILE`` environment variable:
``default`` (argon2-cffi's RFC 9106 low-memory profile, ~64 MiB per hash) or ``test`` (minimal
cost, for test suites only — never set it in production). A hash made with other parameters
than the current ones is replaced on the user's next successful login, so raising the cost (or
leaving the test profile) upgrades stored hashes over time.
"""

from __future__ import annotations

import hashlib
import logging
import os
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

import meteorpi_model as model
from meteorpi_fdb.firebird import retry_update_conflicts
from meteorpi_fdb.schema import NAME_LENGTH, t_user

if TYPE_CHECKING:
    from meteorpi_fdb.database import MeteorDatabase

logger = logging.getLogger("meteorpi.db")

PROFILE_VARIABLE = "MPI_ARGON2_PROFILE"
PROFILES: dict[str, dict[str, int]] = {
    "default": {},
    "test": {"time_cost": 1, "memory_cost": 1024, "parallelism": 1},
}
#: When set, used instead of the profile named by ``MPI_ARGON2_PROFILE``.
PASSWORD_HASHER: PasswordHasher | None = None
MAX_PASSWORD_LENGTH = 1024
#: Shortest password accepted for a new or changed password (existing ones still log in).
MIN_PASSWORD_LENGTH = 8
ADMIN_ROLE = "camera_admin"
LOGIN_FAILED = "Unknown user or wrong password"
DEFAULT_ROLES = ["user"]

_hashers: dict[str, PasswordHasher] = {}
_dummy_hashes: dict[tuple, str] = {}


def password_hasher() -> PasswordHasher:
    """The hasher for new hashes: ``PASSWORD_HASHER``, else the ``MPI_ARGON2_PROFILE`` profile."""
    if PASSWORD_HASHER is not None:
        return PASSWORD_HASHER
    profile = os.environ.get(PROFILE_VARIABLE) or "default"
    if profile not in PROFILES:
        raise ValueError(f"{PROFILE_VARIABLE} must be one of {', '.join(PROFILES)}, not {profile!r}")
    if profile not in _hashers:
        _hashers[profile] = PasswordHasher(**PROFILES[profile])
    return _hashers[profile]


def _dummy_hash(hasher: PasswordHasher) -> str:
    """A hash with ``hasher``'s parameters, verified for unknown users so that a failed login
    takes as long whether or not the user exists."""
    key = (hasher.time_cost, hasher.memory_cost, hasher.parallelism, hasher.hash_len, hasher.salt_len, hasher.type)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = hasher.hash(os.urandom(16).hex())
    return _dummy_hashes[key]


def _verifies(hasher: PasswordHasher, stored_hash: str, password: str) -> bool:
    try:
        return hasher.verify(stored_hash, password)
    except VerificationError:
        return False
    except InvalidHashError:
        logger.warning("a stored password hash is not a valid argon2 hash; login refused")
        return False


def _is_plausible_user_id(user_id: Any) -> bool:
    """Whether ``user_id`` could be stored at all (so it is safe to send to the database)."""
    return (
        isinstance(user_id, str)
        and 0 < len(user_id) <= NAME_LENGTH
        and not any(ord(character) < 32 or ord(character) == 127 for character in user_id)
    )


def _check_user_id(user_id: Any) -> str:
    return model.User(user_id, 0).user_id


def _check_new_user_id(user_id: Any) -> str:
    """A user id that can log in: Basic auth splits ``id:password`` at the first colon."""
    user_id = _check_user_id(user_id)
    if ":" in user_id:
        raise ValueError("user_id must not contain ':' (such a user could never log in with "
                         "HTTP Basic auth)")
    return user_id


def _check_password(password: Any) -> str:
    if not isinstance(password, str):
        raise ValueError(f"password must be a string, not {type(password).__name__}")
    if not password:
        raise ValueError("password must not be empty")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password is too short (at least {MIN_PASSWORD_LENGTH} characters)")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"password is too long (at most {MAX_PASSWORD_LENGTH} characters)")
    return password


class UsersMixin:
    """User and role methods of :class:`MeteorDatabase`."""

    def get_user(self: "MeteorDatabase", user_id: str, password: str) -> model.User:
        """The user with these credentials.

        :raises ValueError: with the same message for an unknown user and a wrong password, after
            the same amount of hashing work, so that user ids cannot be probed
        """
        if not isinstance(user_id, str):
            raise ValueError(f"user_id must be a string, not {type(user_id).__name__}")
        if not isinstance(password, str):
            raise ValueError(f"password must be a string, not {type(password).__name__}")
        hasher = password_hasher()
        if not password or len(password) > MAX_PASSWORD_LENGTH:
            raise ValueError(LOGIN_FAILED)
        row = None
        if _is_plausible_user_id(user_id):
            with self.connection() as connection:
                row = connection.execute(
                    select(t_user.c.userid, t_user.c.pwhash, t_user.c.rolemask).where(t_user.c.userid == user_id)
                ).first()
        if row is None:
            _verifies(hasher, _dummy_hash(hasher), password)
            raise ValueError(LOGIN_FAILED)
        if not _verifies(hasher, row.pwhash, password):
            raise ValueError(LOGIN_FAILED)
        if hasher.check_needs_rehash(row.pwhash):
            self._replace_hash(user_id, row.pwhash, hasher.hash(password))
        return model.User(row.userid, row.rolemask)

    def get_user_by_id(self: "MeteorDatabase", user_id: str) -> model.User | None:
        """The user with this id (no password check), or None."""
        if not _is_plausible_user_id(user_id):
            return None

        def load() -> model.User | None:
            with self.connection() as connection:
                row = connection.execute(
                    select(t_user.c.userid, t_user.c.rolemask).where(t_user.c.userid == user_id)
                ).first()
            return None if row is None else model.User(row.userid, row.rolemask)

        return self.generators.caches["user"].get(user_id, load)

    def get_users(self: "MeteorDatabase") -> list[model.User]:
        """Every user, sorted by id."""
        with self.connection() as connection:
            rows = connection.execute(select(t_user.c.userid, t_user.c.rolemask).order_by(t_user.c.userid))
            return [model.User(row.userid, row.rolemask) for row in rows]

    def create_or_update_user(
        self: "MeteorDatabase", user_id: str, password: str | None, roles: list[str] | None
    ) -> str:
        """Create a user or change an existing one's password and/or roles.

        ``None`` leaves a value unchanged. Creating needs a password; its roles default to
        ``["user"]``. Unknown role names are a ValueError.

        A new password needs at least ``MIN_PASSWORD_LENGTH`` characters; a new user id may not
        contain ``:``; taking ``camera_admin`` from the last user holding it is refused
        (ValueError), so that the node can always be administered.

        :returns: the action taken: ``"create"``, ``"update"`` or ``"none"`` (nothing changed)
        """
        user_id = _check_user_id(user_id)
        if self.get_user_by_id(user_id) is None:
            user_id = _check_new_user_id(user_id)
        if password is not None:
            _check_password(password)
        role_mask = None if roles is None else model.User.role_mask_from_roles(roles)
        new_hash = None if password is None else password_hasher().hash(password)
        try:
            try:
                return self._write_user(user_id, new_hash, role_mask)
            except IntegrityError:
                # Another process created this user between our read and our insert.
                return self._write_user(user_id, new_hash, role_mask)
        finally:
            self.generators.cache_clear("user")

    def delete_user(self: "MeteorDatabase", user_id: str) -> bool:
        """Remove a user (and its camera grants); returns whether there was one.

        :raises ValueError: if it is the last user with the ``camera_admin`` role
        """
        user_id = _check_user_id(user_id)

        def remove() -> int:
            with self.transaction() as connection:
                row = connection.execute(
                    select(t_user.c.rolemask).where(t_user.c.userid == user_id).with_for_update()
                ).first()
                if row is None:
                    return 0
                _keep_an_admin(connection, user_id, row.rolemask, 0, "delete")
                return connection.execute(delete(t_user).where(t_user.c.userid == user_id)).rowcount

        try:
            deleted = retry_update_conflicts(remove)
        finally:
            self.generators.cache_clear("user")
        return deleted > 0

    def _write_user(self: "MeteorDatabase", user_id: str, new_hash: str | None, role_mask: int | None) -> str:
        with self.transaction() as connection:
            row = connection.execute(
                select(t_user.c.rolemask).where(t_user.c.userid == user_id).with_for_update()
            ).first()
            if row is None:
                if new_hash is None:
                    raise ValueError(f"a password is needed to create user {user_id!r}")
                mask = model.User.role_mask_from_roles(DEFAULT_ROLES) if role_mask is None else role_mask
                connection.execute(insert(t_user).values(userid=user_id, pwhash=new_hash, rolemask=mask))
                return "create"
            changes: dict[str, Any] = {}
            if new_hash is not None:
                changes["pwhash"] = new_hash
            if role_mask is not None and role_mask != row.rolemask:
                _keep_an_admin(connection, user_id, row.rolemask, role_mask, "demote")
                changes["rolemask"] = role_mask
            if not changes:
                return "none"
            connection.execute(update(t_user).where(t_user.c.userid == user_id).values(**changes))
            return "update"

    def credential_stamp(self: "MeteorDatabase", user_id: str) -> str | None:
        """A fingerprint of the user's stored password hash and roles, None if there is no such
        user: it changes whenever either does, so a cache of verified credentials can tell
        that a user was deleted, given a new password or lost a role (in any process)."""
        if not _is_plausible_user_id(user_id):
            return None
        with self.connection() as connection:
            row = connection.execute(
                select(t_user.c.pwhash, t_user.c.rolemask).where(t_user.c.userid == user_id)).first()
        if row is None:
            return None
        return hashlib.sha256(f"{row.rolemask}:{row.pwhash}".encode()).hexdigest()

    def _replace_hash(self: "MeteorDatabase", user_id: str, old_hash: str, new_hash: str) -> None:
        """Store a hash made with the current parameters, unless the hash changed meanwhile (a
        new password, or another process upgrading it at the same moment)."""

        def store() -> int:
            with self.transaction() as connection:
                return connection.execute(
                    update(t_user)
                    .where(t_user.c.userid == user_id, t_user.c.pwhash == old_hash)
                    .values(pwhash=new_hash)
                ).rowcount

        if retry_update_conflicts(store):
            logger.info("password hash of user %r upgraded to the current argon2 parameters", user_id)


def _keep_an_admin(connection: Any, user_id: str, old_mask: int, new_mask: int, action: str) -> None:
    """Refuse (ValueError) a change that takes ``camera_admin`` from the last user holding it.

    The other users' rows are locked for the rest of the transaction, so two administrators
    demoting each other at once cannot both succeed.
    """
    admin_bit = model.User.role_mask_from_roles([ADMIN_ROLE])
    if not old_mask & admin_bit or new_mask & admin_bit:
        return
    masks = connection.execute(
        select(t_user.c.rolemask).where(t_user.c.userid != user_id).with_for_update()).scalars()
    if not any(mask & admin_bit for mask in masks):
        verb = "delete" if action == "delete" else "take camera_admin from"
        raise ValueError(f"cannot {verb} user {user_id!r}: it is the last user with the "
                         f"{ADMIN_ROLE} role (make another user camera_admin first)")
