"""Export tasks: one pending row of ``t_eventExport`` or ``t_fileExport``, as handed out by
:meth:`MeteorDatabase.get_next_entity_to_export`.

A task names an entity, the export configuration it is queued for and where to send it. The
exporter turns it into the entity message of the replication protocol with :meth:`as_dict`,
and ends it with ``set_status(0)`` once the target has answered ``complete``.
"""

from __future__ import annotations

import datetime
import uuid
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import Table, update

import meteorpi_model as model
from meteorpi_fdb import schema
from meteorpi_fdb.firebird import retry_update_conflicts

if TYPE_CHECKING:
    from meteorpi_fdb.database import MeteorDatabase

STATE_COMPLETE = 0
STATE_PENDING = 1


class ExportTask:
    """What :class:`EventExportTask` and :class:`FileExportTask` share.

    :ivar config_id: the export configuration's UUID
    :ivar config_internal_id: its integer key
    :ivar entity_id: the UUID of the event or file to send
    :ivar entity_internal_id: its integer key
    :ivar entity_type: ``'event'`` or ``'file'``
    :ivar timestamp: the export time the task was scheduled for (UTC datetime)
    :ivar status: the queue row's state when the task was handed out (non-zero: pending)
    :ivar target_url: the import API to POST to
    :ivar target_user: the user for Basic auth at the target
    :ivar target_password: that user's password
    :ivar ca_bundle: a CA bundle to verify an HTTPS target against, or None for the defaults
    """

    entity_type: ClassVar[str]
    _queue: ClassVar[Table]
    _entity_column: ClassVar[str]

    def __init__(
        self,
        db: "MeteorDatabase",
        config_id: uuid.UUID,
        config_internal_id: int,
        entity_id: uuid.UUID,
        entity_internal_id: int,
        timestamp: datetime.datetime,
        status: int,
        target_url: str,
        target_user: str,
        target_password: str,
        ca_bundle: str | None = None,
    ) -> None:
        self.db = db
        self.config_id = model.parse_uuid(config_id, "config_id")
        self.config_internal_id = config_internal_id
        self.entity_id = model.parse_uuid(entity_id, f"{self.entity_type}_id")
        self.entity_internal_id = entity_internal_id
        self.timestamp = timestamp
        self.status = status
        self.target_url = target_url
        self.target_user = target_user
        self.target_password = target_password
        self.ca_bundle = ca_bundle

    def get_entity(self) -> Any:
        """The event or file to export, or None if it has been deleted since."""
        raise NotImplementedError

    def as_dict(self) -> dict[str, Any]:
        """The entity message: ``{"type": "event", "event": {...}}`` or the file equivalent.

        Raises ValueError if the entity no longer exists.
        """
        entity = self.get_entity()
        if entity is None:
            raise ValueError(f"{self.entity_type} {self.entity_id.hex} no longer exists")
        return {"type": self.entity_type, self.entity_type: entity.as_dict()}

    def get_export_config(self) -> model.ExportConfiguration | None:
        """The export configuration this task belongs to, or None if it has been deleted."""
        return self.db.get_export_configuration(self.config_id)

    def set_status(self, status: int) -> None:
        """Set the queue row's state: 0 marks the task complete; any other value makes it
        pending again (stored as 1, the one pending state)."""
        if isinstance(status, bool) or not isinstance(status, int):
            raise ValueError(f"status must be an integer, not {type(status).__name__}")
        state = STATE_COMPLETE if status == STATE_COMPLETE else STATE_PENDING

        def store() -> None:
            with self.db.transaction() as connection:
                connection.execute(self._update_row().values(exportstate=state))

        retry_update_conflicts(store)
        self.status = state

    def defer(self, seconds: float) -> None:
        """Schedule this task (if still pending) for ``seconds`` from now, ending its claim."""
        due = model.utc_datetime_to_milliseconds(model.now()) + seconds_to_milliseconds(seconds)
        queue = self._queue

        def move() -> None:
            with self.db.transaction() as connection:
                connection.execute(
                    self._update_row().where(queue.c.exportstate != STATE_COMPLETE).values(exporttime=due)
                )

        retry_update_conflicts(move)
        self.timestamp = model.milliseconds_to_utc_datetime(due)

    def _update_row(self):
        queue = self._queue
        return update(queue).where(
            queue.c[self._entity_column] == self.entity_internal_id,
            queue.c.exportconfig == self.config_internal_id,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(config_id={self.config_id.hex}, "
            f"{self.entity_type}_id={self.entity_id.hex}, timestamp={self.timestamp!r}, "
            f"status={self.status!r}, target_url={self.target_url!r})"
        )


class EventExportTask(ExportTask):
    """A pending export of one :class:`meteorpi_model.Event` under one export configuration."""

    entity_type = "event"
    _queue = schema.t_eventexport
    _entity_column = "eventid"

    def __init__(
        self,
        db: "MeteorDatabase",
        config_id: uuid.UUID,
        config_internal_id: int,
        event_id: uuid.UUID,
        event_internal_id: int,
        timestamp: datetime.datetime,
        status: int,
        target_url: str,
        target_user: str,
        target_password: str,
        ca_bundle: str | None = None,
    ) -> None:
        super().__init__(
            db, config_id, config_internal_id, event_id, event_internal_id, timestamp, status,
            target_url, target_user, target_password, ca_bundle,
        )

    @property
    def event_id(self) -> uuid.UUID:
        return self.entity_id

    @property
    def event_internal_id(self) -> int:
        return self.entity_internal_id

    def get_event(self) -> model.Event | None:
        """The event to export, or None if it has been deleted since."""
        return self.db.get_event(self.entity_id)

    def get_entity(self) -> model.Event | None:
        return self.get_event()


class FileExportTask(ExportTask):
    """A pending export of one :class:`meteorpi_model.FileRecord` under one export configuration."""

    entity_type = "file"
    _queue = schema.t_fileexport
    _entity_column = "fileid"

    def __init__(
        self,
        db: "MeteorDatabase",
        config_id: uuid.UUID,
        config_internal_id: int,
        file_id: uuid.UUID,
        file_internal_id: int,
        timestamp: datetime.datetime,
        status: int,
        target_url: str,
        target_user: str,
        target_password: str,
        ca_bundle: str | None = None,
    ) -> None:
        super().__init__(
            db, config_id, config_internal_id, file_id, file_internal_id, timestamp, status,
            target_url, target_user, target_password, ca_bundle,
        )

    @property
    def file_id(self) -> uuid.UUID:
        return self.entity_id

    @property
    def file_internal_id(self) -> int:
        return self.entity_internal_id

    def get_file(self) -> model.FileRecord | None:
        """The file record to export, or None if it has been deleted since."""
        return self.db.get_file(self.entity_id)

    def get_entity(self) -> model.FileRecord | None:
        return self.get_file()


def seconds_to_milliseconds(seconds: Any) -> int:
    """``seconds`` (a non-negative number, at most a century) in whole milliseconds; ValueError otherwise."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
        raise ValueError(f"seconds must be a non-negative number, got {seconds!r}")
    if seconds > 100 * 365 * 86400:
        raise ValueError(f"seconds is too large: {seconds!r}")
    return round(seconds * 1000)
