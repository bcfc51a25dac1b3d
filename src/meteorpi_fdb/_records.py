"""Files and events: registration, retrieval, search and import (a mixin of ``MeteorDatabase``).

Every public method validates all of its input before it touches the database or the file
store, and raises ``ValueError`` naming the offending field. ``register_file`` places content
first and commits the row second (see ``file_store``); the import methods expect content to be
in the store already and check it before writing anything.
"""

from __future__ import annotations

import logging
import os
import uuid
from datetime import datetime
from typing import Any, Iterable, Sequence

from sqlalchemy import Connection, Row, insert, select
from sqlalchemy.exc import IntegrityError

import meteorpi_model as model
from meteorpi_fdb import schema
from meteorpi_fdb.generators import FILE_COLUMNS, first_from_generator
from meteorpi_fdb.sql_builder import (SQLBuilder, search_events_sql_builder,
                                      search_files_sql_builder, to_text)

logger = logging.getLogger("meteorpi.db")

EVENT_COLUMNS = "e.cameraid, e.eventid, e.internalid, e.eventtime, e.eventtype, s.statusid"
_FILE_FROM = "t_file f, t_cameraStatus s"
_EVENT_FROM = "t_event e, t_cameraStatus s"
_ID_BATCH = 500  # ids per IN list (Firebird allows at most 1,500)
# Stands in for the status id while a record is validated, before the status is looked up.
_UNKNOWN_STATUS = uuid.UUID(int=0)


class RecordsMixin:
    """Register, fetch, search and import FileRecords and Events."""

    # --- registration -------------------------------------------------------------------

    def register_file(
        self,
        file_path: str | os.PathLike,
        mime_type: str,
        semantic_type: model.NSString | str,
        file_time: datetime,
        file_metas: Sequence[model.Meta] | None,
        camera_id: str | None = None,
        file_name: str | None = None,
    ) -> model.FileRecord:
        """Move ``file_path`` into the file store and record it; return the stored FileRecord.

        The camera (default: this installation) must have a status in force at ``file_time``.
        If the database write fails the file is put back where it was.
        """
        record = _new_file_record(
            camera_id if camera_id is not None else self.installation_id,
            mime_type, semantic_type, file_time, file_metas, file_name,
        )
        source = _checked_source(file_path, self.file_store.root)
        time_ms = model.utc_datetime_to_milliseconds(record.file_time)
        with self.connection() as connection:
            _require_status(connection, record.camera_id, time_ms, record.file_time)
        record.file_id = uuid.uuid4()
        with self.file_store.adding(record.file_id, source) as stored:
            record.file_size, record.md5 = stored.size, stored.md5
            with self.transaction() as connection:
                status = _require_status(connection, record.camera_id, time_ms, record.file_time)
                record.status_id = uuid.UUID(hex=status.statusid)
                _insert_file(connection, record, status.internalid)
        self.generators.cache_clear("file")
        logger.debug("Registered file %s for camera %s", record.file_id.hex, record.camera_id)
        return record

    def register_event(
        self,
        camera_id: str | None,
        event_time: datetime,
        event_type: model.NSString | str,
        file_records: Sequence[model.FileRecord] | None = None,
        event_meta: Sequence[model.Meta] | None = None,
    ) -> model.Event:
        """Record a new event backed by already-registered files; return the stored Event."""
        metas = _checked_metas(event_meta, "event_meta")
        event = model.Event(
            camera_id=camera_id if camera_id is not None else self.installation_id,
            event_time=event_time, event_id=uuid.uuid4(), event_type=event_type,
            status_id=_UNKNOWN_STATUS, file_records=_checked_list(file_records, "file_records"),
            meta=metas,
        )
        file_ids = _distinct_file_ids(event.file_records)
        loaded = {record.file_id: record for record in self._files_by_ids(file_ids)}
        missing = [file_id.hex for file_id in file_ids if file_id not in loaded]
        if missing:
            raise ValueError(f"file_records: no registered file with file_id {', '.join(missing)}")
        event.file_records = [loaded[file_id] for file_id in file_ids]
        time_ms = model.utc_datetime_to_milliseconds(event.event_time)
        with self.transaction() as connection:
            status = _require_status(connection, event.camera_id, time_ms, event.event_time)
            event.status_id = uuid.UUID(hex=status.statusid)
            internal_ids = _file_internal_ids(connection, file_ids)
            if len(internal_ids) != len(file_ids):
                raise ValueError("file_records: a file was deleted while the event was registered")
            _insert_event(connection, event, status.internalid, [internal_ids[f.hex] for f in file_ids])
        self.generators.cache_clear("event")
        logger.debug("Registered event %s for camera %s", event.event_id.hex, event.camera_id)
        return event

    # --- retrieval ----------------------------------------------------------------------

    def get_file(self, file_id: uuid.UUID | str) -> model.FileRecord | None:
        """The FileRecord with this id, or None."""
        file_id = model.parse_uuid(file_id, "file_id")
        sql = f"SELECT {FILE_COLUMNS} FROM {_FILE_FROM} WHERE f.statusID = s.internalID AND f.fileID = ?"
        return self.generators.caches["file"].get(
            file_id, lambda: first_from_generator(self.generators.file_generator(sql, [file_id.hex]))
        )

    def get_event(self, event_id: uuid.UUID | str) -> model.Event | None:
        """The Event (with its files and metadata) with this id, or None."""
        event_id = model.parse_uuid(event_id, "event_id")
        sql = f"SELECT {EVENT_COLUMNS} FROM {_EVENT_FROM} WHERE e.statusID = s.internalID AND e.eventID = ?"
        return self.generators.caches["event"].get(
            event_id, lambda: first_from_generator(self.generators.event_generator(sql, [event_id.hex]))
        )

    def has_file_id(self, file_id: uuid.UUID | str) -> bool:
        """Whether a FileRecord with this id exists."""
        file_id = model.parse_uuid(file_id, "file_id")
        with self.connection() as connection:
            return _internal_id(connection, schema.t_file, "fileid", file_id) is not None

    def has_event_id(self, event_id: uuid.UUID | str) -> bool:
        """Whether an Event with this id exists."""
        event_id = model.parse_uuid(event_id, "event_id")
        with self.connection() as connection:
            return _internal_id(connection, schema.t_event, "eventid", event_id) is not None

    # --- search -------------------------------------------------------------------------

    def search_events(self, search: model.EventSearch) -> dict[str, Any]:
        """``{"count": N, "events": [...]}``: one page of matching events, newest first;
        ``count`` is the size of the whole result set."""
        if not isinstance(search, model.EventSearch):
            raise ValueError(f"search must be an EventSearch, not {type(search).__name__}")
        builder = search_events_sql_builder(search, dialect=self.backend)
        sql = builder.get_select_sql(
            columns=EVENT_COLUMNS, order="e.eventTime DESC, e.internalID DESC",
            limit=search.limit, skip=search.skip,
        )
        return {
            "count": self._count(builder),
            "events": list(self.generators.event_generator(sql, builder.sql_args)),
        }

    def search_files(self, search: model.FileRecordSearch) -> dict[str, Any]:
        """``{"count": N, "files": [...]}``: one page of matching files, newest first;
        ``count`` is the size of the whole result set."""
        if not isinstance(search, model.FileRecordSearch):
            raise ValueError(f"search must be a FileRecordSearch, not {type(search).__name__}")
        builder = search_files_sql_builder(search, dialect=self.backend)
        sql = builder.get_select_sql(
            columns=FILE_COLUMNS, order="f.fileTime DESC, f.internalID DESC",
            limit=search.limit, skip=search.skip,
        )
        return {
            "count": self._count(builder),
            "files": list(self.generators.file_generator(sql, builder.sql_args)),
        }

    def _count(self, builder: SQLBuilder) -> int:
        statement, params = to_text(builder.get_count_sql(), builder.sql_args)
        with self.connection() as connection:
            return connection.execute(statement, params).scalar_one()

    def _files_by_ids(self, file_ids: Sequence[uuid.UUID]) -> list[model.FileRecord]:
        """The FileRecords among ``file_ids`` that exist (in no particular order)."""
        records: list[model.FileRecord] = []
        for start in range(0, len(file_ids), _ID_BATCH):
            builder = SQLBuilder(_FILE_FROM, ["f.statusID = s.internalID"], self.backend)
            builder.add_set_membership([f.hex for f in file_ids[start : start + _ID_BATCH]], "f.fileID")
            sql = builder.get_select_sql(columns=FILE_COLUMNS)
            records.extend(self.generators.file_generator(sql, builder.sql_args))
        return records

    def check_file_store(self) -> dict[str, list]:
        """Compare the file store with the database (an integrity check; reads only).

        Returns ``{"orphans": [...], "missing": [...], "strays": [...]}``: content files with no
        row (a crash between placing content and committing, or content uploaded for an
        import that has not arrived yet), ids of rows whose content is absent, and names in
        the store that are not content files (left-over temporaries).
        """
        stored = set(self.file_store.stored_ids())
        with self.connection() as connection:
            rows = {uuid.UUID(hex=file_id) for file_id in connection.execute(select(schema.t_file.c.fileid)).scalars()}
        return {
            "orphans": sorted(stored - rows),
            "missing": sorted(rows - stored),
            "strays": self.file_store.stray_files(),
        }

    # --- import -------------------------------------------------------------------------

    def import_file_record(self, file_record: model.FileRecord, user_id: str) -> int:
        """Import a FileRecord received from another node, keeping its ids; return its internal id.

        Its content must already be in the store (``file_path_for_id``) with the record's size
        and MD5, and its ``status_id`` must be the status in force for its camera at its time.
        A record that is already here is left alone.
        """
        record = _checked_imported_file(file_record, "file_record")
        user_id = _checked_user_id(user_id)
        with self.connection() as connection:
            existing = _internal_id(connection, schema.t_file, "fileid", record.file_id)
        if existing is not None:
            return existing
        self._verify_content(record)
        try:
            with self.transaction() as connection:
                internal_id = _import_file_rows(connection, record, user_id)
        except IntegrityError as error:
            return self._raced_import(error, schema.t_file, "fileid", record.file_id)
        self.generators.cache_clear("file")
        logger.info("Imported file %s from user %s", record.file_id.hex, user_id)
        return internal_id

    def import_event(self, event: model.Event, user_id: str) -> int:
        """Import an Event received from another node, keeping its ids; return its internal id.

        Its files that are not here yet are imported in the same transaction (their content
        must be in the store). Status ids must be the ones in force here. An event that is
        already here is left alone.
        """
        if not isinstance(event, model.Event):
            raise ValueError(f"event must be an Event, not {type(event).__name__}")
        user_id = _checked_user_id(user_id)
        metas = _checked_metas(event.meta, "event.meta")
        records = [
            _checked_imported_file(record, f"event.file_records[{index}]")
            for index, record in enumerate(_checked_list(event.file_records, "event.file_records"))
        ]
        file_ids = _distinct_file_ids(records)
        event = model.Event(event.camera_id, event.event_time, event.event_id, event.event_type,
                            event.status_id, records, metas)
        with self.connection() as connection:
            existing = _internal_id(connection, schema.t_event, "eventid", event.event_id)
            present = _file_internal_ids(connection, file_ids)
        if existing is not None:
            return existing
        for record in records:
            if record.file_id.hex not in present:
                self._verify_content(record)
        try:
            with self.transaction() as connection:
                internal_id = _import_event_rows(connection, event, user_id)
        except IntegrityError as error:
            return self._raced_import(error, schema.t_event, "eventid", event.event_id)
        self.generators.cache_clear("file")
        self.generators.cache_clear("event")
        logger.info("Imported event %s from user %s", event.event_id.hex, user_id)
        return internal_id

    def _verify_content(self, record: model.FileRecord) -> None:
        """Check that the store holds ``record``'s content with its size and MD5."""
        path = self.file_path_for_id(record.file_id)
        if not os.path.isfile(path):
            raise ValueError(f"no content in the file store for file {record.file_id.hex}")
        size = os.path.getsize(path)
        if size != record.file_size:
            raise ValueError(
                f"file_size of file {record.file_id.hex} is {record.file_size}, "
                f"but its stored content has {size} bytes"
            )
        md5 = model.get_md5_hash(path)
        if record.md5 is None:
            record.md5 = md5
        elif md5 != record.md5:
            raise ValueError(f"md5 of file {record.file_id.hex} does not match its stored content")

    def _raced_import(self, error: IntegrityError, table, column: str, entity_id: uuid.UUID) -> int:
        """After ``error``: the id of the row a concurrent import just wrote, else re-raise."""
        with self.connection() as connection:
            existing = _internal_id(connection, table, column, entity_id)
        if existing is None:
            raise error
        return existing


# --- validation ---------------------------------------------------------------------------


def _checked_list(values: Any, field: str) -> list:
    if values is None:
        return []
    if not isinstance(values, (list, tuple)):
        raise ValueError(f"{field} must be a list, not {type(values).__name__}")
    return list(values)


def _checked_metas(metas: Any, field: str) -> list[model.Meta]:
    """Re-validated copies of ``metas`` (Meta objects are mutable), fitting the schema's columns."""
    checked = []
    for index, meta in enumerate(_checked_list(metas, field)):
        if not isinstance(meta, model.Meta):
            raise ValueError(f"{field}[{index}] must be a Meta, not {type(meta).__name__}")
        try:
            meta = model.Meta(meta.key, meta.value)
            if meta.type == "number":
                # Stored as a float: hand back exactly what a later read returns.
                meta = model.Meta(meta.key, float(meta.value))
        except (ValueError, OverflowError) as error:
            raise ValueError(f"{field}[{index}]: {error}") from None
        if len(str(meta.key)) > schema.META_KEY_LENGTH:
            raise ValueError(f"{field}[{index}]: meta key is too long (at most {schema.META_KEY_LENGTH} characters)")
        checked.append(meta)
    return checked


def _new_file_record(camera_id: Any, mime_type: Any, semantic_type: Any, file_time: Any,
                     file_metas: Any, file_name: Any) -> model.FileRecord:
    """A validated FileRecord for ``register_file``; ids, size and md5 are filled in later."""
    return model.FileRecord(
        camera_id=camera_id, mime_type=mime_type, semantic_type=semantic_type,
        status_id=_UNKNOWN_STATUS, file_time=model.to_utc(file_time, "file_time"),
        file_name=file_name, meta=_checked_metas(file_metas, "file_metas"),
    )


def _checked_source(file_path: Any, store_root: str) -> str:
    if not isinstance(file_path, (str, os.PathLike)) or not os.fspath(file_path):
        raise ValueError("file_path must be a path to a file")
    source = os.path.abspath(os.fspath(file_path))
    if not os.path.isfile(source):
        raise ValueError(f"file_path {os.fspath(file_path)!s} is not a readable file")
    if os.path.dirname(os.path.realpath(source)) == os.path.realpath(store_root):
        raise ValueError("file_path must not be inside the file store")
    return source


def _checked_imported_file(record: Any, field: str) -> model.FileRecord:
    """A validated copy of an imported FileRecord, which must carry its id and time."""
    if not isinstance(record, model.FileRecord):
        raise ValueError(f"{field} must be a FileRecord, not {type(record).__name__}")
    if record.file_id is None:
        raise ValueError(f"{field} has no file_id")
    if record.file_time is None:
        raise ValueError(f"{field} has no file_time")
    try:
        return model.FileRecord(
            camera_id=record.camera_id, mime_type=record.mime_type,
            semantic_type=record.semantic_type, status_id=record.status_id, md5=record.md5,
            file_id=record.file_id, file_time=record.file_time, file_size=record.file_size,
            file_name=record.file_name, meta=_checked_metas(record.meta, "meta"),
        )
    except ValueError as error:
        raise ValueError(f"{field}: {error}") from None


def _checked_user_id(user_id: Any) -> str:
    if not isinstance(user_id, str) or not user_id:
        raise ValueError("user_id must be a non-empty string")
    if len(user_id) > schema.NAME_LENGTH:
        raise ValueError(f"user_id is too long (at most {schema.NAME_LENGTH} characters)")
    return user_id


def _distinct_file_ids(records: Iterable[model.FileRecord]) -> list[uuid.UUID]:
    """The file ids of ``records`` in order; a missing or repeated id is a ValueError."""
    file_ids: list[uuid.UUID] = []
    for index, record in enumerate(records):
        if record.file_id is None:
            raise ValueError(f"file_records[{index}] has no file_id")
        if record.file_id in file_ids:
            raise ValueError(f"file_records[{index}]: file {record.file_id.hex} is listed twice")
        file_ids.append(record.file_id)
    return file_ids


# --- SQL ----------------------------------------------------------------------------------


def _status_in_force(connection: Connection, camera_id: str, time_ms: int) -> Row | None:
    """(internalid, statusid) of the camera's status with the latest validfrom <= time_ms."""
    status = schema.t_camerastatus
    statement = (
        select(status.c.internalid, status.c.statusid)
        .where(status.c.cameraid == camera_id, status.c.validfrom <= time_ms)
        .order_by(status.c.validfrom.desc(), status.c.internalid.desc())
        .limit(1)
    )
    return connection.execute(statement).first()


def _require_status(connection: Connection, camera_id: str, time_ms: int, time: datetime) -> Row:
    status = _status_in_force(connection, camera_id, time_ms)
    if status is None:
        raise ValueError(f"no camera status in force for camera {camera_id} at {time.isoformat()}")
    return status


def _check_imported_status(connection: Connection, what: str, camera_id: str, time: datetime,
                           status_id: uuid.UUID) -> int:
    """The internal id of ``status_id``, which must be the camera's status in force at ``time``."""
    status = _status_in_force(connection, camera_id, model.utc_datetime_to_milliseconds(time))
    if status is not None and status.statusid == status_id.hex:
        return status.internalid
    if _internal_id(connection, schema.t_camerastatus, "statusid", status_id) is None:
        raise ValueError(f"{what}: status_id {status_id.hex} is not a known camera status")
    raise ValueError(
        f"{what}: status_id {status_id.hex} is not the status in force for camera "
        f"{camera_id} at {time.isoformat()}"
    )


def _internal_id(connection: Connection, table, column: str, entity_id: uuid.UUID) -> int | None:
    statement = select(table.c.internalid).where(table.c[column] == entity_id.hex)
    return connection.execute(statement).scalar()


def _file_internal_ids(connection: Connection, file_ids: Sequence[uuid.UUID]) -> dict[str, int]:
    """fileid hex → internalid for those of ``file_ids`` that exist."""
    files = schema.t_file
    found: dict[str, int] = {}
    for start in range(0, len(file_ids), _ID_BATCH):
        batch = [file_id.hex for file_id in file_ids[start : start + _ID_BATCH]]
        statement = select(files.c.fileid, files.c.internalid).where(files.c.fileid.in_(batch))
        found.update({row.fileid: row.internalid for row in connection.execute(statement)})
    return found


def _insert_meta(connection: Connection, table, owner_id: int, metas: Sequence[model.Meta]) -> None:
    rows = []
    for index, meta in enumerate(metas):
        row = {"fileid" if table is schema.t_filemeta else "eventid": owner_id, "metaindex": index,
               "metakey": str(meta.key), "stringvalue": None, "floatvalue": None, "datevalue": None}
        if meta.type == "string":
            row["stringvalue"] = meta.value
        elif meta.type == "number":
            row["floatvalue"] = float(meta.value)
        else:
            row["datevalue"] = model.utc_datetime_to_milliseconds(meta.value)
        rows.append(row)
    if rows:
        connection.execute(insert(table), rows)


def _insert_file(connection: Connection, record: model.FileRecord, status_internal_id: int) -> int:
    """Insert a t_file row and its metadata; return the new internal id."""
    result = connection.execute(
        insert(schema.t_file).values(
            fileid=record.file_id.hex, cameraid=record.camera_id, mimetype=record.mime_type,
            semantictype=str(record.semantic_type),
            filetime=model.utc_datetime_to_milliseconds(record.file_time),
            fileoffset=model.get_day_and_offset(record.file_time)["seconds"],
            filesize=record.file_size, filename=record.file_name, md5=record.md5,
            statusid=status_internal_id,
        )
    )
    internal_id = result.inserted_primary_key[0]
    _insert_meta(connection, schema.t_filemeta, internal_id, record.meta)
    return internal_id


def _insert_event(connection: Connection, event: model.Event, status_internal_id: int,
                  file_internal_ids: Sequence[int]) -> int:
    """Insert a t_event row, its metadata and its file links; return the new internal id."""
    result = connection.execute(
        insert(schema.t_event).values(
            eventid=event.event_id.hex, cameraid=event.camera_id,
            eventtime=model.utc_datetime_to_milliseconds(event.event_time),
            eventoffset=model.get_day_and_offset(event.event_time)["seconds"],
            eventtype=str(event.event_type), statusid=status_internal_id,
        )
    )
    internal_id = result.inserted_primary_key[0]
    _insert_meta(connection, schema.t_eventmeta, internal_id, event.meta)
    if file_internal_ids:
        connection.execute(
            insert(schema.t_event_to_file),
            [{"eventid": internal_id, "fileid": file_id, "sequencenumber": index}
             for index, file_id in enumerate(file_internal_ids)],
        )
    return internal_id


def _import_file_rows(connection: Connection, record: model.FileRecord, user_id: str) -> int:
    """Insert an imported file (unless present) with its import log row; return its internal id."""
    existing = _internal_id(connection, schema.t_file, "fileid", record.file_id)
    if existing is not None:
        return existing
    status = _check_imported_status(connection, f"file {record.file_id.hex}", record.camera_id,
                                    record.file_time, record.status_id)
    internal_id = _insert_file(connection, record, status)
    connection.execute(insert(schema.t_fileimport).values(
        fileid=internal_id, importuser=user_id,
        importtime=model.utc_datetime_to_milliseconds(model.now()),
    ))
    return internal_id


def _import_event_rows(connection: Connection, event: model.Event, user_id: str) -> int:
    """Insert an imported event (unless present), its missing files and import log rows."""
    existing = _internal_id(connection, schema.t_event, "eventid", event.event_id)
    if existing is not None:
        return existing
    status = _check_imported_status(connection, f"event {event.event_id.hex}", event.camera_id,
                                    event.event_time, event.status_id)
    file_ids = [_import_file_rows(connection, record, user_id) for record in event.file_records]
    internal_id = _insert_event(connection, event, status, file_ids)
    connection.execute(insert(schema.t_eventimport).values(
        eventid=internal_id, importuser=user_id,
        importtime=model.utc_datetime_to_milliseconds(model.now()),
    ))
    return internal_id
