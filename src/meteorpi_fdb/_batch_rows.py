"""The SQL behind ``RegistrationBatch``: the look-ups a batch makes before it places content
(statuses, rows it might duplicate, ids it might import twice) and its inserts, gathered so
that a batch of thousands of entities costs a few dozen statements. Every function runs on the
caller's connection, inside the caller's transaction."""

from __future__ import annotations

import bisect
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from sqlalchemy import Connection, insert, select

import meteorpi_model as model
from meteorpi_fdb import schema
from meteorpi_fdb._record_rows import ID_BATCH

_STATUS = schema.t_camerastatus
_FILE = schema.t_file
_EVENT = schema.t_event
_LINK = schema.t_event_to_file


@dataclass(frozen=True)
class StatusRef:
    """A status block: its internal id and its UUID (hex)."""

    internal_id: int
    status_id: str


class StatusTimeline:
    """Every status block of some cameras, to answer "which status is in force at this time"
    (the latest ``validfrom <= time``; ties go to the block written last) without a query."""

    def __init__(self, connection: Connection, camera_ids: Iterable[str]) -> None:
        self._starts: dict[str, list[int]] = defaultdict(list)
        self._refs: dict[str, list[StatusRef]] = defaultdict(list)
        cameras = sorted(set(camera_ids))
        for start in range(0, len(cameras), ID_BATCH):
            statement = (
                select(_STATUS.c.cameraid, _STATUS.c.validfrom, _STATUS.c.internalid, _STATUS.c.statusid)
                .where(_STATUS.c.cameraid.in_(cameras[start : start + ID_BATCH]))
                .order_by(_STATUS.c.cameraid, _STATUS.c.validfrom, _STATUS.c.internalid)
            )
            for row in connection.execute(statement):
                self._starts[row.cameraid].append(row.validfrom)
                self._refs[row.cameraid].append(StatusRef(row.internalid, row.statusid))

    def in_force(self, camera_id: str, time_ms: int) -> StatusRef | None:
        index = bisect.bisect_right(self._starts.get(camera_id, []), time_ms)
        return self._refs[camera_id][index - 1] if index else None


@dataclass
class ExistingFile:
    """A registered file that a new one might duplicate."""

    internal_id: int
    file_id: str
    semantic_type: str
    md5: str | None
    file_name: str | None
    in_event: bool


@dataclass
class ExistingEvent:
    """A registered event that a new one might duplicate, with its files' MD5s."""

    internal_id: int
    event_id: str
    event_type: str
    md5s: list[str | None] = field(default_factory=list)


def _times_by_camera(keys: Iterable[tuple[str, int]]) -> dict[str, list[int]]:
    grouped: dict[str, set[int]] = defaultdict(set)
    for camera_id, time_ms in keys:
        grouped[camera_id].add(time_ms)
    return {camera_id: sorted(times) for camera_id, times in grouped.items()}


def files_at(connection: Connection, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], list[ExistingFile]]:
    """Registered files at each (camera id, time in ms) of ``keys``."""
    found: dict[tuple[str, int], list[ExistingFile]] = defaultdict(list)
    linked = select(_LINK.c.fileid).where(_LINK.c.fileid == _FILE.c.internalid).exists()
    for camera_id, times in _times_by_camera(keys).items():
        for start in range(0, len(times), ID_BATCH):
            statement = select(
                _FILE.c.internalid, _FILE.c.fileid, _FILE.c.filetime, _FILE.c.semantictype, _FILE.c.md5hex,
                _FILE.c.filename, linked.label("in_event"),
            ).where(_FILE.c.cameraid == camera_id, _FILE.c.filetime.in_(times[start : start + ID_BATCH]))
            for row in connection.execute(statement):
                found[(camera_id, row.filetime)].append(ExistingFile(
                    row.internalid, row.fileid, row.semantictype, row.md5hex, row.filename, bool(row.in_event)))
    return found


def events_at(connection: Connection, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], list[ExistingEvent]]:
    """Registered events at each (camera id, time in ms) of ``keys``, with their files' MD5s."""
    found: dict[tuple[str, int], list[ExistingEvent]] = defaultdict(list)
    by_internal: dict[int, ExistingEvent] = {}
    for camera_id, times in _times_by_camera(keys).items():
        for start in range(0, len(times), ID_BATCH):
            statement = select(_EVENT.c.internalid, _EVENT.c.eventid, _EVENT.c.eventtime, _EVENT.c.eventtype).where(
                _EVENT.c.cameraid == camera_id, _EVENT.c.eventtime.in_(times[start : start + ID_BATCH]))
            for row in connection.execute(statement):
                existing = ExistingEvent(row.internalid, row.eventid, row.eventtype)
                by_internal[row.internalid] = existing
                found[(camera_id, row.eventtime)].append(existing)
    internal_ids = sorted(by_internal)
    for start in range(0, len(internal_ids), ID_BATCH):
        statement = (
            select(_LINK.c.eventid, _FILE.c.md5hex)
            .where(_LINK.c.fileid == _FILE.c.internalid, _LINK.c.eventid.in_(internal_ids[start : start + ID_BATCH]))
        )
        for row in connection.execute(statement):
            by_internal[row.eventid].md5s.append(row.md5hex)
    return found


def existing_ids(connection: Connection, table, column: str, ids: Iterable[uuid.UUID]) -> dict[str, int]:
    """UUID hex → internal id for those of ``ids`` already present in ``table``."""
    hexes = sorted({entity_id.hex for entity_id in ids})
    found: dict[str, int] = {}
    for start in range(0, len(hexes), ID_BATCH):
        statement = select(table.c[column], table.c.internalid).where(table.c[column].in_(hexes[start : start + ID_BATCH]))
        found.update({row[0]: row[1] for row in connection.execute(statement)})
    return found


_INSERTS: dict = {}


def _insert(table, returning: bool):
    """The insert statement for ``table`` (built once: building costs more than running)."""
    key = (table.name, returning)
    if key not in _INSERTS:
        statement = insert(table)
        _INSERTS[key] = statement.returning(table.c.internalid, sort_by_parameter_order=True) if returning else statement
    return _INSERTS[key]


def insert_returning_ids(connection: Connection, table, rows: list[dict]) -> list[int]:
    """Insert ``rows`` into ``table``; their new internal ids, in order. One statement per
    thousand rows where the driver returns ids from a multi-row insert in order (SQLite,
    PostgreSQL), else one per row (Firebird)."""
    if len(rows) > 1 and connection.dialect.insert_executemany_returning_sort_by_parameter_order:
        ids: list[int] = []
        for start in range(0, len(rows), 1000):
            ids.extend(connection.execute(_insert(table, True), rows[start : start + 1000]).scalars())
        return ids
    return [connection.execute(_insert(table, False), row).inserted_primary_key[0] for row in rows]


class RowWriter:
    """Inserts a batch's rows: files first (``files``), then events (``events``), then their
    metadata, links and import log rows, each table with as few statements as the driver
    allows."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.now_ms = model.utc_datetime_to_milliseconds(model.now())
        self._metas: dict = {schema.t_filemeta: [], schema.t_eventmeta: []}
        self._links: list[dict] = []
        self._imports: dict = {schema.t_fileimport: [], schema.t_eventimport: []}

    def files(self, files: list[tuple[model.FileRecord, int, str | None]]) -> list[int]:
        """Insert (record, status internal id, importing user or None) rows; their internal ids."""
        ids = insert_returning_ids(self.connection, _FILE, [dict(
            fileid=record.file_id.hex, cameraid=record.camera_id, mimetype=record.mime_type,
            semantictype=str(record.semantic_type),
            filetime=model.utc_datetime_to_milliseconds(record.file_time),
            fileoffset=model.get_day_and_offset(record.file_time)["seconds"],
            filesize=record.file_size, filename=record.file_name, md5hex=record.md5, statusid=status,
        ) for record, status, _user in files])
        for (record, _status, user), internal_id in zip(files, ids):
            self._meta(schema.t_filemeta, "fileid", internal_id, record.meta)
            if user is not None:
                self._imports[schema.t_fileimport].append(
                    {"fileid": internal_id, "importuser": user, "importtime": self.now_ms})
        return ids

    def events(self, events: list[tuple[model.Event, int, list[int], str | None]]) -> list[int]:
        """Insert (event, status internal id, file internal ids, importing user or None) rows."""
        ids = insert_returning_ids(self.connection, _EVENT, [dict(
            eventid=event.event_id.hex, cameraid=event.camera_id,
            eventtime=model.utc_datetime_to_milliseconds(event.event_time),
            eventoffset=model.get_day_and_offset(event.event_time)["seconds"],
            eventtype=str(event.event_type), statusid=status,
        ) for event, status, _files, _user in events])
        for (event, _status, file_ids, user), internal_id in zip(events, ids):
            self._meta(schema.t_eventmeta, "eventid", internal_id, event.meta)
            self._links.extend({"eventid": internal_id, "fileid": file_id, "sequencenumber": index}
                               for index, file_id in enumerate(file_ids))
            if user is not None:
                self._imports[schema.t_eventimport].append(
                    {"eventid": internal_id, "importuser": user, "importtime": self.now_ms})
        return ids

    def _meta(self, table, owner_column: str, owner_id: int, metas: Sequence[model.Meta]) -> None:
        for index, meta in enumerate(metas):
            row = {owner_column: owner_id, "metaindex": index, "metakey": str(meta.key),
                   "stringvalue": None, "floatvalue": None, "datevalue": None}
            if meta.type == "string":
                row["stringvalue"] = meta.value
            elif meta.type == "number":
                row["floatvalue"] = float(meta.value)
            else:
                row["datevalue"] = model.utc_datetime_to_milliseconds(meta.value)
            self._metas[table].append(row)

    def finish(self) -> None:
        """Write the gathered metadata, links and import log rows."""
        for table, rows in (*self._metas.items(), (_LINK, self._links), *self._imports.items()):
            for start in range(0, len(rows), 1000):
                self.connection.execute(_insert(table, False), rows[start : start + 1000])
