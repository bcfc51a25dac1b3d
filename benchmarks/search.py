"""Search latency: ``search_events`` / ``search_files`` beside the same query written by hand.

The hand-written floor runs the same work a caller needs for one page, with plain SQL and no
model objects: the count, the page of rows, and the page's files and metadata. Each case is
measured twice: through the Python API (model objects) and through the read path the HTTP API
uses (``search_events_wire``: the page's JSON bytes, without model objects). The deep page is
also read by cursor (the position of the row before it), as HTTP clients page.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import bindparam, text

import meteorpi_model as model
from benchmarks._common import Result, summarise, time_calls
from benchmarks.datagen import DAY_MS, Generated

PAGE = 100
NIGHT_START_OFFSET_MS = 6 * 3600 * 1000  # 18:00 UTC


@dataclass
class Case:
    name: str
    entity: str  # "event" or "file"
    make: Callable[[random.Random, Generated], tuple[object, str, dict]]  # -> (search, where, params)
    #: Why its cost grows with the table (its result, or its count, is a fixed fraction of the
    #: table), or "" for a case bounded by a camera and a night, which must not grow.
    grows: str = ""


def _night(rng: random.Random, data: Generated) -> tuple[int, int]:
    day = rng.randrange(int(data.scale.years * 365) - 1)
    start = data.start_ms + day * DAY_MS + 12 * 3600 * 1000 + NIGHT_START_OFFSET_MS
    return start, start + 14 * 3600 * 1000


def _one_night_one_camera(rng, data):
    camera = rng.choice(data.cameras).camera_id
    after, before = _night(rng, data)
    search = model.EventSearch(camera_ids=[camera], after=_dt(after), before=_dt(before), limit=PAGE)
    return search, "e.cameraid = :camera AND e.eventtime > :after AND e.eventtime < :before", {
        "camera": camera, "after": after, "before": before}


def _month_with_meta(rng, data):
    after = data.start_ms + rng.randrange(int(data.scale.years * 365) - 31) * DAY_MS
    before = after + 30 * DAY_MS
    search = model.EventSearch(
        after=_dt(after), before=_dt(before), limit=PAGE,
        meta_constraints=[model.MetaConstraint("greater", model.NSString("duration"), 2.5)],
    )
    where = ("e.eventtime > :after AND e.eventtime < :before AND e.internalid IN "
             "(SELECT eventid FROM t_eventmeta WHERE metakey = 'meteorpi:duration' AND floatvalue >= 2.5)")
    return search, where, {"after": after, "before": before}


def _lat_long_box(rng, data):
    lat, long = rng.uniform(40, 55), rng.uniform(-5, 25)
    search = model.EventSearch(lat_min=lat, lat_max=lat + 5, long_min=long, long_max=long + 5, limit=PAGE)
    where = ("s.locationlatitude >= :lat_min AND s.locationlatitude <= :lat_max AND "
             "s.locationlongitude >= :long_min AND s.locationlongitude <= :long_max")
    return search, where, {"lat_min": lat, "lat_max": lat + 5, "long_min": long, "long_max": long + 5}


def _time_of_night(rng, data):
    after_offset = 14 * 3600 + rng.randrange(3600)  # between 02:00 and 03:00 UTC
    before_offset = after_offset + 3600
    camera = rng.choice(data.cameras).camera_id
    search = model.EventSearch(camera_ids=[camera], after_offset=after_offset, before_offset=before_offset, limit=PAGE)
    where = "e.cameraid = :camera AND e.eventoffset > :after_offset AND e.eventoffset < :before_offset"
    return search, where, {"camera": camera, "after_offset": after_offset, "before_offset": before_offset}


def _deep_page(rng, data):
    skip = data.events // 2 + rng.randrange(PAGE)
    return model.EventSearch(limit=PAGE, skip=skip), "", {"skip": skip}


def _deep_page_by_cursor(rng, data):
    skip = data.events // 2 + rng.randrange(PAGE)
    where = "(e.eventtime < :time OR (e.eventtime = :time AND e.internalid < :internal))"
    return model.EventSearch(limit=PAGE), where, {"skip": skip, "cursor_at": skip}


def _files_one_night(rng, data):
    camera = rng.choice(data.cameras).camera_id
    after, before = _night(rng, data)
    search = model.FileRecordSearch(
        camera_ids=[camera], after=_dt(after), before=_dt(before),
        semantic_type=model.NSString("meteor_image"), limit=PAGE,
    )
    where = ("f.cameraid = :camera AND f.filetime > :after AND f.filetime < :before "
             "AND f.semantictype = 'meteorpi:meteor_image'")
    return search, where, {"camera": camera, "after": after, "before": before}


CASES = [
    Case("events: one night, one camera", "event", _one_night_one_camera),
    Case("events: a month, all cameras, meta duration>=2.5", "event", _month_with_meta,
         "counts a month of every camera: a fixed share of the table"),
    Case("events: 5x5 degree lat/long box", "event", _lat_long_box,
         "counts every event of the cameras in the box: a fixed share of the table"),
    Case("events: 02:00-04:00 any night, one camera", "event", _time_of_night,
         "counts two hours of every night of one camera: a fixed share of its rows"),
    Case("events: deep page (skip = half the table)", "event", _deep_page, "skips half the table"),
    Case("events: deep page by cursor (half the table)", "event", _deep_page_by_cursor,
         "its page is bounded; its count is of the whole table"),
    Case("files: one night, one camera, meteor images", "file", _files_one_night),
]


def _dt(ms: int):
    return model.milliseconds_to_utc_datetime(ms)


def hand_written_page(connection, entity: str, where: str, params: dict) -> tuple[int, list]:
    """The floor: count, page, related files and metadata, as raw rows."""
    alias, table, time_column = ("e", "t_event", "eventtime") if entity == "event" else ("f", "t_file", "filetime")
    condition = f" AND {where}" if where else ""
    base = f"FROM {table} {alias} JOIN t_camerastatus s ON {alias}.statusid = s.internalid WHERE 1=1{condition}"
    keyset = "internal" in params  # the page after a position; the count is of everything
    skip = 0 if keyset else params.get("skip", 0)
    counted = base.replace(condition, "") if keyset else base
    count = connection.execute(text(f"SELECT COUNT(*) {counted}"), params if not keyset else {}).scalar()
    rows = connection.execute(
        text(f"SELECT {alias}.* , s.statusid AS status_uuid {base} "
             f"ORDER BY {alias}.{time_column} DESC, {alias}.internalid DESC LIMIT {PAGE} OFFSET {skip}"),
        params,
    ).all()
    ids = [row.internalid for row in rows]
    related = []
    if ids and entity == "event":
        files = connection.execute(text(
            "SELECT l.eventid, f.*, s.statusid FROM t_event_to_file l JOIN t_file f ON f.internalid = l.fileid "
            "JOIN t_camerastatus s ON s.internalid = f.statusid WHERE l.eventid IN :ids"
        ).bindparams(bindparam("ids", expanding=True)), {"ids": ids}).all()
        related += files
        related += _metas(connection, "t_eventmeta", "eventid", ids)
        related += _metas(connection, "t_filemeta", "fileid", [row.internalid for row in files])
    elif ids:
        related += _metas(connection, "t_filemeta", "fileid", ids)
    return count, rows + related


def _metas(connection, table: str, owner: str, ids: list[int]) -> list:
    if not ids:
        return []
    return connection.execute(
        text(f"SELECT * FROM {table} WHERE {owner} IN :ids ORDER BY {owner}, metaindex").bindparams(
            bindparam("ids", expanding=True)), {"ids": ids}).all()


def _with_cursor(db, search, params: dict) -> tuple[object, str | None, dict]:
    """For the cursor case: the position of the row before the page (found once, untimed)."""
    if "cursor_at" not in params:
        return search, None, params
    with db.engine.connect() as connection:
        time_ms, internal = connection.execute(text(
            "SELECT eventtime, internalid FROM t_event ORDER BY eventtime DESC, internalid DESC "
            f"LIMIT 1 OFFSET {params['cursor_at'] - 1}")).one()
    return search, f"{time_ms}.{internal}", {"time": time_ms, "internal": internal}


def warm(db) -> None:
    """Read the database once before timing, as a server's page cache holds it in steady state.

    Otherwise, at full scale (a file of several GB written in random time order), whichever
    call of an interleaved trio first touches a night's rows waits for the disk and the calls
    after it do not; the small scale's file is always cached. SQLite: the file read through;
    PostgreSQL: ``pg_prewarm`` reads every table and index of the database into the OS cache.
    """
    if db.engine.dialect.name == "sqlite":
        with open(db.engine.url.database, "rb") as database_file:
            while database_file.read(1 << 20):
                pass
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("CREATE EXTENSION IF NOT EXISTS pg_prewarm"))
        connection.execute(text(
            "SELECT pg_prewarm(c.oid, 'read') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'i')")).all()


def run(db, data: Generated, backend: str, repeats: int) -> list[Result]:
    """p50/p99 of every case, ours (model objects, then the wire path) beside the hand-written
    floor, same parameters for all, measured interleaved call by call, the database warm."""
    warm(db)
    results = []
    for case in CASES:
        rng = random.Random(7)
        inputs = []
        for _ in range(repeats):
            search, where, params = case.make(rng, data)
            search, cursor, params = _with_cursor(db, search, params)
            inputs.append((search, cursor, where, params))
        objects = db.search_events if case.entity == "event" else db.search_files
        wire = db.search_events_wire if case.entity == "event" else db.search_files_wire
        ours, ours_wire, reference = [], [], []
        for search, cursor, where, params in inputs:
            if cursor is None:
                ours += time_calls(lambda: objects(search), 1)
            ours_wire += time_calls(lambda: wire(search, cursor), 1)

            def floor():
                with db.engine.connect() as connection:
                    hand_written_page(connection, case.entity, where, params)

            reference += time_calls(floor, 1)
        floor_summary = summarise(reference)
        for label, samples in (("", ours), (", wire", ours_wire)):
            if not samples:
                continue
            summary = summarise(samples)
            for quantile in ("p50", "p99"):
                results.append(Result("search", f"{case.name}{label} [{quantile}]", backend,
                                      summary[quantile], floor_summary[quantile], "ms"))
    return results
