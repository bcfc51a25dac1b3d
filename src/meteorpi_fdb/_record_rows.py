"""The SQL statements behind ``RecordsMixin``: status look-ups and inserts of files, events,
their metadata, links and import log rows. Every function runs on the caller's connection,
inside the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Sequence

from sqlalchemy import Connection, Row, Table, bindparam, insert, select

import meteorpi_model as model
from meteorpi_fdb import schema

ID_BATCH = 500  # ids per IN list (Firebird allows at most 1,500)
_INSERT_FILE = insert(schema.t_file)
_INSERT_EVENT = insert(schema.t_event)
_INSERT_META = {table: insert(table) for table in (schema.t_filemeta, schema.t_eventmeta)}


_STATUS = schema.t_camerastatus
# Built once: constructing a statement costs more than running it on SQLite.
_STATUS_IN_FORCE = (
    select(_STATUS.c.internalid, _STATUS.c.statusid)
    .where(_STATUS.c.cameraid == bindparam("camera_id"), _STATUS.c.validfrom <= bindparam("time_ms"))
    .order_by(_STATUS.c.validfrom.desc(), _STATUS.c.internalid.desc())
    .limit(1)
)


def status_in_force(connection: Connection, camera_id: str, time_ms: int) -> Row | None:
    """(internalid, statusid) of the camera's status with the latest validfrom <= time_ms."""
    return connection.execute(_STATUS_IN_FORCE, {"camera_id": camera_id, "time_ms": time_ms}).first()


def check_imported_status(connection: Connection, what: str, camera_id: str, time: datetime,
                          status_id: uuid.UUID) -> int:
    """The internal id of ``status_id``, which must be the camera's status in force at ``time``."""
    status = status_in_force(connection, camera_id, model.utc_datetime_to_milliseconds(time))
    if status is not None and status.statusid == status_id.hex:
        return status.internalid
    if find_internal_id(connection, schema.t_camerastatus, "statusid", status_id) is None:
        raise ValueError(f"{what}: status_id {status_id.hex} is not a known camera status")
    raise ValueError(
        f"{what}: status_id {status_id.hex} is not the status in force for camera "
        f"{camera_id} at {time.isoformat()}"
    )


def find_internal_id(connection: Connection, table: Table, column: str, entity_id: uuid.UUID) -> int | None:
    statement = select(table.c.internalid).where(table.c[column] == entity_id.hex)
    return connection.execute(statement).scalar()


def file_internal_ids(connection: Connection, file_ids: Sequence[uuid.UUID]) -> dict[str, int]:
    """fileid hex → internalid for those of ``file_ids`` that exist."""
    files = schema.t_file
    found: dict[str, int] = {}
    for start in range(0, len(file_ids), ID_BATCH):
        batch = [file_id.hex for file_id in file_ids[start : start + ID_BATCH]]
        statement = select(files.c.fileid, files.c.internalid).where(files.c.fileid.in_(batch))
        found.update({row.fileid: row.internalid for row in connection.execute(statement)})
    return found


def insert_meta(connection: Connection, table: Table, owner_id: int, metas: Sequence[model.Meta]) -> None:
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
        connection.execute(_INSERT_META[table], rows)


def insert_file(connection: Connection, record: model.FileRecord, status_internal_id: int) -> int:
    """Insert a t_file row and its metadata; return the new internal id."""
    result = connection.execute(_INSERT_FILE, dict(
        fileid=record.file_id.hex, cameraid=record.camera_id, mimetype=record.mime_type,
        semantictype=str(record.semantic_type),
        filetime=model.utc_datetime_to_milliseconds(record.file_time),
        fileoffset=model.get_day_and_offset(record.file_time)["seconds"],
        filesize=record.file_size, filename=record.file_name, md5hex=record.md5,
        statusid=status_internal_id,
    ))
    internal_id = result.inserted_primary_key[0]
    insert_meta(connection, schema.t_filemeta, internal_id, record.meta)
    return internal_id


def insert_event(connection: Connection, event: model.Event, status_internal_id: int,
                 file_internal_ids: Sequence[int]) -> int:
    """Insert a t_event row, its metadata and its file links; return the new internal id."""
    result = connection.execute(_INSERT_EVENT, dict(
        eventid=event.event_id.hex, cameraid=event.camera_id,
        eventtime=model.utc_datetime_to_milliseconds(event.event_time),
        eventoffset=model.get_day_and_offset(event.event_time)["seconds"],
        eventtype=str(event.event_type), statusid=status_internal_id,
    ))
    internal_id = result.inserted_primary_key[0]
    insert_meta(connection, schema.t_eventmeta, internal_id, event.meta)
    if file_internal_ids:
        connection.execute(
            insert(schema.t_event_to_file),
            [{"eventid": internal_id, "fileid": file_id, "sequencenumber": index}
             for index, file_id in enumerate(file_internal_ids)],
        )
    return internal_id


def import_file_rows(connection: Connection, record: model.FileRecord, user_id: str) -> int:
    """Insert an imported file (unless present) with its import log row; return its internal id."""
    existing = find_internal_id(connection, schema.t_file, "fileid", record.file_id)
    if existing is not None:
        return existing
    status = check_imported_status(connection, f"file {record.file_id.hex}", record.camera_id,
                                   record.file_time, record.status_id)
    internal_id = insert_file(connection, record, status)
    connection.execute(insert(schema.t_fileimport).values(
        fileid=internal_id, importuser=user_id,
        importtime=model.utc_datetime_to_milliseconds(model.now()),
    ))
    return internal_id


def import_event_rows(connection: Connection, event: model.Event, user_id: str) -> int:
    """Insert an imported event (unless present), its missing files and import log rows."""
    existing = find_internal_id(connection, schema.t_event, "eventid", event.event_id)
    if existing is not None:
        return existing
    status = check_imported_status(connection, f"event {event.event_id.hex}", event.camera_id,
                                   event.event_time, event.status_id)
    file_ids = [import_file_rows(connection, record, user_id) for record in event.file_records]
    internal_id = insert_event(connection, event, status, file_ids)
    connection.execute(insert(schema.t_eventimport).values(
        eventid=internal_id, importuser=user_id,
        importtime=model.utc_datetime_to_milliseconds(model.now()),
    ))
    return internal_id
