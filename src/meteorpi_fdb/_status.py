"""Camera status blocks and the per-camera high water mark (SPEC section 5).

A status block is in force from its ``valid_from`` until the next block of the same camera;
``valid_to`` is never stored, the generators derive it. When two blocks of a camera share a
``valid_from``, the later-inserted one (higher internal id) is the one in force.

The high water mark says "everything up to here is final". Moving it back deletes, for that
camera, every file (row and content), event and status block later than the new mark: the row
deletions and the new mark share one transaction, and file content is removed only after that
transaction has committed, so a failure at any point never leaves a row without its content.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import Connection, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

import meteorpi_model as model
from meteorpi_fdb.firebird import retry_update_conflicts
from meteorpi_fdb.generators import STATUS_COLUMNS, first_from_generator
from meteorpi_fdb.schema import t_camerastatus, t_event, t_file, t_highwatermark, t_visibleregions
from meteorpi_fdb.sql_builder import SQLBuilder

if TYPE_CHECKING:
    from meteorpi_fdb.database import MeteorDatabase

logger = logging.getLogger("meteorpi.db")

_Write = Callable[[Connection], list[uuid.UUID]]
"""A write inside a transaction, returning the ids of files whose content goes after commit."""
_STATUS_ORDER = "s.validFrom DESC, s.internalID DESC"


def check_camera_id(camera_id: Any, default: str) -> str:
    """``camera_id``, or ``default`` when it is None; ValueError unless a short one-line string."""
    if camera_id is None:
        return default
    if not isinstance(camera_id, str) or not camera_id:
        raise ValueError("camera_id must be a non-empty string")
    if len(camera_id) > model.MAX_CAMERA_ID_LENGTH:
        raise ValueError(f"camera_id is too long (at most {model.MAX_CAMERA_ID_LENGTH} characters)")
    if any(ord(character) < 32 or ord(character) == 127 for character in camera_id):
        raise ValueError("camera_id must not contain control characters")
    return camera_id


def checked_imported_status(status: model.CameraStatus) -> tuple[model.CameraStatus, int]:
    """A status block received from another node, checked (it must carry its id and
    ``valid_from``), with its ``valid_from`` in epoch milliseconds."""
    if not isinstance(status, model.CameraStatus):
        raise ValueError(f"status must be a CameraStatus, not {type(status).__name__}")
    if status.status_id is None:
        raise ValueError("status_id is required to import a camera status")
    if status.valid_from is None:
        raise ValueError("valid_from is required to import a camera status")
    checked = checked_status(status, status.camera_id, model.parse_uuid(status.status_id, "status_id"))
    return checked, model.utc_datetime_to_milliseconds(model.to_utc(status.valid_from, "valid_from"))


def checked_status(status: Any, camera_id: str, status_id: uuid.UUID | None = None) -> model.CameraStatus:
    """A validated copy of ``status`` for ``camera_id``.

    The model checks its fields on construction only, and callers may have changed them since
    (the usual way to update a status is to fetch, modify and store it), so every field is
    checked again by building fresh objects.
    """
    if not isinstance(status, model.CameraStatus):
        raise ValueError(f"status must be a CameraStatus, not {type(status).__name__}")
    location, orientation = status.location, status.orientation
    if isinstance(location, model.Location):
        location = model.Location(location.latitude, location.longitude, location.gps, location.error)
    if isinstance(orientation, model.Orientation):
        orientation = model.Orientation(
            orientation.altitude,
            orientation.azimuth,
            orientation.error,
            orientation.rotation,
            orientation.width_of_field,
        )
    return model.CameraStatus(
        lens=status.lens,
        sensor=status.sensor,
        inst_url=status.inst_url,
        inst_name=status.inst_name,
        orientation=orientation,
        location=location,
        camera_id=camera_id,
        status_id=status_id,
        software_version=status.software_version,
        regions=status.regions,
    )


class StatusMixin:
    """Camera status and high water mark methods of :class:`MeteorDatabase`."""

    def update_camera_status(
        self: "MeteorDatabase",
        ns: model.CameraStatus,
        time: datetime | None = None,
        camera_id: str | None = None,
    ) -> model.CameraStatus:
        """Store a new status block for ``camera_id`` (default: this installation), valid from
        ``time`` (default: now), after moving the camera's high water mark to ``time``.

        Any ``status_id`` (and ``camera_id``, ``valid_from``, ``valid_to``) on ``ns`` is ignored:
        the block gets a new id. If ``time`` is earlier than the mark, everything of this
        camera later than ``time`` is deleted first, in the same transaction.

        :returns: the stored status, as ``get_camera_status_by_id`` would return it
        """
        camera_id = check_camera_id(camera_id, self.installation_id)
        time_ms = model.utc_datetime_to_milliseconds(model.now() if time is None else model.to_utc(time, "time"))
        status = checked_status(ns, camera_id, uuid.uuid4())

        def write(connection: Connection) -> list[uuid.UUID]:
            doomed = self._move_high_water_mark(connection, camera_id, time_ms, True, True)
            self._insert_status(connection, status, time_ms)
            return doomed

        self._write_and_remove_content(write)
        return self.get_camera_status_by_id(status.status_id)

    def import_camera_status(self: "MeteorDatabase", status: model.CameraStatus) -> bool:
        """Store a status block received from another node, keeping its id, camera and
        ``valid_from``. Does nothing if a block with that id exists; never touches the mark.

        :returns: True if the block was stored, False if it was already present
        """
        checked, valid_from_ms = checked_imported_status(status)
        if self.has_status_id(checked.status_id):
            return False
        try:
            with self.transaction() as connection:
                self._insert_status(connection, checked, valid_from_ms)
        except IntegrityError:
            if self.has_status_id(checked.status_id):
                return False  # another process imported it at the same moment
            raise
        finally:
            self.generators.cache_clear("status")
        return True

    def get_camera_status(
        self: "MeteorDatabase", time: datetime | None = None, camera_id: str | None = None
    ) -> model.CameraStatus | None:
        """The status of ``camera_id`` (default: this installation) in force at ``time``
        (default: now): the one with the latest ``valid_from <= time``; None if there is none."""
        camera_id = check_camera_id(camera_id, self.installation_id)
        time_ms = model.utc_datetime_to_milliseconds(model.now() if time is None else model.to_utc(time, "time"))
        builder = SQLBuilder("t_cameraStatus s", dialect=self.backend)
        builder.add_sql(camera_id, "s.cameraID = ?")
        builder.add_sql(time_ms, "s.validFrom <= ?")
        sql = builder.get_select_sql(STATUS_COLUMNS, order=_STATUS_ORDER, limit=1)
        return first_from_generator(self.generators.camera_status_generator(sql, builder.sql_args))

    def get_camera_status_by_id(self: "MeteorDatabase", status_id: uuid.UUID | str) -> model.CameraStatus | None:
        """The status block with this UUID (or its hex form), or None."""
        status_id = model.parse_uuid(status_id, "status_id")

        def load() -> model.CameraStatus | None:
            sql = f"SELECT {STATUS_COLUMNS} FROM t_cameraStatus s WHERE s.statusID = ?"
            return first_from_generator(self.generators.camera_status_generator(sql, [status_id.hex]))

        return self.generators.caches["status"].get(status_id, load)

    def has_status_id(self: "MeteorDatabase", status_id: uuid.UUID | str) -> bool:
        """Whether a status block with this UUID (or its hex form) exists."""
        status_id = model.parse_uuid(status_id, "status_id")
        with self.connection() as connection:
            found = connection.execute(
                select(t_camerastatus.c.internalid).where(t_camerastatus.c.statusid == status_id.hex)
            ).first()
        return found is not None

    def get_cameras(self: "MeteorDatabase") -> list[str]:
        """The ids of every camera that has a status block, sorted."""
        with self.connection() as connection:
            rows = connection.execute(
                select(t_camerastatus.c.cameraid).distinct().order_by(t_camerastatus.c.cameraid)
            )
            return [row.cameraid for row in rows]

    def get_camera_status_history(self: "MeteorDatabase", camera_id: str | None = None) -> list[model.CameraStatus]:
        """Every status block of ``camera_id`` (default: this installation), oldest first."""
        camera_id = check_camera_id(camera_id, self.installation_id)
        sql = f"SELECT {STATUS_COLUMNS} FROM t_cameraStatus s WHERE s.cameraID = ? ORDER BY s.validFrom, s.internalID"
        return list(self.generators.camera_status_generator(sql, [camera_id]))

    def get_high_water_mark(self: "MeteorDatabase", camera_id: str | None = None) -> datetime | None:
        """The high water mark of ``camera_id`` (default: this installation), or None."""
        camera_id = check_camera_id(camera_id, self.installation_id)
        with self.connection() as connection:
            mark = connection.execute(
                select(t_highwatermark.c.mark).where(t_highwatermark.c.cameraid == camera_id)
            ).scalar()
        return None if mark is None else model.milliseconds_to_utc_datetime(mark)

    def set_high_water_mark(
        self: "MeteorDatabase",
        time: datetime,
        camera_id: str | None = None,
        allow_rollback: bool = True,
        allow_advance: bool = True,
    ) -> None:
        """Move the high water mark of ``camera_id`` (default: this installation) to ``time``.

        Advancing (or setting a first mark) needs ``allow_advance`` and only moves the mark.
        Rolling back needs ``allow_rollback`` and deletes, for this camera, every file (row and
        content), event and status block later than ``time``, all or nothing. A move that is
        not allowed changes nothing.
        """
        camera_id = check_camera_id(camera_id, self.installation_id)
        time_ms = model.utc_datetime_to_milliseconds(model.to_utc(time, "time"))
        self._write_and_remove_content(
            lambda connection: self._move_high_water_mark(
                connection, camera_id, time_ms, bool(allow_rollback), bool(allow_advance)
            )
        )

    def _status_internal_id_at(
        self: "MeteorDatabase", connection: Connection, camera_id: str, time_ms: int
    ) -> int | None:
        """The internal id of the status of ``camera_id`` in force at ``time_ms``, or None."""
        return connection.execute(
            select(t_camerastatus.c.internalid)
            .where(t_camerastatus.c.cameraid == camera_id, t_camerastatus.c.validfrom <= time_ms)
            .order_by(t_camerastatus.c.validfrom.desc(), t_camerastatus.c.internalid.desc())
            .limit(1)
        ).scalar()

    def _write_and_remove_content(self: "MeteorDatabase", write: "_Write") -> None:
        """Run ``write(connection)`` in a transaction; once committed, remove the content of the
        file ids it returns. Every cache a rollback can make stale is cleared either way."""
        try:
            try:
                doomed_files = self._in_transaction(write)
            except IntegrityError:
                # Another process inserted this camera's first mark between our read and insert.
                doomed_files = self._in_transaction(write)
            for file_id in doomed_files:
                self.file_store.remove(file_id)
        finally:
            for cache in ("status", "event", "file"):
                self.generators.cache_clear(cache)

    def _in_transaction(self: "MeteorDatabase", write: "_Write") -> list[uuid.UUID]:
        def attempt() -> list[uuid.UUID]:
            with self.transaction() as connection:
                return write(connection)

        # Firebird: deleting rows another transaction just changed (a claimed export task of a
        # doomed event) is an update conflict; the next attempt sees the change.
        return retry_update_conflicts(attempt)

    def _move_high_water_mark(
        self: "MeteorDatabase",
        connection: Connection,
        camera_id: str,
        time_ms: int,
        allow_rollback: bool,
        allow_advance: bool,
    ) -> list[uuid.UUID]:
        """Apply a mark change inside ``connection``'s transaction; return the ids of deleted
        files whose content must go once the transaction has committed."""
        mark = connection.execute(
            select(t_highwatermark.c.mark).where(t_highwatermark.c.cameraid == camera_id).with_for_update()
        ).scalar()
        if mark is None:
            if allow_advance:
                connection.execute(insert(t_highwatermark).values(cameraid=camera_id, mark=time_ms))
            return []
        if time_ms == mark or (time_ms > mark and not allow_advance) or (time_ms < mark and not allow_rollback):
            return []
        doomed_files = self._delete_later_than(connection, camera_id, time_ms) if time_ms < mark else []
        connection.execute(
            update(t_highwatermark).where(t_highwatermark.c.cameraid == camera_id).values(mark=time_ms)
        )
        return doomed_files

    def _delete_later_than(
        self: "MeteorDatabase", connection: Connection, camera_id: str, time_ms: int
    ) -> list[uuid.UUID]:
        """Delete this camera's files, events and status blocks later than ``time_ms``; return
        the deleted files' ids. Rows of any camera that point at a deleted status block go too
        (they would otherwise be removed by the cascade, leaving their content behind)."""
        later_statuses = select(t_camerastatus.c.internalid).where(
            t_camerastatus.c.cameraid == camera_id, t_camerastatus.c.validfrom > time_ms
        )
        files = or_(
            (t_file.c.cameraid == camera_id) & (t_file.c.filetime > time_ms),
            t_file.c.statusid.in_(later_statuses),
        )
        events = or_(
            (t_event.c.cameraid == camera_id) & (t_event.c.eventtime > time_ms),
            t_event.c.statusid.in_(later_statuses),
        )
        doomed_files = [uuid.UUID(hex=row.fileid) for row in connection.execute(select(t_file.c.fileid).where(files))]
        deleted_events = connection.execute(delete(t_event).where(events)).rowcount
        connection.execute(delete(t_file).where(files))
        deleted_statuses = connection.execute(
            delete(t_camerastatus).where(t_camerastatus.c.cameraid == camera_id, t_camerastatus.c.validfrom > time_ms)
        ).rowcount
        logger.info(
            "high water mark of camera %s rolled back to %s: deleting %d files, %d events, %d status blocks",
            camera_id,
            model.milliseconds_to_utc_datetime(time_ms).isoformat(),
            len(doomed_files),
            deleted_events,
            deleted_statuses,
        )
        return doomed_files

    def _insert_status(
        self: "MeteorDatabase", connection: Connection, status: model.CameraStatus, valid_from_ms: int
    ) -> int:
        """Insert a checked status block and its visible regions; return its internal id."""
        result = connection.execute(
            insert(t_camerastatus).values(
                statusid=status.status_id.hex,
                cameraid=status.camera_id,
                validfrom=valid_from_ms,
                softwareversion=status.software_version,
                lens=status.lens,
                sensor=status.sensor,
                insturl=status.inst_url,
                instname=status.inst_name,
                locationlatitude=status.location.latitude,
                locationlongitude=status.location.longitude,
                locationgps=status.location.gps,
                locationerror=status.location.error,
                orientationaltitude=status.orientation.altitude,
                orientationazimuth=status.orientation.azimuth,
                orientationerror=status.orientation.error,
                orientationrotation=status.orientation.rotation,
                widthoffield=status.orientation.width_of_field,
            )
        )
        internal_id = result.inserted_primary_key[0]
        points = [
            {"camerastatusid": internal_id, "region": region, "pointorder": order, "x": point["x"], "y": point["y"]}
            for region, polygon in enumerate(status.regions)
            for order, point in enumerate(polygon)
        ]
        if points:
            connection.execute(insert(t_visibleregions), points)
        return internal_id
