"""Which cameras each user may write for (issue 11: cameras belong to users).

An import user is bound to one or more camera ids by an administrator. The import API accepts
a camera status block, file or event only for a camera the importing user holds
(:meth:`GrantsMixin.user_holds_camera`); every import protocol asks this one question, so the
rule lives in one place. A grant may name a camera the server has never seen: that is how a new
camera joins the network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete, insert, select, union
from sqlalchemy.exc import IntegrityError

import meteorpi_model as model
from meteorpi_model._check import check_camera_id
from meteorpi_fdb.firebird import retry_update_conflicts
from meteorpi_fdb.schema import (t_event, t_eventimport, t_file, t_fileimport, t_user,
                                 t_usercamera)

if TYPE_CHECKING:
    from meteorpi_fdb.database import MeteorDatabase


def _user_id(user_id: str) -> str:
    return model.User(user_id, 0).user_id


class GrantsMixin:
    """Camera grants of :class:`MeteorDatabase`."""

    def _internal_user_id(self: "MeteorDatabase", connection, user_id: str) -> int:
        internal = connection.execute(select(t_user.c.internalid).where(t_user.c.userid == user_id)).scalar()
        if internal is None:
            raise ValueError(f"no user with user_id {user_id[:64]!r}")
        return internal

    def cameras_for_user(self: "MeteorDatabase", user_id: str) -> list[str]:
        """The camera ids ``user_id`` holds, sorted; empty for an unknown user."""
        user_id = _user_id(user_id)
        with self.connection() as connection:
            rows = connection.execute(
                select(t_usercamera.c.cameraid)
                .join(t_user, t_user.c.internalid == t_usercamera.c.userid)
                .where(t_user.c.userid == user_id)
                .order_by(t_usercamera.c.cameraid))
            return list(rows.scalars())

    def user_holds_camera(self: "MeteorDatabase", user_id: str, camera_id: str) -> bool:
        """Whether ``user_id`` may write data for ``camera_id`` (the import API's one rule)."""
        try:
            user_id, camera_id = _user_id(user_id), check_camera_id(camera_id)
        except ValueError:
            return False  # no such user or camera could exist (and Firebird rejects over-long binds)
        with self.connection() as connection:
            found = connection.execute(
                select(t_usercamera.c.cameraid)
                .join(t_user, t_user.c.internalid == t_usercamera.c.userid)
                .where(t_user.c.userid == user_id, t_usercamera.c.cameraid == camera_id)
            ).first()
        return found is not None

    def grant_camera(self: "MeteorDatabase", user_id: str, camera_id: str) -> bool:
        """Let ``user_id`` write for ``camera_id``; returns False if it already could.

        :raises ValueError: unknown user or malformed camera id
        """
        user_id, camera_id = _user_id(user_id), check_camera_id(camera_id)

        def grant() -> bool:
            with self.transaction() as connection:
                internal = self._internal_user_id(connection, user_id)
                exists = connection.execute(select(t_usercamera.c.userid).where(
                    t_usercamera.c.userid == internal, t_usercamera.c.cameraid == camera_id)).first()
                if exists is not None:
                    return False
                connection.execute(insert(t_usercamera).values(userid=internal, cameraid=camera_id))
                return True

        try:
            return retry_update_conflicts(grant)
        except IntegrityError:
            return False  # granted by someone else at the same moment

    def revoke_camera(self: "MeteorDatabase", user_id: str, camera_id: str) -> bool:
        """Stop ``user_id`` writing for ``camera_id`` (its next request is refused); returns
        whether it held the camera. Other cameras and other users are untouched."""
        user_id, camera_id = _user_id(user_id), check_camera_id(camera_id)

        def revoke() -> int:
            with self.transaction() as connection:
                internal = self._internal_user_id(connection, user_id)
                return connection.execute(delete(t_usercamera).where(
                    t_usercamera.c.userid == internal, t_usercamera.c.cameraid == camera_id)).rowcount

        return retry_update_conflicts(revoke) > 0

    def cameras_sent_by_users(self: "MeteorDatabase") -> list[tuple[str, str]]:
        """``(user_id, camera_id)`` for every camera each existing user has already sent events
        or files for (from the import logs), sorted; what :meth:`bind_users_to_sent_cameras`
        grants."""
        sent = union(
            select(t_eventimport.c.importuser.label("u"), t_event.c.cameraid.label("c"))
            .join(t_event, t_event.c.internalid == t_eventimport.c.eventid),
            select(t_fileimport.c.importuser.label("u"), t_file.c.cameraid.label("c"))
            .join(t_file, t_file.c.internalid == t_fileimport.c.fileid),
        ).subquery()
        with self.connection() as connection:
            rows = connection.execute(
                select(sent.c.u, sent.c.c).join(t_user, t_user.c.userid == sent.c.u)
                .order_by(sent.c.u, sent.c.c))
            return [(row[0], row[1]) for row in rows]

    def bind_users_to_sent_cameras(self: "MeteorDatabase") -> list[tuple[str, str]]:
        """Grant every user the cameras it has already sent data for (moving a network that
        predates camera grants over); returns the grants that are new."""
        return [(user_id, camera_id) for user_id, camera_id in self.cameras_sent_by_users()
                if self.grant_camera(user_id, camera_id)]
