"""A fast, deterministic generator of realistic MeteorPi data at scale.

It writes straight into the schema's tables, not one ``register_event`` per row: at full scale
(1,000,000 events from 100 cameras over 3 years, 3 files each, 5 metadata values per event and
per file) that is about 27 million rows. File rows get no content on disk; search benchmarks do
not read it.

Loading is a bulk load (see :class:`_Loader`): the secondary indexes (and on PostgreSQL the
foreign keys) of the tables it fills are dropped first and rebuilt once at the end, which sorts
each index once instead of updating it row by row; SQLite writes without a journal or fsync
during the load and gets its durable settings back before its file is checked
(``foreign_key_check`` and ``quick_check``); PostgreSQL gets its rows by ``COPY`` and a
``VACUUM ANALYZE`` at the end. The triggers that keep each event's stored wire JSON
(``meteorpi_fdb._event_wire``) are dropped with the indexes, and the JSON is built once after
the load, as the write path would have kept it. What the load dropped is recorded in a table
(:data:`DEFERRED_TABLE`) until it is rebuilt, so an interrupted load is recognised
(:func:`is_complete`) and never taken for generated data.
"""

from __future__ import annotations

import datetime
import random
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from sqlalchemy import Engine, func, inspect, select, text

import meteorpi_model as model
from meteorpi_fdb import _event_wire, schema

START = datetime.datetime(2023, 1, 1, tzinfo=datetime.timezone.utc)
DAY_MS = 86_400_000
STATUS_PERIOD_DAYS = 180
FILES_PER_EVENT = 3
METAS_PER_ENTITY = 5
BATCH_EVENTS = 5_000
#: Holds the statements that rebuild what a load dropped, from the drop until the rebuild.
DEFERRED_TABLE = "datagen_deferred"
#: The tables a load fills in bulk: their secondary indexes are built after the rows.
BULK_TABLES = ("t_event", "t_eventmeta", "t_file", "t_filemeta", "t_event_to_file")
STATUS_COLUMNS = ("internalid", "statusid", "cameraid", "validfrom", "softwareversion", "lens", "sensor",
                  "insturl", "instname", "locationlatitude", "locationlongitude", "locationgps",
                  "locationerror", "orientationaltitude", "orientationazimuth", "orientationerror",
                  "orientationrotation", "widthoffield")
REGION_COLUMNS = ("camerastatusid", "region", "pointorder", "x", "y")
EVENT_COLUMNS = ("internalid", "eventid", "cameraid", "eventtime", "eventoffset", "eventtype", "statusid")
FILE_COLUMNS = ("internalid", "fileid", "cameraid", "mimetype", "semantictype", "filetime", "fileoffset",
                "filesize", "filename", "md5hex", "statusid")
LINK_COLUMNS = ("eventid", "fileid", "sequencenumber")
EVENT_META_COLUMNS = ("eventid", "metaindex", "metakey", "stringvalue", "floatvalue", "datevalue")
FILE_META_COLUMNS = ("fileid", "metaindex", "metakey", "stringvalue", "floatvalue", "datevalue")
FILE_KINDS = (("image/png", "meteorpi:meteor_image"), ("image/png", "meteorpi:preview"),
              ("video/mp4", "meteorpi:video"))


@dataclass(frozen=True)
class Scale:
    name: str
    cameras: int
    events: int
    years: float


SCALES = {
    "small": Scale("small", cameras=10, events=20_000, years=1.0),
    # The first quarter of "full" (same cameras, same first 250,000 events): the scale between.
    "medium": Scale("medium", cameras=100, events=250_000, years=3.0),
    "full": Scale("full", cameras=100, events=1_000_000, years=3.0),
}


@dataclass
class Camera:
    camera_id: str
    latitude: float
    longitude: float
    statuses: list[tuple[int, int]] = field(default_factory=list)  # (valid_from ms, internalid)

    def status_at(self, time_ms: int) -> int:
        internal_id = self.statuses[0][1]
        for valid_from, candidate in self.statuses:
            if valid_from <= time_ms:
                internal_id = candidate
        return internal_id


@dataclass
class Generated:
    """What the generator wrote, for benchmarks to build queries from."""

    scale: Scale
    cameras: list[Camera]
    start_ms: int
    end_ms: int
    events: int
    files: int


def generate(engine: Engine, scale: Scale, seed: int = 42, progress: Callable[[int], None] | None = None) -> Generated:
    """Fill an empty, migrated database with ``scale``'s data; return a summary."""
    rng = random.Random(seed)
    start_ms = model.utc_datetime_to_milliseconds(START)
    days = int(scale.years * 365)
    end_ms = start_ms + days * DAY_MS
    loader = FAST_LOADERS[engine.dialect.name](engine)
    try:
        loader.defer_indexes()
        cameras = _insert_cameras(loader, rng, scale, start_ms, days)
        next_ids = {"event": 1, "file": 1}
        written = 0
        while written < scale.events:
            batch = min(BATCH_EVENTS, scale.events - written)
            _insert_event_batch(loader, rng, cameras, start_ms, days, batch, next_ids)
            written += batch
            if progress:
                progress(batch)
        loader.finish()
    finally:
        loader.close()
    _reset_sequences(engine)
    with engine.begin() as connection:  # every event's stored wire JSON, as writes keep it
        _event_wire.mark_all_stale(connection)
        _event_wire.refresh_stale(connection)
    return Generated(scale, cameras, start_ms, end_ms, written, written * FILES_PER_EVENT)


def is_complete(engine: Engine, scale: Scale) -> bool:
    """True when the database holds a finished load of ``scale`` (all its events, and nothing
    left to rebuild from an interrupted load)."""
    if inspect(engine).has_table(DEFERRED_TABLE):
        return False
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(schema.t_event)).scalar() == scale.events


class _Loader:
    """One driver connection that bulk-loads rows: defer indexes, write batches, rebuild."""

    marker = "?"  # the driver's parameter marker

    def __init__(self, engine: Engine) -> None:
        self.pooled = engine.raw_connection()
        self.connection: Any = self.pooled.driver_connection

    def defer_indexes(self) -> None:
        """Record how to rebuild the bulk tables' secondary indexes, then drop them."""
        deferred = self._deferrable()
        cursor = self.connection.cursor()
        cursor.execute(f"CREATE TABLE {DEFERRED_TABLE} (position INTEGER PRIMARY KEY, rebuild TEXT NOT NULL)")
        for position, (_drop, rebuild) in enumerate(deferred):
            cursor.execute(f"INSERT INTO {DEFERRED_TABLE} (position, rebuild) VALUES ({self.marker}, {self.marker})",
                           (position, rebuild))
        for drop, _rebuild in deferred:
            cursor.execute(drop)
        self.connection.commit()

    def rebuild_indexes(self) -> None:
        """Run the recorded rebuilds, then forget them (one transaction)."""
        cursor = self.connection.cursor()
        cursor.execute(f"SELECT rebuild FROM {DEFERRED_TABLE} ORDER BY position")
        for (statement,) in cursor.fetchall():
            cursor.execute(statement)
        cursor.execute(f"DROP TABLE {DEFERRED_TABLE}")
        self.connection.commit()

    def commit(self) -> None:
        self.connection.commit()

    def close(self) -> None:
        """Discard the connection instead of pooling it: its load-only settings stay with it."""
        self.pooled.invalidate()

    def _deferrable(self) -> list[tuple[str, str]]:
        raise NotImplementedError

    def write(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        raise NotImplementedError


class _SQLiteLoader(_Loader):
    """executemany on one connection with no journal, no fsync and foreign keys unchecked until
    the end, when the connection's durable settings come back and the file is checked."""

    LOAD_PRAGMAS = ("journal_mode=OFF", "synchronous=OFF", "foreign_keys=OFF", "cache_size=-524288")

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        cursor = self.connection.cursor()
        self.restore = [f"{name}={cursor.execute(f'PRAGMA {name}').fetchone()[0]}"
                        for name in ("journal_mode", "synchronous", "foreign_keys", "cache_size")]
        for pragma in self.LOAD_PRAGMAS:
            cursor.execute(f"PRAGMA {pragma}")

    def _deferrable(self) -> list[tuple[str, str]]:
        names = ", ".join(f"'{table}'" for table in BULK_TABLES)
        rows = self.connection.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ({names}) "
            "AND sql IS NOT NULL ORDER BY tbl_name, name").fetchall()  # sql is NULL for constraints' own
        triggers = self.connection.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ({names}) "
            "ORDER BY tbl_name, name").fetchall()
        # Triggers mark the events' stored JSON stale row by row: the load builds it once instead.
        return ([(f'DROP INDEX "{name}"', sql) for name, sql in rows] +
                [(f'DROP TRIGGER "{name}"', sql) for name, sql in triggers])

    def write(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        if not self.connection.in_transaction:  # the engine turns pysqlite's own BEGIN off
            self.connection.execute("BEGIN")
        marks = ", ".join("?" * len(columns))
        self.connection.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)

    def finish(self) -> None:
        self.commit()
        self.rebuild_indexes()
        cursor = self.connection.cursor()
        for pragma in self.restore:
            cursor.execute(f"PRAGMA {pragma}")
        violations = cursor.execute("PRAGMA foreign_key_check").fetchmany(5)
        if violations:
            raise RuntimeError(f"generated rows break foreign keys: {violations}")
        problems = [row[0] for row in cursor.execute("PRAGMA quick_check").fetchall()]
        if problems != ["ok"]:
            raise RuntimeError(f"the generated database fails quick_check: {problems[:5]}")
        cursor.execute("ANALYZE")
        self.commit()


class _PostgreSQLLoader(_Loader):
    """COPY on one connection without waiting for WAL flushes; indexes and foreign keys are
    rebuilt (the keys validated) at the end, then VACUUM ANALYZE sets the statistics and the
    visibility map that index-only scans need."""

    marker = "%s"

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        cursor = self.connection.cursor()
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SET maintenance_work_mem = '512MB'")
        self.connection.commit()

    def _deferrable(self) -> list[tuple[str, str]]:
        cursor = self.connection.cursor()
        tables = list(BULK_TABLES)
        cursor.execute(
            "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
            "WHERE c.contype = 'f' AND c.conrelid::regclass::text = ANY(%s) ORDER BY 1, 2", (tables,))
        keys = [(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"',
                 f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
                for table, name, definition in cursor.fetchall()]
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = ANY(%s) AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u', 'x')) ORDER BY tablename, indexname",
            (tables,))
        indexes = [(f'DROP INDEX "{name}"', definition) for name, definition in cursor.fetchall()]
        cursor.execute(
            "SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger "
            "WHERE NOT tgisinternal AND tgrelid::regclass::text = ANY(%s) ORDER BY 1, 2", (tables,))
        triggers = [(f'DROP TRIGGER "{name}" ON {table}', definition) for table, name, definition in cursor.fetchall()]
        # Rebuilt in this order: indexes first, then the keys (validated with the indexes there),
        # then the triggers that mark events' stored JSON stale (the load builds it once instead).
        return indexes + keys + triggers

    def write(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        with self.connection.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def finish(self) -> None:
        self.commit()
        self.rebuild_indexes()
        self.connection.autocommit = True
        self.connection.execute("VACUUM ANALYZE")
        self.connection.autocommit = False


#: The backends the generator loads, by SQLAlchemy dialect name.
FAST_LOADERS: dict[str, type[_Loader]] = {"sqlite": _SQLiteLoader, "postgresql": _PostgreSQLLoader}


def _insert_cameras(loader: _Loader, rng: random.Random, scale: Scale, start_ms: int, days: int) -> list[Camera]:
    cameras = []
    status_rows, region_rows = [], []
    internal_id = 1
    for index in range(scale.cameras):
        camera = Camera(f"{0xB0000000 + index:012x}", rng.uniform(35.0, 60.0), rng.uniform(-10.0, 30.0))
        for period in range(0, days, STATUS_PERIOD_DAYS):
            valid_from = start_ms + period * DAY_MS - (DAY_MS if period == 0 else 0)
            camera.statuses.append((valid_from, internal_id))
            status_rows.append(_status_row(rng, camera, internal_id, valid_from))
            for order, (x, y) in enumerate([(0, 0), (1919, 0), (1919, 1079), (0, 1079)]):
                region_rows.append((internal_id, 0, order, x, y))
            internal_id += 1
        cameras.append(camera)
    loader.write("t_camerastatus", STATUS_COLUMNS, status_rows)
    loader.write("t_visibleregions", REGION_COLUMNS, region_rows)
    loader.commit()
    return cameras


def _status_row(rng: random.Random, camera: Camera, internal_id: int, valid_from: int) -> tuple:
    """One t_camerastatus row in STATUS_COLUMNS' order (random draws in their historical order)."""
    status_id = uuid.UUID(int=rng.getrandbits(128)).hex
    altitude = 60.0 + rng.uniform(-5, 5)
    azimuth = rng.uniform(0, 360)
    return (internal_id, status_id, camera.camera_id, valid_from, 2, "Computar 4mm f/1.2", "Sony IMX291",
            "https://meteorpi.example.org/site", f"Site {camera.camera_id[-4:]}", camera.latitude,
            camera.longitude, True, 5.0, altitude, azimuth, 0.5, 0.0, 90.0)


def _night_time_ms(rng: random.Random, start_ms: int, days: int) -> int:
    """A time between 19:00 and 05:00 UTC on a random night."""
    day = rng.randrange(days)
    seconds_after_19h = rng.randrange(10 * 3600)
    return start_ms + day * DAY_MS + (19 * 3600 + seconds_after_19h) * 1000 + rng.randrange(1000)


def _offset_seconds(time_ms: int) -> int:
    return model.get_day_and_offset(model.milliseconds_to_utc_datetime(time_ms))["seconds"]


def _insert_event_batch(loader: _Loader, rng, cameras, start_ms, days, count, next_ids) -> None:
    events, event_metas, files, file_metas, links = [], [], [], [], []
    for _ in range(count):
        camera = rng.choice(cameras)
        time_ms = _night_time_ms(rng, start_ms, days)
        offset = _offset_seconds(time_ms)
        status = camera.status_at(time_ms)
        event_id = next_ids["event"]
        next_ids["event"] += 1
        events.append((event_id, uuid.UUID(int=rng.getrandbits(128)).hex, camera.camera_id, time_ms, offset,
                       "meteorpi:meteor", status))
        event_metas.extend(_metas(event_id, _event_meta_values(rng, time_ms)))
        for sequence, (mime, semantic) in enumerate(FILE_KINDS):
            file_id = next_ids["file"]
            next_ids["file"] += 1
            file_uuid = uuid.UUID(int=rng.getrandbits(128)).hex
            md5 = f"{rng.getrandbits(128):032x}"
            files.append((file_id, file_uuid, camera.camera_id, mime, semantic, time_ms + sequence, offset, 50_000,
                          f"{semantic.split(':')[1]}.{mime.split('/')[1]}", md5, status))
            file_metas.extend(_metas(file_id, _file_meta_values(rng, time_ms)))
            links.append((event_id, file_id, sequence))
    loader.write("t_event", EVENT_COLUMNS, events)
    loader.write("t_eventmeta", EVENT_META_COLUMNS, event_metas)
    loader.write("t_file", FILE_COLUMNS, files)
    loader.write("t_filemeta", FILE_META_COLUMNS, file_metas)
    loader.write("t_event_to_file", LINK_COLUMNS, links)
    loader.commit()


def _event_meta_values(rng: random.Random, time_ms: int) -> list[tuple[str, object]]:
    return [
        ("meteorpi:duration", round(rng.uniform(0.1, 3.0), 3)),
        ("meteorpi:peak_brightness", round(rng.uniform(0.5, 255.0), 1)),
        ("meteorpi:path_length", round(rng.uniform(5, 900), 1)),
        ("meteorpi:classification", rng.choice(["meteor", "meteor", "plane", "satellite"])),
        ("meteorpi:detected_at", time_ms + 2500),
    ]


def _file_meta_values(rng: random.Random, time_ms: int) -> list[tuple[str, object]]:
    return [
        ("meteorpi:exposure", round(rng.uniform(0.01, 0.1), 3)),
        ("meteorpi:gain", rng.randrange(1, 30)),
        ("meteorpi:stacked_frames", rng.randrange(1, 100)),
        ("meteorpi:sky_clarity", round(rng.uniform(0, 100), 1)),
        ("meteorpi:processed_at", time_ms + 60_000),
    ]


def _metas(owner_id: int, values: list[tuple[str, object]]) -> Iterable[tuple]:
    """Metadata rows in *_META_COLUMNS' order: (owner, index, key, string, float, date)."""
    for index, (key, value) in enumerate(values):
        if key.endswith("_at"):
            yield owner_id, index, key, None, None, value
        elif isinstance(value, str):
            yield owner_id, index, key, value, None, None
        else:
            yield owner_id, index, key, None, float(value), None
def _reset_sequences(engine: Engine) -> None:
    """Explicit ids bypass PostgreSQL's sequences: move each past the highest id written."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as connection:
        for table in schema.ALL_TABLES:
            if "internalid" in table.c:
                highest = connection.execute(select(func.max(table.c.internalid))).scalar() or 0
                connection.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'internalid'), :value, true)"),
                    {"value": max(highest, 1)},
                )


def describe(engine: Engine, scale: Scale) -> Generated:
    """Rebuild the summary of data generated earlier (cameras, time span, counts) from the database."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(schema.t_camerastatus.c.cameraid, schema.t_camerastatus.c.validfrom,
                   schema.t_camerastatus.c.internalid, schema.t_camerastatus.c.locationlatitude,
                   schema.t_camerastatus.c.locationlongitude).order_by(
                schema.t_camerastatus.c.cameraid, schema.t_camerastatus.c.validfrom)
        ).all()
        events = connection.execute(select(func.count()).select_from(schema.t_event)).scalar()
        files = connection.execute(select(func.count()).select_from(schema.t_file)).scalar()
    cameras: dict[str, Camera] = {}
    for camera_id, valid_from, internal_id, latitude, longitude in rows:
        camera = cameras.setdefault(camera_id, Camera(camera_id, latitude, longitude))
        camera.statuses.append((valid_from, internal_id))
    start_ms = model.utc_datetime_to_milliseconds(START)
    return Generated(scale, list(cameras.values()), start_ms, start_ms + int(scale.years * 365) * DAY_MS, events, files)
