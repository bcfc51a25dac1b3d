"""Events' stored wire JSON (meteorpi_fdb._event_wire): every write that changes what an event's
JSON is made of leaves it rebuilt in the same transaction, whichever table it touched and however
it was written; a page is right even where the stored text is missing; a migrated database gets
the text of the events it already held. On Firebird (no triggers) the table stays empty and
pages are built as before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest
from sqlalchemy import Connection, delete, insert, select, text, update

import meteorpi_model as model
from meteorpi_fdb import migrate, schema
from tests.conftest import INSTALLATION_ID
from tests.helpers import make_event, make_file, make_status, utc
from tests.test_wire import as_jsonify, fixture_entities

W = schema.t_eventwire


def stored(db) -> dict[str, dict]:
    """Event id hex -> its stored JSON, parsed."""
    with db.connection() as connection:
        rows = connection.execute(select(schema.t_event.c.eventid, W.c.body)
                                  .join(W, W.c.eventid == schema.t_event.c.internalid)).all()
    return {event_id: json.loads(body) for event_id, body in rows}


def stale_count(db) -> int:
    with db.connection() as connection:
        return connection.execute(text("SELECT COUNT(*) FROM t_eventwirestale")).scalar_one()


def assert_stored_text_is_current(db) -> None:
    """Every event's stored text is its ``as_dict()`` (none missing, none stale), and the page
    built from it is what ``jsonify`` made of the objects."""
    events = db.search_events(model.EventSearch(limit=0))
    expected = {event.event_id.hex: event.as_dict() for event in events["events"]}
    if db.backend == "firebird":
        assert stored(db) == {}
    else:
        assert stored(db) == expected
        assert stale_count(db) == 0
    assert db.search_events_wire(model.EventSearch(limit=0)) == \
        as_jsonify("events", events["events"], events["count"])


def test_registered_and_imported_events_are_stored_as_their_wire_json(db, tmp_path: Path) -> None:
    fixture_entities(db, tmp_path)
    assert len(db.search_events(model.EventSearch(limit=0))["events"]) == 4
    assert_stored_text_is_current(db)


def _first(connection: Connection, table, column):
    return connection.execute(select(column).order_by(column).limit(1)).scalar_one()


def _event_meta_added(c: Connection) -> None:
    event = _first(c, schema.t_event, schema.t_event.c.internalid)
    c.execute(insert(schema.t_eventmeta).values(eventid=event, metaindex=99, metakey="meteorpi:added",
                                                stringvalue="new \u00e9"))


def _event_meta_changed(c: Connection) -> None:
    c.execute(update(schema.t_eventmeta).values(floatvalue=schema.t_eventmeta.c.floatvalue + 1)
              .where(schema.t_eventmeta.c.floatvalue.is_not(None)))


def _event_meta_removed(c: Connection) -> None:
    c.execute(delete(schema.t_eventmeta).where(schema.t_eventmeta.c.metaindex == 0))


def _event_changed(c: Connection) -> None:
    c.execute(update(schema.t_event).values(eventtype="meteorpi:retyped"))


def _file_renamed(c: Connection) -> None:
    c.execute(update(schema.t_file).values(filename="renamed.png").where(schema.t_file.c.filename.is_not(None)))


def _file_meta_changed(c: Connection) -> None:
    c.execute(update(schema.t_filemeta).values(stringvalue="changed").where(schema.t_filemeta.c.stringvalue.is_not(None)))


def _file_meta_added(c: Connection) -> None:
    for file_id in c.execute(select(schema.t_event_to_file.c.fileid)).scalars().all():
        c.execute(insert(schema.t_filemeta).values(fileid=file_id, metaindex=50, metakey="meteorpi:later",
                                                   datevalue=1_420_070_400_000))


def _file_meta_removed(c: Connection) -> None:
    c.execute(delete(schema.t_filemeta))


def _file_unlinked(c: Connection) -> None:
    c.execute(delete(schema.t_event_to_file).where(schema.t_event_to_file.c.sequencenumber == 0))


def _file_deleted(c: Connection) -> None:
    linked = select(schema.t_event_to_file.c.fileid)
    c.execute(delete(schema.t_file).where(schema.t_file.c.internalid.in_(linked)))  # links cascade


def _status_renamed(c: Connection) -> None:
    c.execute(update(schema.t_camerastatus).values(statusid="0" * 31 + "1")
              .where(schema.t_camerastatus.c.internalid == _first(c, schema.t_camerastatus,
                                                                   schema.t_camerastatus.c.internalid)))


def _event_deleted(c: Connection) -> None:
    c.execute(delete(schema.t_event).where(schema.t_event.c.eventtype != "odd:\u00e9v\u00e9nement"))


CHANGES: dict[str, Callable[[Connection], None]] = {change.__name__.removeprefix("_"): change for change in (
    _event_meta_added, _event_meta_changed, _event_meta_removed, _event_changed, _file_renamed,
    _file_meta_changed, _file_meta_added, _file_meta_removed, _file_unlinked, _file_deleted,
    _status_renamed, _event_deleted)}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_every_kind_of_change_rebuilds_the_text_in_the_same_transaction(db, tmp_path: Path, change: str) -> None:
    fixture_entities(db, tmp_path)
    before = stored(db)
    with db.transaction() as connection:
        CHANGES[change](connection)
    assert_stored_text_is_current(db)
    if db.backend != "firebird":
        assert stored(db) != before, "the change must have changed some event's JSON"


def test_a_writer_that_bypasses_the_database_layer_leaves_pages_right(db, tmp_path: Path) -> None:
    fixture_entities(db, tmp_path)
    with db.engine.begin() as connection:  # raw SQL, no refresh at the end
        _event_changed(connection)
    events = db.search_events(model.EventSearch(limit=0))
    assert {e.event_type for e in events["events"]} == {model.NSString("retyped")}
    # The page builds what the stored text lacks; the next write through the layer restores it.
    assert db.search_events_wire(model.EventSearch(limit=0)) == \
        as_jsonify("events", events["events"], events["count"])
    if db.backend != "firebird":
        assert stale_count(db) == 4 and stored(db) == {}
    make_status(db, INSTALLATION_ID, utc(2016, 1, 1))
    assert_stored_text_is_current(db)


def test_a_rollback_to_a_high_water_mark_drops_the_text_of_removed_events(db, tmp_path: Path) -> None:
    make_status(db, INSTALLATION_ID, utc(2015, 1, 1))
    kept = make_event(db, utc(2015, 1, 2), files=[make_file(db, tmp_path, utc(2015, 1, 2))])
    make_event(db, utc(2015, 1, 3), files=[make_file(db, tmp_path, utc(2015, 1, 3))])
    db.set_high_water_mark(utc(2015, 1, 4), INSTALLATION_ID)
    db.set_high_water_mark(utc(2015, 1, 2, 12), INSTALLATION_ID)
    assert_stored_text_is_current(db)
    if db.backend != "firebird":
        assert list(stored(db)) == [kept.event_id.hex]


def test_an_upgraded_database_gets_the_text_of_the_events_it_held(db, tmp_path: Path) -> None:
    fixture_entities(db, tmp_path)
    config = migrate.alembic_config()
    from alembic import command

    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0008")
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    assert_stored_text_is_current(db)
