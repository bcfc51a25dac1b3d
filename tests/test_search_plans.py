"""The benchmark's searches (benchmarks/search.py) use the intended indexes: EXPLAIN checks of
the statements the fast read path runs, on SQLite and PostgreSQL, over a table with enough rows
(and fresh statistics) for the planner to choose as it would at scale. On PostgreSQL sequential
scans are disabled so that the check is about which index can serve the query."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import insert, text

import meteorpi_model as model
from meteorpi_fdb import schema
from meteorpi_fdb._wire import search_statements, sqlite_functions
from meteorpi_fdb.sql_builder import to_text

#: Query plans are checked on the benchmark's backends (Firebird's planner is not benchmarked).
BACKENDS = ("sqlite", "postgresql")

DAY = 86_400_000
CAMERAS = [f"cam{index:09d}" for index in range(8)]
_dt = model.milliseconds_to_utc_datetime

# (case of benchmarks/search.py, search, cursor, index names each statement's plan must name)
CASES = [
    ("events: one night, one camera",
     model.EventSearch(camera_ids=[CAMERAS[0]], after=_dt(40 * DAY), before=_dt(40 * DAY + 50_400_000), limit=100),
     None, ["ix_event_cameraid_eventtime"]),
    ("events: a month, all cameras, meta duration>=2.5",
     model.EventSearch(after=_dt(30 * DAY), before=_dt(60 * DAY), limit=100,
                       meta_constraints=[model.MetaConstraint("greater", model.NSString("duration"), 2.5)]),
     None, ["ix_eventmeta_key_float_event"]),
    ("events: 02:00-04:00 any night, one camera",
     model.EventSearch(camera_ids=[CAMERAS[1]], after_offset=50_400, before_offset=57_600, limit=100),
     None, ["ix_event_cameraid_eventoffset"]),
    ("events: deep page, by cursor",
     model.EventSearch(limit=100), f"{100 * DAY}.5000", ["ix_event_eventtime_internalid"]),
    ("files: one night, one camera, meteor images",
     model.FileRecordSearch(camera_ids=[CAMERAS[2]], after=_dt(40 * DAY), before=_dt(40 * DAY + 50_400_000),
                            semantic_type=model.NSString("meteor_image"), limit=100),
     None, ["ix_file_"]),
]


@pytest.fixture
def filled(db, backend):
    """8 cameras, 20,000 events over 200 days with a duration each, 5,000 files; analysed."""
    rng = random.Random(42)
    with db.engine.begin() as connection:  # plans only: no need to build the events' stored JSON
        connection.execute(insert(schema.t_camerastatus), [dict(
            internalid=index + 1, statusid=f"{index:032x}", cameraid=camera, validfrom=0, softwareversion=1,
            lens="l", sensor="s", insturl="u", instname="n", locationlatitude=40 + index,
            locationlongitude=index, locationgps=True, locationerror=0, orientationaltitude=90,
            orientationazimuth=0, orientationerror=0, orientationrotation=0, widthoffield=90)
            for index, camera in enumerate(CAMERAS)])
        events, metas, files = [], [], []
        for index in range(1, 20_001):
            camera = rng.randrange(len(CAMERAS))
            time = rng.randrange(200 * DAY)
            events.append(dict(internalid=index, eventid=f"{index:032x}", cameraid=CAMERAS[camera],
                               eventtime=time, eventoffset=(time // 1000) % 86_400, eventtype="meteorpi:meteor",
                               statusid=camera + 1))
            metas.append(dict(internalid=index, eventid=index, metaindex=0, metakey="meteorpi:duration",
                              floatvalue=rng.uniform(0, 5)))
            if index % 4 == 0:
                files.append(dict(internalid=index, fileid=f"{index:032x}", cameraid=CAMERAS[camera],
                                  mimetype="image/png", semantictype=rng.choice(["meteorpi:meteor_image", "meteorpi:sky"]),
                                  filetime=time, fileoffset=(time // 1000) % 86_400, filesize=1, statusid=camera + 1))
        connection.execute(insert(schema.t_event), events)
        connection.execute(insert(schema.t_eventmeta), metas)
        connection.execute(insert(schema.t_file), files)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE"))
    return db


@pytest.mark.parametrize("name, search, cursor, indexes", CASES, ids=[case[0] for case in CASES])
def test_benchmark_searches_use_the_intended_indexes(filled, backend, name, search, cursor, indexes) -> None:
    plans = []
    with filled.engine.connect() as connection:
        if backend == "postgresql":
            connection.execute(text("SET enable_seqscan = off"))
        else:
            sqlite_functions(connection)
        prefix = "EXPLAIN QUERY PLAN " if backend == "sqlite" else "EXPLAIN "
        for sql, args in search_statements(search, cursor, backend):
            plans.append("\n".join(str(row[-1]) for row in connection.execute(*to_text(prefix + sql, args))))
    plan = "\n".join(plans)
    for index in indexes:
        assert index in plan, f"{name}: {index} not in the plan:\n{plan}"
    if backend == "sqlite":
        # The count reads an index, never the table (the whole table's count scans a whole index).
        assert "INDEX" in plans[0] and "SCAN e\n" not in plans[0] + "\n", plans[0]
        assert "SCAN e\n" not in plan and "SCAN f\n" not in plan and not plan.endswith(("SCAN e", "SCAN f"))
