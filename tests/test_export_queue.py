"""Export configurations and the export queue: CRUD, marking, deferring, claiming tasks."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

import meteorpi_model as model
from meteorpi_fdb import schema
from meteorpi_fdb.exporter import EventExportTask, FileExportTask
from tests.helpers import make_event, make_file, make_status, utc

T0 = utc(2015, 3, 1)

QUEUES = {
    "event": (schema.t_eventexport, "eventid", schema.t_event),
    "file": (schema.t_fileexport, "fileid", schema.t_file),
}


def export_config(search=None, **fields) -> model.ExportConfiguration:
    values = dict(target_url="http://central.example.org:8080/import", user_id="exporter",
                  password="s3cret", search=search if search is not None else model.EventSearch(),
                  name="to central", description="everything", enabled=True)
    values.update(fields)
    return model.ExportConfiguration(**values)


def now_ms() -> int:
    return model.utc_datetime_to_milliseconds(model.now())


def queue_rows(db, entity_type: str) -> dict[uuid.UUID, tuple[int, int]]:
    """Every row of a queue as {entity UUID: (export time, state)}."""
    queue, column, entities = QUEUES[entity_type]
    with db.connection() as connection:
        rows = connection.execute(
            select(entities.c[column], queue.c.exporttime, queue.c.exportstate)
            .join(entities, entities.c.internalid == queue.c[column])
        )
        return {uuid.UUID(hex=row[0]): (row[1], row[2]) for row in rows}


def set_queue_row(db, entity_type: str, entity_id: uuid.UUID, export_time: int, state: int = 1) -> None:
    queue, column, entities = QUEUES[entity_type]
    internal = select(entities.c.internalid).where(entities.c[column] == entity_id.hex).scalar_subquery()
    with db.transaction() as connection:
        result = connection.execute(
            update(queue).where(queue.c[column] == internal).values(exporttime=export_time, exportstate=state)
        )
        assert result.rowcount == 1


def queue_size(db) -> int:
    with db.connection() as connection:
        return sum(connection.execute(select(func.count()).select_from(queue)).scalar_one()
                   for queue, _column, _table in QUEUES.values())


@pytest.fixture
def events(db):
    make_status(db, None, T0)
    return [make_event(db, T0 + timedelta(minutes=minute)) for minute in range(3)]


# --- configurations --------------------------------------------------------------------------


def test_create_assigns_an_id_and_stores_every_field(db):
    search = model.EventSearch(camera_ids=["aabbccddeeff"], after=T0, event_type="meteorpi:meteor",
                               meta_constraints=[model.MetaConstraint("greater", "meteorpi:brightness", 2.5)])
    config = export_config(search, enabled=False, ca_bundle="/etc/ssl/central.pem")
    stored = db.create_or_update_export_configuration(config)

    assert isinstance(config.config_id, uuid.UUID)
    assert stored == config
    assert db.get_export_configuration(config.config_id) == config
    assert db.get_export_configuration(config.config_id.hex) == config
    assert db.get_export_configurations() == [config]
    with db.connection() as connection:
        row = connection.execute(select(schema.t_exportconfig)).one()
    assert row.searchstring == json.dumps(search.as_dict(), separators=(",", ":"), sort_keys=True)
    assert " " not in row.searchstring
    assert row.exporttype == "event" and row.failurecount == 0


def test_create_with_a_given_id_then_update_it(db):
    config_id = uuid.uuid4()
    db.create_or_update_export_configuration(export_config(config_id=config_id))
    changed = export_config(model.FileRecordSearch(semantic_type="meteorpi:raw"), config_id=config_id,
                            target_url="https://other.example.org/import", user_id="someone",
                            password="new", name="renamed", description="", enabled=False)
    assert db.create_or_update_export_configuration(changed) == changed
    assert db.get_export_configuration(config_id) == changed
    assert db.get_export_configuration(config_id).type == "file"
    assert len(db.get_export_configurations()) == 1


def test_an_update_without_a_password_keeps_the_stored_one(db):
    config = db.create_or_update_export_configuration(export_config(password="original"))
    config.password, config.name = None, "renamed"
    stored = db.create_or_update_export_configuration(config)
    assert stored.password == "original" and stored.name == "renamed"


def test_creating_needs_a_password(db):
    with pytest.raises(ValueError, match="password"):
        db.create_or_update_export_configuration(export_config(password=None))
    assert db.get_export_configurations() == []


def test_configurations_are_listed_oldest_first(db):
    names = ["first", "second", "third"]
    for name in names:
        db.create_or_update_export_configuration(export_config(name=name))
    assert [config.name for config in db.get_export_configurations()] == names


def test_a_read_after_a_write_is_never_stale(db):
    config = db.create_or_update_export_configuration(export_config())
    assert db.get_export_configuration(config.config_id).name == "to central"
    config.name = "changed"
    db.create_or_update_export_configuration(config)
    assert db.get_export_configuration(config.config_id).name == "changed"
    db.set_export_configuration_enabled(config.config_id, False)
    assert db.get_export_configuration(config.config_id).enabled is False
    db.delete_export_configuration(config.config_id)
    assert db.get_export_configuration(config.config_id) is None


def test_delete_reports_whether_there_was_a_configuration(db):
    config = db.create_or_update_export_configuration(export_config())
    assert db.delete_export_configuration(config.config_id) is True
    assert db.delete_export_configuration(config.config_id) is False
    assert db.get_export_configurations() == []


def test_unknown_and_malformed_ids(db):
    assert db.get_export_configuration(uuid.uuid4()) is None
    with pytest.raises(ValueError, match="config_id"):
        db.get_export_configuration("not-a-uuid")
    for call in (db.record_export_failure, db.reset_export_failures):
        with pytest.raises(ValueError, match="no export configuration"):
            call(uuid.uuid4())
    with pytest.raises(ValueError, match="no export configuration"):
        db.set_export_configuration_enabled(uuid.uuid4(), True)


def _set(**changes):
    def change(config):
        for name, value in changes.items():
            setattr(config, name, value)
    return change


@pytest.mark.parametrize("change, field", [
    (_set(target_url="ftp://central.example.org/import"), "target_url"),
    (_set(target_url="http:///import"), "target_url"),
    (_set(target_url="http://" + "a" * 1030 + ".org/"), "target_url"),
    (_set(target_url=None), "target_url"),
    (_set(user_id=42), "user_id"),
    (_set(user_id=""), "user_id"),
    (_set(password=b"bytes"), "password"),
    (_set(password="p" * 256), "password"),
    (_set(name="n" * 256), "config_name"),
    (_set(name=""), "config_name"),
    (_set(description="d" * 1025), "config_description"),
    (_set(description=None), "config_description"),
    (_set(enabled="yes"), "enabled"),
    (_set(search={"camera_ids": ["x"]}), "search"),
    (_set(ca_bundle=7), "ca_bundle"),
    (_set(config_id="not-a-uuid"), "config_id"),
])
def test_invalid_configurations_are_refused_and_nothing_is_written(db, change, field):
    config = export_config()
    change(config)
    with pytest.raises(ValueError, match=field):
        db.create_or_update_export_configuration(config)
    assert db.get_export_configurations() == []


def test_a_non_configuration_is_refused(db):
    with pytest.raises(ValueError, match="ExportConfiguration"):
        db.create_or_update_export_configuration({"target_url": "http://x/import"})


# --- marking ---------------------------------------------------------------------------------


def test_mark_queues_each_matching_event_once(db, events):
    config = db.create_or_update_export_configuration(export_config(model.EventSearch(limit=1)))
    before = now_ms()
    assert db.mark_entities_to_export(config) == 3
    rows = queue_rows(db, "event")
    assert set(rows) == {event.event_id for event in events}
    assert all(state == 1 and before <= export_time <= now_ms() for export_time, state in rows.values())

    assert db.mark_entities_to_export(config) == 0
    new_event = make_event(db, T0 + timedelta(hours=1))
    assert db.mark_entities_to_export(config) == 1
    assert new_event.event_id in queue_rows(db, "event")
    assert db.mark_entities_to_export(config) == 0


def test_mark_applies_the_search_and_keeps_configurations_apart(db, events):
    late_search = model.EventSearch(after=events[0].event_time)
    late = db.create_or_update_export_configuration(export_config(late_search))
    everything = db.create_or_update_export_configuration(export_config())
    other_type = db.create_or_update_export_configuration(
        export_config(model.EventSearch(event_type="meteorpi:other"))
    )
    assert db.mark_entities_to_export(late) == 2
    assert db.mark_entities_to_export(everything) == 3
    assert db.mark_entities_to_export(other_type) == 0
    assert queue_size(db) == 5


def test_completed_tasks_are_not_marked_again(db, events):
    config = db.create_or_update_export_configuration(export_config())
    db.mark_entities_to_export(config)
    for event in events:
        set_queue_row(db, "event", event.event_id, 0, state=0)
    assert db.mark_entities_to_export(config) == 0


def test_mark_files(db, tmp_path):
    make_status(db, None, T0)
    raw = [make_file(db, tmp_path, T0 + timedelta(seconds=s), semantic_type="meteorpi:raw") for s in (1, 2)]
    make_file(db, tmp_path, T0 + timedelta(seconds=3), semantic_type="meteorpi:log")
    config = db.create_or_update_export_configuration(
        export_config(model.FileRecordSearch(semantic_type="meteorpi:raw"))
    )
    assert db.mark_entities_to_export(config) == 2
    assert set(queue_rows(db, "file")) == {record.file_id for record in raw}
    assert queue_rows(db, "event") == {}
    assert db.mark_entities_to_export(config) == 0


def test_mark_needs_a_stored_configuration(db, events):
    with pytest.raises(ValueError, match="config_id"):
        db.mark_entities_to_export(export_config())
    with pytest.raises(ValueError, match="no export configuration"):
        db.mark_entities_to_export(export_config(config_id=uuid.uuid4()))
    assert queue_size(db) == 0


def test_deleting_a_configuration_deletes_its_queue(db, events, tmp_path):
    doomed = db.create_or_update_export_configuration(export_config())
    kept = db.create_or_update_export_configuration(export_config())
    files = db.create_or_update_export_configuration(export_config(model.FileRecordSearch()))
    make_file(db, tmp_path, T0 + timedelta(hours=1))
    for config in (doomed, kept, files):
        db.mark_entities_to_export(config)
    assert queue_size(db) == 7
    db.delete_export_configuration(doomed.config_id)
    assert queue_size(db) == 4
    db.delete_export_configuration(files.config_id)
    assert queue_size(db) == 3


def test_concurrent_marks_of_one_configuration_add_each_row_once(make_db):
    first, second = make_db(), make_db()
    make_status(first, None, T0)
    count = 30
    for s in range(count):
        make_event(first, T0 + timedelta(seconds=s))
    config = first.create_or_update_export_configuration(export_config())
    added: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def mark(db) -> None:
        try:
            barrier.wait()
            added.append(db.mark_entities_to_export(config))
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=mark, args=(db,)) for db in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sorted(added) == [0, count]
    assert queue_size(first) == count


# --- deferring -------------------------------------------------------------------------------


def test_defer_moves_only_earlier_pending_tasks_of_that_configuration(db, events, tmp_path):
    config = db.create_or_update_export_configuration(export_config())
    other = db.create_or_update_export_configuration(export_config(model.FileRecordSearch()))
    record = make_file(db, tmp_path, T0 + timedelta(hours=1))
    extra = make_event(db, T0 + timedelta(hours=2))
    db.mark_entities_to_export(config)
    db.mark_entities_to_export(other)
    start = now_ms()
    overdue, soon, far, done = events[0], events[1], events[2], extra
    set_queue_row(db, "event", overdue.event_id, start - 60_000)
    set_queue_row(db, "event", soon.event_id, start + 10_000)
    set_queue_row(db, "event", far.event_id, start + 3_600_000)
    set_queue_row(db, "event", done.event_id, start - 60_000, state=0)
    set_queue_row(db, "file", record.file_id, start - 60_000)

    assert db.defer_export_tasks(config.config_id, 60) == 2
    finish = now_ms()
    rows = queue_rows(db, "event")
    deferred = rows[overdue.event_id][0]
    assert start + 60_000 <= deferred <= finish + 60_000
    assert rows[soon.event_id] == (deferred, 1)
    assert rows[far.event_id] == (start + 3_600_000, 1)
    assert rows[done.event_id] == (start - 60_000, 0)
    assert queue_rows(db, "file") == {record.file_id: (start - 60_000, 1)}


def test_defer_edge_cases(db, events):
    assert db.defer_export_tasks(uuid.uuid4(), 60) == 0
    config = db.create_or_update_export_configuration(export_config())
    db.mark_entities_to_export(config)
    for bad in (-1, "60", None, True, float("nan")):
        with pytest.raises(ValueError, match="seconds"):
            db.defer_export_tasks(config.config_id, bad)
    assert db.defer_export_tasks(config.config_id, 0.5) == 3
    assert db.get_next_entity_to_export() is None


# --- handing out tasks -----------------------------------------------------------------------


def test_next_task_is_the_earliest_due_over_events_and_files(db, events, tmp_path):
    records = [make_file(db, tmp_path, T0 + timedelta(hours=1, seconds=s)) for s in (1, 2)]
    event_config = db.create_or_update_export_configuration(export_config())
    file_config = db.create_or_update_export_configuration(
        export_config(model.FileRecordSearch(), target_url="https://files.example.org/import",
                      user_id="files", password="pw", ca_bundle="/etc/ssl/files.pem")
    )
    db.mark_entities_to_export(event_config)
    db.mark_entities_to_export(file_config)
    start = now_ms()
    set_queue_row(db, "file", records[0].file_id, start - 50_000)
    set_queue_row(db, "event", events[2].event_id, start - 40_000)
    set_queue_row(db, "file", records[1].file_id, start - 30_000)
    set_queue_row(db, "event", events[0].event_id, start - 20_000)
    set_queue_row(db, "event", events[1].event_id, start + 600_000)

    first = db.get_next_entity_to_export()
    assert isinstance(first, FileExportTask)
    assert first.entity_type == "file"
    assert first.entity_id == first.file_id == records[0].file_id
    assert first.config_id == file_config.config_id
    assert (first.target_url, first.target_user, first.target_password, first.ca_bundle) == (
        "https://files.example.org/import", "files", "pw", "/etc/ssl/files.pem")
    assert first.timestamp == model.milliseconds_to_utc_datetime(start - 50_000)
    assert first.status == 1
    assert first.get_file() == records[0]
    assert first.as_dict() == {"type": "file", "file": records[0].as_dict()}
    assert first.get_export_config() == file_config

    second = db.get_next_entity_to_export()
    assert isinstance(second, EventExportTask)
    assert (second.entity_type, second.event_id) == ("event", events[2].event_id)
    assert second.as_dict() == {"type": "event", "event": events[2].as_dict()}
    assert second.get_event() == events[2]
    assert (second.target_url, second.ca_bundle) == (event_config.target_url, None)

    order = [db.get_next_entity_to_export().entity_id for _ in range(2)]
    assert order == [records[1].file_id, events[0].event_id]
    assert db.get_next_entity_to_export() is None


def test_disabled_configurations_are_skipped(db, events):
    config = db.create_or_update_export_configuration(export_config(enabled=False))
    assert db.mark_entities_to_export(config) == 0  # 2015: a disabled configuration marks nothing
    assert queue_size(db) == 0
    assert db.get_next_entity_to_export() is None
    db.set_export_configuration_enabled(config.config_id, True)
    assert db.mark_entities_to_export(db.get_export_configuration(config.config_id)) == 3
    task = db.get_next_entity_to_export()
    assert task is not None and task.config_id == config.config_id
    db.set_export_configuration_enabled(config.config_id, False)
    assert db.get_next_entity_to_export() is None


def test_a_claimed_task_is_not_handed_out_again_until_its_lease_ends(db, events):
    config = db.create_or_update_export_configuration(export_config())
    db.mark_entities_to_export(config)
    before = now_ms()
    tasks = [db.get_next_entity_to_export(lease_seconds=60) for _ in events]
    after = now_ms()
    assert {task.entity_id for task in tasks} == {event.event_id for event in events}
    assert db.get_next_entity_to_export() is None
    assert all(before + 60_000 <= export_time <= after + 60_000 and state == 1
               for export_time, state in queue_rows(db, "event").values())

    tasks[0].defer(0)
    short = db.get_next_entity_to_export(lease_seconds=1)
    assert short.entity_id == tasks[0].entity_id
    assert db.get_next_entity_to_export() is None
    time.sleep(1.1)
    assert db.get_next_entity_to_export().entity_id == tasks[0].entity_id


def test_set_status_zero_completes_a_task_for_good(db, events):
    config = db.create_or_update_export_configuration(export_config())
    db.mark_entities_to_export(config)
    tasks = [db.get_next_entity_to_export(lease_seconds=1) for _ in events]
    tasks[0].set_status(0)
    assert tasks[0].status == 0
    assert queue_rows(db, "event")[tasks[0].entity_id][1] == 0
    time.sleep(1.1)
    remaining = {db.get_next_entity_to_export().entity_id for _ in range(2)}
    assert remaining == {tasks[1].entity_id, tasks[2].entity_id}
    assert db.get_next_entity_to_export() is None
    assert db.mark_entities_to_export(config) == 0
    with pytest.raises(ValueError, match="status"):
        tasks[1].set_status("done")


def test_a_deferred_task_becomes_due_at_its_new_time(db, events):
    config = db.create_or_update_export_configuration(export_config())
    db.mark_entities_to_export(config)
    tasks = [db.get_next_entity_to_export() for _ in events]
    assert db.get_next_entity_to_export() is None
    tasks[1].defer(0)
    assert db.get_next_entity_to_export().entity_id == tasks[1].entity_id
    tasks[2].defer(0)
    db.defer_export_tasks(config.config_id, 3600)
    assert db.get_next_entity_to_export() is None


def test_a_task_whose_entity_was_deleted_says_so(db, events):
    config = db.create_or_update_export_configuration(export_config())
    db.mark_entities_to_export(config)
    task = db.get_next_entity_to_export()
    with db.transaction() as connection:
        connection.execute(schema.t_event.delete().where(schema.t_event.c.eventid == task.entity_id.hex))
    db.generators.cache_clear("event")
    assert task.get_event() is None
    with pytest.raises(ValueError, match="no longer exists"):
        task.as_dict()


def test_lease_must_be_positive(db):
    with pytest.raises(ValueError, match="lease_seconds"):
        db.get_next_entity_to_export(lease_seconds=0)


def test_two_exporters_never_claim_the_same_task(make_db, tmp_path):
    first, second = make_db(), make_db()
    make_status(first, None, T0)
    count = 40
    events = [make_event(first, T0 + timedelta(seconds=s)) for s in range(count)]
    config = first.create_or_update_export_configuration(export_config())
    assert first.mark_entities_to_export(config) == count

    claims: dict[str, list[uuid.UUID]] = {"first": [], "second": []}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def exporter(name: str, db) -> None:
        try:
            barrier.wait()
            while (task := db.get_next_entity_to_export()) is not None:
                claims[name].append(task.entity_id)
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=exporter, args=(name, db)) for name, db in
               (("first", first), ("second", second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    everything = claims["first"] + claims["second"]
    assert len(everything) == count
    assert set(everything) == {event.event_id for event in events}


# --- status and failures ---------------------------------------------------------------------


def test_export_status_counts_tasks_and_failures(db, events):
    busy = db.create_or_update_export_configuration(export_config(name="busy"))
    idle = db.create_or_update_export_configuration(
        export_config(model.FileRecordSearch(), name="idle", enabled=False)
    )
    db.mark_entities_to_export(busy)
    db.get_next_entity_to_export().set_status(0)
    assert db.record_export_failure(busy.config_id) == 1
    assert db.record_export_failure(busy.config_id) == 2

    busy_status, idle_status = db.export_status()
    assert busy_status.pop("next_export_time") is not None
    assert busy_status == {
        "config_id": busy.config_id, "name": "busy", "type": "event", "enabled": True,
        "target_url": busy.target_url, "pending": 2, "completed": 1, "failure_count": 2,
    }
    assert idle_status == {
        "config_id": idle.config_id, "name": "idle", "type": "file", "enabled": False,
        "target_url": idle.target_url, "pending": 0, "completed": 0, "failure_count": 0,
        "next_export_time": None,
    }

    db.reset_export_failures(busy.config_id)
    assert db.export_status()[0]["failure_count"] == 0
    assert db.record_export_failure(busy.config_id) == 1


def test_export_status_reports_the_next_pending_time(db, events):
    config = db.create_or_update_export_configuration(export_config())
    db.mark_entities_to_export(config)
    set_queue_row(db, "event", events[0].event_id, 1_000, state=0)
    set_queue_row(db, "event", events[1].event_id, 5_000)
    set_queue_row(db, "event", events[2].event_id, 9_000)
    assert db.export_status()[0]["next_export_time"] == model.milliseconds_to_utc_datetime(5_000)
