"""meteorpi_fdb.testing.dummy_data: the known network the 2015 package shipped for tests."""

from __future__ import annotations

import meteorpi_model as model
from meteorpi_fdb.testing.dummy_data import (CAMERA_1, CAMERA_2, CAMERA_3, make_time,
                                             setup_dummy_data)


def test_the_dummy_network_is_what_the_docstring_says(db):
    helper = setup_dummy_data(db, clear=True)

    assert set(db.get_cameras()) == {CAMERA_1, CAMERA_2}
    assert db.get_camera_status(make_time(5), CAMERA_1).location.error == 12.8
    assert db.get_camera_status(make_time(10), CAMERA_1).location.error == 1.0
    assert db.get_camera_status(make_time(5), CAMERA_3) is None

    events = db.search_events(model.EventSearch(limit=0))["events"]
    assert helper.seq_to_string(events) == "e0,e1,e2,e3,e4"
    assert [len(e.file_records) for e in sorted(events, key=helper.name_of)] == [2, 4, 2, 3, 6]
    camera_1 = db.search_events(model.EventSearch(camera_ids=[CAMERA_1]))["events"]
    assert helper.seq_to_string(camera_1) == "e0,e1"
    bright = db.search_events(model.EventSearch(
        meta_constraints=[model.MetaConstraint("greater", "meteorpi:intensity", 0.5)]))["events"]
    assert helper.seq_to_string(bright) == "e0,e1"

    loose = db.search_files(model.FileRecordSearch(exclude_events=True))["files"]
    assert helper.seq_to_string(loose) == "f0,f1"
    assert [len(f.meta) for f in sorted(loose, key=helper.name_of)] == [3, 1]
    every_file = db.search_files(model.FileRecordSearch(limit=0))["files"]
    assert len(every_file) == 2 + 4 + 2 + 3 + 6 + 2
    assert "UNKNOWN" not in helper.seq_to_string(every_file)
    assert helper.seq_to_string(db.get_file(every_file[0].file_id)) == helper.name_of(every_file[0])


def test_clear_makes_it_repeatable(db):
    setup_dummy_data(db)
    helper = setup_dummy_data(db, clear=True)
    assert db.search_events(model.EventSearch())["count"] == 5
    assert db.search_files(model.FileRecordSearch())["count"] == 19
    assert len(helper.events) == 5 and len(helper.files) == 19
