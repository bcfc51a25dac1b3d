"""The benchmarks' data generator: deterministic rows, whatever the loading path.

The benchmarks compare scales ('medium' is the first quarter of 'full'), so the rows a seed
produces must never change. The digest below was taken from the generator's first version
(batched multi-row inserts); the fast loading path (deferred indexes, SQLite pragmas,
PostgreSQL COPY) must write exactly the same rows, on every backend it supports.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import inspect, select, text

import meteorpi_model as model

from benchmarks import datagen
from meteorpi_fdb import schema

TINY = datagen.Scale("tiny", cameras=4, events=1_203, years=1.0)
#: Rows of TINY with seed 42, taken from the generator before the fast loading path.
EXPECTED_DIGEST = "30a0801fe8ef2d4b2336fbc581c11fc08624710783db2626fdf92042806f4aa5"
TABLES = (schema.t_camerastatus, schema.t_visibleregions, schema.t_event, schema.t_eventmeta,
          schema.t_file, schema.t_filemeta, schema.t_event_to_file)


def rows_digest(engine) -> str:
    """SHA-256 of every generated row, tables in a fixed order, rows by primary key."""
    digest = hashlib.sha256()
    with engine.connect() as connection:
        for table in TABLES:
            key = list(table.primary_key.columns)
            for row in connection.execute(select(table).order_by(*key)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


#: The backends the benchmarks generate data on.
BACKENDS = tuple(datagen.FAST_LOADERS)


def index_names(engine) -> dict[str, set[str]]:
    """The bulk-loaded tables' secondary indexes, by table."""
    inspector = inspect(engine)
    return {table: {index["name"] for index in inspector.get_indexes(table)} for table in datagen.BULK_TABLES}


def trigger_names(engine) -> set[str]:
    sql = ("SELECT name FROM sqlite_master WHERE type = 'trigger'" if engine.dialect.name == "sqlite"
           else "SELECT tgrelid::regclass::text || '.' || tgname FROM pg_trigger WHERE NOT tgisinternal")
    with engine.connect() as connection:
        return set(connection.execute(text(sql)).scalars())


def test_generates_the_same_rows_as_ever_and_rebuilds_every_index(db) -> None:
    before, triggers = index_names(db.engine), trigger_names(db.engine)
    summary = datagen.generate(db.engine, TINY)
    assert (summary.events, summary.files) == (TINY.events, TINY.events * datagen.FILES_PER_EVENT)
    assert rows_digest(db.engine) == EXPECTED_DIGEST
    assert index_names(db.engine) == before
    assert all(before.values())
    assert trigger_names(db.engine) == triggers and len(triggers) > 5
    assert datagen.is_complete(db.engine, TINY)
    assert datagen.describe(db.engine, TINY).events == TINY.events
    # Every event's stored JSON is there and is what the objects render (see test_event_wire).
    events = db.search_events(model.EventSearch(limit=0))["events"]
    with db.engine.connect() as connection:
        stored = dict(connection.execute(select(schema.t_event.c.eventid, schema.t_eventwire.c.body).join(
            schema.t_eventwire, schema.t_eventwire.c.eventid == schema.t_event.c.internalid)).all())
    assert len(stored) == TINY.events
    assert all(json.loads(stored[event.event_id.hex]) == event.as_dict() for event in events)


def test_an_interrupted_load_is_not_taken_for_data(db) -> None:
    def interrupt(_written: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        datagen.generate(db.engine, datagen.Scale("two batches", 2, datagen.BATCH_EVENTS + 1, 1.0), progress=interrupt)
    assert not datagen.is_complete(db.engine, TINY)
    assert inspect(db.engine).has_table(datagen.DEFERRED_TABLE)
