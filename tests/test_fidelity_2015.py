"""2015 behaviour kept (issue 10): marking, queue order and the package's public names."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

import meteorpi_fdb
import meteorpi_model as model
from meteorpi_fdb import exporter, schema
from tests.helpers import make_event, make_file, make_status, utc
from tests.test_export_queue import export_config, queue_rows, queue_size

T0 = utc(2015, 3, 1)


def test_the_package_exports_the_2015_names():
    assert meteorpi_fdb.EventExportTask is exporter.EventExportTask
    assert meteorpi_fdb.FileExportTask is exporter.FileExportTask
    assert {"MeteorDatabase", "EventExportTask", "FileExportTask"} <= set(meteorpi_fdb.__all__)


def test_a_disabled_configuration_marks_nothing(db, tmp_path):
    make_status(db, None, T0)
    make_event(db, T0 + timedelta(minutes=1))
    make_file(db, tmp_path, T0 + timedelta(minutes=2))
    for search in (model.EventSearch(), model.FileRecordSearch()):
        config = db.create_or_update_export_configuration(export_config(search, enabled=False))
        assert db.mark_entities_to_export(config) == 0
    assert queue_size(db) == 0


def test_a_file_configuration_leaves_out_files_of_events(db, tmp_path):
    make_status(db, None, T0)
    linked = [make_file(db, tmp_path, T0 + timedelta(seconds=s)) for s in (1, 2)]
    make_event(db, T0 + timedelta(seconds=3), files=linked)
    loose = make_file(db, tmp_path, T0 + timedelta(seconds=4))
    # The stored search does not ask for exclude_events; a file export adds it regardless.
    config = db.create_or_update_export_configuration(export_config(model.FileRecordSearch()))
    assert config.search.exclude_events is False
    assert db.mark_entities_to_export(config) == 1
    assert set(queue_rows(db, "file")) == {loose.file_id}


def test_tasks_due_together_come_in_registration_order(db, tmp_path):
    make_status(db, None, T0)
    # Times out of registration order, so that neither time order nor insertion order (the
    # search runs newest first) happens to be registration order.
    offsets = (5, 1, 4, 0, 3, 2)
    files = [make_file(db, tmp_path, T0 + timedelta(minutes=m)) for m in offsets]
    events = [make_event(db, T0 + timedelta(minutes=m)) for m in offsets]
    # A search on a type walks its (type, time) index, so marking inserts the rows newest first.
    searches = (model.FileRecordSearch(semantic_type="meteorpi:test_file", after=T0 - timedelta(seconds=1)),
                model.EventSearch(event_type="meteorpi:test_event", after=T0 - timedelta(seconds=1)))
    for search in searches:
        db.mark_entities_to_export(db.create_or_update_export_configuration(export_config(search)))
    _all_due_at_once(db)  # as after a deferral

    handed_out = []
    while (task := db.get_next_entity_to_export()) is not None:
        handed_out.append(task)
    files_order = [t.entity_id for t in handed_out if t.entity_type == "file"]
    events_order = [t.entity_id for t in handed_out if t.entity_type == "event"]
    assert files_order == [f.file_id for f in files]
    assert events_order == [e.event_id for e in events]


def _all_due_at_once(db) -> None:
    due = model.utc_datetime_to_milliseconds(model.now()) - 1000
    with db.transaction() as connection:
        for queue in (schema.t_fileexport, schema.t_eventexport):
            connection.execute(update(queue).values(exporttime=due))
