"""The fast read path (meteorpi_fdb._wire): search pages built from rows, without model objects,
must be byte for byte what ``jsonify`` made of the model objects' ``as_dict()`` (SPEC section 3),
for every entity of the demo network and of the test fixtures, on every backend; cursors page
through a search without gaps or overlaps."""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path

import pytest

from sqlalchemy import update

import meteorpi_model as model
from meteorpi_fdb import schema
from meteorpi_cli.demo import fill_node
from meteorpi_cli.demo_network import plan_network
from tests.conftest import INSTALLATION_ID
from tests.helpers import make_event, make_file, make_status, remote_file, remote_status, utc

ODD_FLOATS = [0.0, -0.0, 1.0, 2.5, 1e-05, -3.3e-08, 0.0001, 123456789012345.6, 1e16, 1.7976931348623157e308,
              5e-324, 3.0, -7.25, -42.0, 999999999999999.0, 1e15]
ODD_STRINGS = ["plain", "", "caf\u00e9 \u2603 \U0001f320", "tab\tnew\nline \"quoted\" back\\slash",
               "\x7f\x01 control", "</script>"]


def as_jsonify(key: str, items: list, count: int) -> bytes:
    """What the query API wrote before the fast path: ``jsonify({key: [...], "count": N})``."""
    document = {key: [item.as_dict() for item in items], "count": count}
    return (json.dumps(document, separators=(",", ":")) + "\n").encode()


def fixture_entities(db, tmp_path: Path) -> None:
    """The test fixtures' kinds of entity, plus metadata chosen to trip up a JSON encoder."""
    make_status(db, INSTALLATION_ID, utc(2015, 1, 1))
    metas = [model.Meta(f"meteorpi:float{index}", value) for index, value in enumerate(ODD_FLOATS)]
    metas += [model.Meta(f"odd:string{index}", value) for index, value in enumerate(ODD_STRINGS)]
    metas += [model.Meta("meteorpi:when", utc(2015, 1, 2, 3, 4, 5, 678)), model.Meta("meteorpi:count", 7)]
    named = make_file(db, tmp_path, utc(2015, 1, 2), meta=metas, file_name="caf\u00e9.png",
                      mime_type="image/png")
    plain = make_file(db, tmp_path, utc(2015, 1, 2), semantic_type="other:thing")
    make_file(db, tmp_path, utc(2015, 1, 3, 1))
    make_event(db, utc(2015, 1, 2), files=[plain, named], meta=metas[:5], event_type="odd:\u00e9v\u00e9nement")
    make_event(db, utc(2015, 1, 2))  # same time: the tie is broken by internal id
    make_event(db, utc(2015, 1, 4))
    status = remote_status(db, utc(2015, 1, 1))
    record = remote_file(db, status, utc(2015, 1, 5))
    db.import_file_record(record, "importer")
    # Rows without an MD5 (the 2015 schema allowed them), with and without a file name: every
    # combination of the two optional keys.
    for file_name in ("no-md5.png", None):
        unhashed = remote_file(db, status, utc(2015, 1, 5, 2), file_name=file_name)
        db.import_file_record(unhashed, "importer")
        with db.transaction() as connection:
            connection.execute(update(schema.t_file).where(schema.t_file.c.fileid == unhashed.file_id.hex)
                               .values(md5hex=None))
        assert db.get_file(unhashed.file_id).md5 is None
    db.import_event(model.Event(status.camera_id, utc(2015, 1, 5), uuid.uuid4(), "meteorpi:remote",
                                status.status_id, [remote_file(db, status, utc(2015, 1, 5, 1), file_name=None)],
                                [model.Meta("meteorpi:x", 1.5)]), "importer")


def demo_entities(db) -> None:
    fill_node(db, plan_network(seed=3, cameras=2, nights=1, start=date(2015, 8, 12)), "admin", "password-1")


@pytest.mark.parametrize("populate", ["fixtures", "demo"])
def test_every_entity_is_rendered_exactly_as_jsonify_of_as_dict(db, tmp_path: Path, populate: str) -> None:
    fixture_entities(db, tmp_path) if populate == "fixtures" else demo_entities(db)
    events = db.search_events(model.EventSearch(limit=0))
    files = db.search_files(model.FileRecordSearch(limit=0))
    assert events["count"] > 2 and files["count"] > 4
    assert db.search_events_wire(model.EventSearch(limit=0)) == as_jsonify("events", events["events"], events["count"])
    assert db.search_files_wire(model.FileRecordSearch(limit=0)) == as_jsonify("files", files["files"], files["count"])
    # Constrained pages: the count is the whole result set's, the page a slice of it.
    for search in (model.EventSearch(limit=2, skip=1), model.EventSearch(camera_ids=[INSTALLATION_ID], limit=1),
                   model.EventSearch(lat_min=0, lat_max=90, limit=3)):
        expected = db.search_events(search)
        wire = db.search_events_wire(search)
        document = json.loads(wire)
        document.pop("cursor", None)
        assert json.dumps(document, separators=(",", ":")).encode() + b"\n" == \
            as_jsonify("events", expected["events"], expected["count"])


@pytest.mark.parametrize("entity", ["events", "files"])
def test_cursor_pages_through_a_search_without_gaps_or_overlaps(db, tmp_path: Path, entity: str) -> None:
    fixture_entities(db, tmp_path)
    for hour in range(5):  # several rows at one time: ties are broken by internal id
        make_file(db, tmp_path, utc(2015, 1, 6))
        make_event(db, utc(2015, 1, 6))
    search_class = model.EventSearch if entity == "events" else model.FileRecordSearch
    wire = db.search_events_wire if entity == "events" else db.search_files_wire
    everything = json.loads(wire(search_class(limit=0)))[entity]
    pages, cursor = [], None
    while True:
        page = json.loads(wire(search_class(limit=3), cursor))
        assert page["count"] == len(everything)
        pages.extend(page[entity])
        cursor = page.get("cursor")
        if cursor is None:
            assert len(page[entity]) < 3
            break
        assert len(page[entity]) == 3
    assert pages == everything


@pytest.mark.parametrize("cursor", ["", "12", "a.b", "1.2.3", "1." + "9" * 30, " 1.2"])
def test_a_malformed_cursor_is_a_value_error(db, cursor: str) -> None:
    with pytest.raises(ValueError, match="cursor"):
        db.search_events_wire(model.EventSearch(), cursor)


def test_a_search_of_the_wrong_kind_is_a_value_error(db) -> None:
    with pytest.raises(ValueError, match="EventSearch"):
        db.search_events_wire(model.FileRecordSearch())


def test_every_write_advances_the_change_stamp(db, tmp_path: Path) -> None:
    stamps = [db.change_stamp()]
    make_status(db, INSTALLATION_ID, utc(2015, 1, 1))
    stamps.append(db.change_stamp())
    record = make_file(db, tmp_path, utc(2015, 1, 2))
    stamps.append(db.change_stamp())
    make_event(db, utc(2015, 1, 2), files=[record])
    stamps.append(db.change_stamp())
    db.set_high_water_mark(utc(2015, 1, 1, 12), INSTALLATION_ID)  # rolls back the file and event
    stamps.append(db.change_stamp())
    assert db.change_stamp() == stamps[-1]  # reads change nothing
    db.clear_database()
    stamps.append(db.change_stamp())
    assert len(set(stamps)) == len(stamps)
