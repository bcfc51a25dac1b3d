"""Lazy, batched materialisation of model objects from SQL rows, plus the entity caches.

Each generator takes a SQL statement (``?`` placeholders, the seed's style) and its arguments,
reads the rows in chunks, and for each chunk loads every related row (metadata, an event's
files, a status's visible regions) with one query per relation: a page of results costs a
constant number of queries however many rows it holds, and iterating over a whole table keeps
only one chunk in memory.
"""

from __future__ import annotations

import contextlib
import functools
import json
import uuid
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from sqlalchemy import Connection, bindparam, text

import meteorpi_model as model
from meteorpi_fdb._cache import CacheInfo, EntityCache
from meteorpi_fdb.sql_builder import to_text

if TYPE_CHECKING:
    from meteorpi_fdb.database import MeteorDatabase

CHUNK_SIZE = 500  # rows per batch; also keeps IN lists well under Firebird's 1,500 limit
CACHE_NAMES = ("status", "event", "file", "export", "user")
CACHE_SIZES = {"status": 256, "event": 1024, "file": 1024, "export": 64, "user": 64}


def first_from_generator(generator: Iterator[Any]) -> Any:
    """The first item of ``generator`` (closing it), or None when it is empty."""
    try:
        return next(generator, None)
    finally:
        close = getattr(generator, "close", None)
        if close is not None:
            close()


def first_non_null(values: Iterable[Any]) -> Any:
    """The first item of ``values`` that is not None; ValueError if there is none."""
    for value in values:
        if value is not None:
            return value
    raise ValueError("No non-null item in supplied list")


class MeteorDatabaseGenerators:
    """Generator functions used to retrieve, and cache, items from the database."""

    def __init__(self, db: "MeteorDatabase") -> None:
        self.db = db
        self.caches = {name: EntityCache(CACHE_SIZES[name]) for name in CACHE_NAMES}

    def cache_info(self) -> dict[str, CacheInfo]:
        """Hits, misses, size and capacity of each cache, by name."""
        return {name: cache.info() for name, cache in self.caches.items()}

    def cache_clear(self, cache: str) -> None:
        """Clear one cache: status, event, file, export or user."""
        if cache not in self.caches:
            raise ValueError(f"unknown cache {cache!r}; expected one of {', '.join(CACHE_NAMES)}")
        self.caches[cache].clear()

    def cache_clear_all(self) -> None:
        for cache in self.caches.values():
            cache.clear()

    def camera_status_generator(self, sql: str, sql_args: Sequence[Any]) -> Iterator[model.CameraStatus]:
        """CameraStatus objects from rows of: lens, sensor, instURL, instName, locationLatitude,
        locationLongitude, locationGPS, locationError, orientationAltitude, orientationAzimuth,
        orientationError, orientationRotation, widthOfField, validFrom, softwareVersion,
        internalID, statusID, cameraID."""
        for rows, connection in self._chunks(sql, sql_args):
            internal_ids = [row[15] for row in rows]
            regions = _load_regions(connection, internal_ids)
            valid_to = _load_valid_to(connection, internal_ids)
            for row in rows:
                yield _status_from_row(row, regions[row[15]], valid_to.get(row[15]))

    def event_generator(
        self, sql: str, sql_args: Sequence[Any], connection: Connection | None = None
    ) -> Iterator[model.Event]:
        """Event objects (with files and metadata) from rows of: camera ID, event ID,
        internal ID, event time, event type, status ID (the status's UUID)."""
        for rows, connection in self._chunks(sql, sql_args, connection):
            internal_ids = [row[2] for row in rows]
            metas = _load_meta(connection, "t_eventmeta", "eventid", internal_ids)
            files = _load_event_files(connection, internal_ids)
            for row in rows:
                yield model.Event.from_trusted(
                    camera_id=row[0],
                    event_time=model.milliseconds_to_utc_datetime(row[3]),
                    event_id=uuid.UUID(hex=row[1]),
                    event_type=_ns(row[4]),
                    status_id=uuid.UUID(hex=row[5]),
                    file_records=files[row[2]],
                    meta=metas[row[2]],
                )

    def file_generator(
        self, sql: str, sql_args: Sequence[Any], connection: Connection | None = None
    ) -> Iterator[model.FileRecord]:
        """FileRecord objects (with metadata) from rows of: internal ID, camera ID, mime type,
        semantic type, file time, file size, file ID, file name, status ID (the status's UUID)
        and, optionally, md5."""
        for rows, connection in self._chunks(sql, sql_args, connection):
            metas = _load_meta(connection, "t_filemeta", "fileid", [row[0] for row in rows])
            for row in rows:
                yield _file_from_row(row, metas[row[0]])

    def export_configuration_generator(
        self, sql: str, sql_args: Sequence[Any]
    ) -> Iterator[model.ExportConfiguration]:
        """ExportConfiguration objects from rows of: internalID, exportConfigID, exportType,
        searchString, targetURL, targetUser, targetPassword, exportName, description, active
        and, optionally, cabundle."""
        for rows, _connection in self._chunks(sql, sql_args):
            for row in rows:
                yield _export_configuration_from_row(row)

    def _chunks(
        self, sql: str, sql_args: Sequence[Any], connection: Connection | None = None
    ) -> Iterator[tuple[list, Connection]]:
        """Rows of ``sql`` in lists of CHUNK_SIZE, each with the connection to load relations on
        (``connection`` when given, so a caller can read several things in one snapshot)."""
        statement, params = to_text(sql, sql_args)
        with contextlib.ExitStack() as stack:
            if connection is None:
                connection = stack.enter_context(self.db.connection())
            result = connection.execute(statement, params)
            try:
                while rows := result.fetchmany(CHUNK_SIZE):
                    yield [tuple(row) for row in rows], connection
            finally:
                result.close()


def _in_chunks(connection: Connection, sql: str, ids: Sequence[int], **params: Any) -> Iterator[Any]:
    """Run ``sql`` (with an expanding ``:ids`` bind) for ``ids`` in slices; yield every row."""
    statement = text(sql).bindparams(bindparam("ids", expanding=True))
    for start in range(0, len(ids), CHUNK_SIZE):
        yield from connection.execute(statement, {"ids": list(ids[start : start + CHUNK_SIZE]), **params})


def _load_meta(connection: Connection, table: str, owner: str, ids: Sequence[int]) -> dict[int, list[model.Meta]]:
    metas: dict[int, list[model.Meta]] = defaultdict(list)
    sql = (
        f"SELECT {owner}, metakey, stringvalue, floatvalue, datevalue FROM {table} "
        f"WHERE {owner} IN :ids ORDER BY {owner}, metaindex"
    )
    for owner_id, key, string_value, float_value, date_value in _in_chunks(connection, sql, ids):
        metas[owner_id].append(meta_from_columns(key, string_value, float_value, date_value))
    return metas


def meta_from_columns(key: str, string_value: str | None, float_value: float | None, date_value: int | None) -> model.Meta:
    """A Meta from a metadata row: exactly one of the three value columns is set."""
    if date_value is not None:
        value: Any = model.milliseconds_to_utc_datetime(date_value)
    elif float_value is not None:
        value = float_value
    else:
        value = string_value if string_value is not None else ""
    return model.Meta.from_trusted(key=_ns(key), value=value)


@functools.lru_cache(maxsize=4096)
def _ns(text: str) -> model.NSString:
    """Parse a stored ``ns:value`` string once; keys and types repeat on almost every row."""
    return model.NSString.from_string(text)


FILE_COLUMNS = (
    "f.internalid, f.cameraid, f.mimetype, f.semantictype, f.filetime, f.filesize, "
    "f.fileid, f.filename, s.statusid, f.md5hex"
)


def _load_event_files(connection: Connection, event_ids: Sequence[int]) -> dict[int, list[model.FileRecord]]:
    sql = (
        f"SELECT l.eventid, {FILE_COLUMNS} FROM t_event_to_file l "
        "JOIN t_file f ON f.internalid = l.fileid JOIN t_camerastatus s ON s.internalid = f.statusid "
        "WHERE l.eventid IN :ids ORDER BY l.eventid, l.sequencenumber"
    )
    rows = list(_in_chunks(connection, sql, event_ids))
    metas = _load_meta(connection, "t_filemeta", "fileid", [row[1] for row in rows])
    files: dict[int, list[model.FileRecord]] = defaultdict(list)
    for row in rows:
        files[row[0]].append(_file_from_row(tuple(row[1:]), metas[row[1]]))
    return files


def _file_from_row(row: tuple, meta: list[model.Meta]) -> model.FileRecord:
    return model.FileRecord.from_trusted(
        camera_id=row[1],
        mime_type=row[2],
        semantic_type=_ns(row[3]),
        status_id=uuid.UUID(hex=row[8]),
        md5=row[9] if len(row) > 9 else None,
        file_id=uuid.UUID(hex=row[6]),
        file_time=model.milliseconds_to_utc_datetime(row[4]),
        file_size=row[5],
        file_name=row[7],
        meta=meta,
    )


def _load_regions(connection: Connection, status_ids: Sequence[int]) -> dict[int, list[list[dict]]]:
    sql = (
        "SELECT camerastatusid, region, x, y FROM t_visibleregions "
        "WHERE camerastatusid IN :ids ORDER BY camerastatusid, region, pointorder"
    )
    polygons: dict[int, dict[int, list[dict]]] = defaultdict(dict)
    for status_id, region, x, y in _in_chunks(connection, sql, status_ids):
        polygons[status_id].setdefault(region, []).append({"x": x, "y": y})
    return defaultdict(list, {key: list(value.values()) for key, value in polygons.items()})


def _load_valid_to(connection: Connection, status_ids: Sequence[int]) -> dict[int, int]:
    """``valid_to`` is derived: the ``valid_from`` of the same camera's next status."""
    sql = (
        "SELECT s.internalid, (SELECT MIN(n.validfrom) FROM t_camerastatus n "
        "WHERE n.cameraid = s.cameraid AND n.validfrom > s.validfrom) "
        "FROM t_camerastatus s WHERE s.internalid IN :ids"
    )
    return {status_id: valid_to for status_id, valid_to in _in_chunks(connection, sql, status_ids) if valid_to is not None}


STATUS_COLUMNS = (
    "s.lens, s.sensor, s.insturl, s.instname, s.locationlatitude, s.locationlongitude, "
    "s.locationgps, s.locationerror, s.orientationaltitude, s.orientationazimuth, "
    "s.orientationerror, s.orientationrotation, s.widthoffield, s.validfrom, "
    "s.softwareversion, s.internalid, s.statusid, s.cameraid"
)


def _status_from_row(row: tuple, regions: list[list[dict]], valid_to: int | None) -> model.CameraStatus:
    status = model.CameraStatus(
        lens=row[0],
        sensor=row[1],
        inst_url=row[2],
        inst_name=row[3],
        location=model.Location(latitude=row[4], longitude=row[5], gps=bool(row[6]), error=row[7]),
        orientation=model.Orientation(
            altitude=row[8], azimuth=row[9], error=row[10], rotation=row[11], width_of_field=row[12]
        ),
        camera_id=row[17],
        status_id=model.parse_uuid(row[16], "status_id"),
    )
    status.valid_from = model.milliseconds_to_utc_datetime(row[13])
    status.valid_to = model.milliseconds_to_utc_datetime(valid_to) if valid_to is not None else None
    status.software_version = row[14]
    status.regions = regions
    return status


EXPORT_COLUMNS = (
    "c.internalid, c.exportconfigid, c.exporttype, c.searchstring, c.targeturl, c.targetuser, "
    "c.targetpassword, c.exportname, c.description, c.active, c.cabundle"
)


def _export_configuration_from_row(row: tuple) -> model.ExportConfiguration:
    search_dict = json.loads(row[3])
    search_class = model.EventSearch if row[2] == "event" else model.FileRecordSearch
    return model.ExportConfiguration(
        target_url=row[4],
        user_id=row[5],
        password=row[6],
        search=search_class.from_dict(search_dict),
        name=row[7],
        description=row[8],
        enabled=bool(row[9]),
        config_id=model.parse_uuid(row[1], "config_id"),
        ca_bundle=row[10] if len(row) > 10 else None,
    )
