"""Registering, fetching and importing files and events (RecordsMixin)."""

from __future__ import annotations

import io
import os
import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

import meteorpi_model as model
from meteorpi_fdb import schema
from tests.helpers import (make_event, make_file, make_status, remote_file, remote_status,
                           utc, write_content)

T0 = utc(2015, 3, 1)
REMOTE_FILE_TIME = T0 + timedelta(hours=2)


def count_rows(db, table) -> int:
    with db.connection() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def assert_nothing_written(db) -> None:
    for table in (schema.t_file, schema.t_filemeta, schema.t_event, schema.t_eventmeta,
                  schema.t_event_to_file, schema.t_fileimport, schema.t_eventimport):
        assert count_rows(db, table) == 0, table.name
    assert list(db.file_store.stored_ids()) == []
    assert db.file_store.stray_files() == []


def all_meta_types() -> list[model.Meta]:
    return [
        model.Meta("meteorpi:brightness", 2.5),
        model.Meta("meteorpi:label", "a string, with: colons"),
        model.Meta("other:seen", utc(2015, 3, 2, 4, 5, 6, 789)),
        model.Meta("meteorpi:count", 7),
        model.Meta("meteorpi:empty", ""),
    ]


# --- register_file ------------------------------------------------------------------------


@pytest.mark.both_stores
def test_register_file_moves_content_and_stores_the_record(db, tmp_path):
    status = make_status(db, None, T0)
    content = b"meteor image bytes"
    path = write_content(tmp_path / "in", content)
    record = db.register_file(path, "image/png", model.NSString("raw_image"), T0 + timedelta(hours=15),
                              all_meta_types(), file_name="frame.png")

    assert not os.path.exists(path)
    with open(db.file_path_for_id(record.file_id), "rb") as stored:
        assert stored.read() == content
    assert record.camera_id == db.installation_id
    assert record.status_id == status.status_id
    assert record.file_size == len(content)
    assert record.md5 == model.get_md5_hash(db.file_path_for_id(record.file_id))
    assert record.file_name == "frame.png"
    assert record.meta[3].value == 7.0
    assert db.get_file(record.file_id) == record
    assert db.get_file(record.file_id).meta == record.meta


def test_register_file_stores_time_and_offset_since_previous_noon(db, tmp_path):
    make_status(db, None, T0)
    evening = make_file(db, tmp_path, utc(2015, 3, 1, 22, 30, 15, 250))
    morning = make_file(db, tmp_path, utc(2015, 3, 2, 3, 0, 1))
    with db.connection() as connection:
        rows = dict(connection.execute(select(schema.t_file.c.fileid, schema.t_file.c.fileoffset)).all())
    assert rows[evening.file_id.hex] == 10 * 3600 + 30 * 60 + 15
    assert rows[morning.file_id.hex] == 15 * 3600 + 1
    assert db.get_file(evening.file_id).file_time == utc(2015, 3, 1, 22, 30, 15, 250)


def test_register_file_accepts_strings_for_nsstrings_and_a_naive_time(db, tmp_path):
    make_status(db, "cam1", T0)
    record = db.register_file(write_content(tmp_path), "text/plain", "other:log", T0.replace(tzinfo=None) + timedelta(days=1),
                              [], camera_id="cam1")
    assert record.semantic_type == model.NSString("log", "other")
    assert db.get_file(record.file_id).file_time == T0 + timedelta(days=1)


def test_register_file_links_the_status_in_force_at_its_time(db, tmp_path):
    first = make_status(db, "cam1", T0)
    second = make_status(db, "cam1", T0 + timedelta(days=2))
    early = make_file(db, tmp_path, T0 + timedelta(days=1), camera_id="cam1")
    late = make_file(db, tmp_path, T0 + timedelta(days=3), camera_id="cam1")
    assert db.get_file(early.file_id).status_id == first.status_id
    assert db.get_file(late.file_id).status_id == second.status_id


def _good_file_arguments(path):
    return dict(file_path=path, mime_type="image/png", semantic_type=model.NSString("raw"),
                file_time=T0 + timedelta(hours=1), file_metas=[model.Meta("meteorpi:x", 1.0)],
                camera_id=None, file_name=None)


def _mutated_meta(value):
    meta = model.Meta("meteorpi:x", 1.0)
    meta.value = value
    return meta


BAD_FILE_ARGUMENTS = [
    ("mime_type", None, "mime_type"),
    ("mime_type", "", "mime_type"),
    ("mime_type", "x" * 256, "mime_type"),
    ("semantic_type", "", "semantic_type"),
    ("semantic_type", ":raw", "semantic_type"),
    ("semantic_type", 5, "semantic_type"),
    ("file_time", None, "file_time"),
    ("file_time", "2015-03-01", "file_time"),
    ("file_metas", "meteorpi:x", "file_metas"),
    ("file_metas", [("meteorpi:x", 1)], r"file_metas\[0\]"),
    ("file_metas", [model.Meta("meteorpi:" + "k" * 120, 1.0)], r"file_metas\[0\].*key is too long"),
    ("file_metas", [_mutated_meta(object())], r"file_metas\[0\]"),
    ("file_metas", [_mutated_meta(float("nan"))], r"file_metas\[0\]"),
    ("file_metas", [_mutated_meta(10 ** 400)], r"file_metas\[0\]"),
    ("file_metas", [_mutated_meta("s" * 256)], r"file_metas\[0\]"),
    ("camera_id", "c" * 65, "camera_id"),
    ("camera_id", 12, "camera_id"),
    ("camera_id", "", "camera_id"),
    ("file_name", "n" * 256, "file_name"),
    ("file_name", 3, "file_name"),
    ("file_path", None, "file_path"),
    ("file_path", "/nonexistent/meteorpi/file.bin", "file_path"),
]


@pytest.mark.parametrize("field, value, message", BAD_FILE_ARGUMENTS)
def test_register_file_rejects_bad_input_and_writes_nothing(db, tmp_path, field, value, message):
    make_status(db, None, T0)
    path = write_content(tmp_path / "in", b"content")
    arguments = _good_file_arguments(path)
    arguments[field] = value
    with pytest.raises(ValueError, match=message):
        db.register_file(**arguments)
    assert os.path.exists(path)
    assert_nothing_written(db)


def test_register_file_rejects_a_directory_and_a_path_inside_the_store(db, tmp_path):
    make_status(db, None, T0)
    with pytest.raises(ValueError, match="file_path"):
        db.register_file(**_good_file_arguments(str(tmp_path)))
    inside = os.path.join(db.file_store.root, uuid.uuid4().hex)
    with open(inside, "wb") as writer:
        writer.write(b"someone else's content")
    with pytest.raises(ValueError, match="file_path"):
        db.register_file(**_good_file_arguments(inside))
    assert os.path.exists(inside)
    assert count_rows(db, schema.t_file) == 0


@pytest.mark.parametrize("camera_id, file_time", [
    (None, T0 - timedelta(milliseconds=1)),  # before the first status
    ("unknowncamera", T0 + timedelta(days=1)),  # a camera with no status at all
])
def test_register_file_needs_a_status_in_force(db, tmp_path, camera_id, file_time):
    make_status(db, None, T0)
    path = write_content(tmp_path / "in")
    arguments = _good_file_arguments(path) | {"camera_id": camera_id, "file_time": file_time}
    with pytest.raises(ValueError, match="no camera status in force"):
        db.register_file(**arguments)
    assert os.path.exists(path)
    assert_nothing_written(db)


def test_register_file_at_exactly_valid_from_uses_that_status(db, tmp_path):
    status = make_status(db, None, T0)
    assert make_file(db, tmp_path, T0).status_id == status.status_id


# --- register_event -----------------------------------------------------------------------


def test_register_event_links_files_in_the_given_order(db, tmp_path):
    status = make_status(db, None, T0)
    files = [make_file(db, tmp_path, T0 + timedelta(minutes=minute)) for minute in range(3)]
    ordered = [files[2], files[0], files[1]]
    event = db.register_event(db.installation_id, T0 + timedelta(minutes=5), model.NSString("meteor"),
                              ordered, all_meta_types())
    assert [record.file_id for record in event.file_records] == [record.file_id for record in ordered]
    assert event.status_id == status.status_id
    assert event.meta[3].value == 7.0
    assert db.get_event(event.event_id) == event


def test_register_event_without_files_or_meta(db):
    make_status(db, "cam1", T0)
    event = db.register_event("cam1", T0 + timedelta(seconds=1), "other:flash")
    assert event.file_records == [] and event.meta == []
    assert event.event_type == model.NSString("flash", "other")
    assert db.get_event(event.event_id) == event


def test_register_event_returns_the_stored_file_records(db, tmp_path):
    make_status(db, None, T0)
    stored = make_file(db, tmp_path, T0 + timedelta(minutes=1), meta=[model.Meta("meteorpi:x", 3.0)])
    stale = model.FileRecord(camera_id=stored.camera_id, mime_type="wrong/type", semantic_type="x:y",
                             status_id=stored.status_id, file_id=stored.file_id)
    event = make_event(db, T0 + timedelta(minutes=2), files=[stale])
    assert event.file_records == [stored]


def _unregistered_record(status_id):
    return model.FileRecord(camera_id="aabbccddeeff", mime_type="image/png", semantic_type="meteorpi:raw",
                            status_id=status_id, file_id=uuid.uuid4(), file_time=T0)


@pytest.mark.parametrize("case, message", [
    ("unknown_file", "no registered file"),
    ("duplicate_file", "listed twice"),
    ("file_without_id", "no file_id"),
    ("files_not_a_list", "file_records"),
    ("file_not_a_record", r"file_records\[0\]"),
    ("bad_meta", r"event_meta\[0\]"),
    ("meta_not_a_list", "event_meta"),
    ("bad_time", "event_time"),
    ("bad_type", "event_type"),
    ("bad_camera", "camera_id"),
    ("before_status", "no camera status in force"),
    ("camera_without_status", "no camera status in force"),
])
def test_register_event_rejects_bad_input_and_writes_nothing(db, tmp_path, case, message):
    status = make_status(db, None, T0)
    registered = make_file(db, tmp_path, T0 + timedelta(minutes=1))
    arguments = dict(camera_id=db.installation_id, event_time=T0 + timedelta(minutes=2),
                     event_type=model.NSString("meteor"), file_records=[registered], event_meta=[])
    without_id = model.FileRecord(camera_id="aabbccddeeff", mime_type="a/b", semantic_type="x:y",
                                  status_id=status.status_id)
    changes = {
        "unknown_file": {"file_records": [registered, _unregistered_record(status.status_id)]},
        "duplicate_file": {"file_records": [registered, registered]},
        "file_without_id": {"file_records": [without_id]},
        "files_not_a_list": {"file_records": registered},
        "file_not_a_record": {"file_records": [registered.file_id]},
        "bad_meta": {"event_meta": [_mutated_meta([1])]},
        "meta_not_a_list": {"event_meta": model.Meta("meteorpi:x", 1.0)},
        "bad_time": {"event_time": 1425168000000},
        "bad_type": {"event_type": "ns:"},
        "bad_camera": {"camera_id": "c" * 65},
        "before_status": {"event_time": T0 - timedelta(seconds=1)},
        "camera_without_status": {"camera_id": "othercamera"},
    }
    with pytest.raises(ValueError, match=message):
        db.register_event(**(arguments | changes[case]))
    assert count_rows(db, schema.t_event) == 0
    assert count_rows(db, schema.t_eventmeta) == 0
    assert count_rows(db, schema.t_event_to_file) == 0


# --- get / has ----------------------------------------------------------------------------


def test_has_and_get_accept_uuid_and_hex_forms(db, tmp_path):
    make_status(db, None, T0)
    record = make_file(db, tmp_path, T0 + timedelta(seconds=1))
    event = make_event(db, T0 + timedelta(seconds=2), files=[record])
    for form in (record.file_id, record.file_id.hex, str(record.file_id), record.file_id.hex.upper()):
        assert db.has_file_id(form)
        assert db.get_file(form) == record
    for form in (event.event_id, event.event_id.hex, str(event.event_id)):
        assert db.has_event_id(form)
        assert db.get_event(form) == event
    assert not db.has_file_id(event.event_id)
    assert not db.has_event_id(record.file_id)
    assert db.get_file(uuid.uuid4()) is None
    assert db.get_event(uuid.uuid4()) is None


@pytest.mark.parametrize("method, field", [
    ("has_file_id", "file_id"), ("get_file", "file_id"),
    ("has_event_id", "event_id"), ("get_event", "event_id"),
])
@pytest.mark.parametrize("bad_id", ["not-a-uuid", "", 12, None, "g" * 32])
def test_bad_ids_are_value_errors(db, method, field, bad_id):
    with pytest.raises(ValueError, match=field):
        getattr(db, method)(bad_id)


def test_gets_are_cached_and_callers_get_copies(db, tmp_path):
    make_status(db, None, T0)
    record = make_file(db, tmp_path, T0 + timedelta(seconds=1))
    first = db.get_file(record.file_id)
    first.mime_type = "changed/by-caller"
    hits_before = db.generators.cache_info()["file"].hits
    assert db.get_file(record.file_id) == record
    assert db.generators.cache_info()["file"].hits == hits_before + 1


def test_writes_clear_the_file_and_event_caches(db, tmp_path):
    make_status(db, None, T0)
    record = make_file(db, tmp_path, T0 + timedelta(seconds=1))
    event = make_event(db, T0 + timedelta(seconds=2), files=[record])
    db.get_file(record.file_id)
    db.get_event(event.event_id)
    assert db.generators.cache_info()["file"].currsize == 1
    make_file(db, tmp_path, T0 + timedelta(seconds=3))
    assert db.generators.cache_info()["file"].currsize == 0
    assert db.generators.cache_info()["event"].currsize == 1
    make_event(db, T0 + timedelta(seconds=4))
    assert db.generators.cache_info()["event"].currsize == 0


def test_a_rollback_is_never_served_from_the_cache(db, tmp_path):
    make_status(db, None, T0)
    record = make_file(db, tmp_path, T0 + timedelta(days=1))
    event = make_event(db, T0 + timedelta(days=1, seconds=1), files=[record])
    assert db.get_file(record.file_id) is not None and db.get_event(event.event_id) is not None
    db.set_high_water_mark(T0 + timedelta(days=2))
    db.set_high_water_mark(T0 + timedelta(hours=1))
    assert db.get_file(record.file_id) is None
    assert db.get_event(event.event_id) is None


# --- check_file_store ---------------------------------------------------------------------


def test_check_file_store_reports_orphans_missing_content_and_strays(db, tmp_path):
    make_status(db, None, T0)
    kept = make_file(db, tmp_path, T0 + timedelta(seconds=1))
    lost = make_file(db, tmp_path, T0 + timedelta(seconds=2))
    assert db.check_file_store() == {"orphans": [], "missing": [], "strays": []}
    os.remove(db.file_path_for_id(lost.file_id))
    orphan = uuid.uuid4()
    db.file_store.put_stream(orphan, io.BytesIO(b"no row for me"))
    with open(db.file_store.temporary_path(), "wb") as writer:
        writer.write(b"half written")
    report = db.check_file_store()
    assert report["orphans"] == [orphan]
    assert report["missing"] == [lost.file_id]
    assert len(report["strays"]) == 1 and report["strays"][0].startswith(".tmp-")
    assert db.file_store.has_content(kept.file_id)


# --- import -------------------------------------------------------------------------------


def import_rows(db, table) -> list:
    with db.connection() as connection:
        return connection.execute(select(table)).all()


@pytest.mark.both_stores
def test_import_file_record_keeps_its_ids_and_logs_the_import(db):
    status = remote_status(db, T0)
    record = remote_file(db, status, REMOTE_FILE_TIME)
    before = model.utc_datetime_to_milliseconds(model.now())
    internal_id = db.import_file_record(record, "importer")
    after = model.utc_datetime_to_milliseconds(model.now())
    assert isinstance(internal_id, int)
    assert db.get_file(record.file_id) == record
    [log] = import_rows(db, schema.t_fileimport)
    assert log.fileid == internal_id and log.importuser == "importer"
    assert before <= log.importtime <= after


def test_importing_a_present_file_record_is_a_no_op(db):
    status = remote_status(db, T0)
    record = remote_file(db, status, REMOTE_FILE_TIME)
    internal_id = db.import_file_record(record, "importer")
    again = db.import_file_record(record, "someone_else")
    assert again == internal_id
    assert len(import_rows(db, schema.t_fileimport)) == 1
    assert count_rows(db, schema.t_file) == 1


@pytest.mark.both_stores
def test_import_file_record_without_md5_stores_the_content_md5(db):
    status = remote_status(db, T0)
    record = remote_file(db, status, REMOTE_FILE_TIME, md5=None)
    db.import_file_record(record, "importer")
    assert db.get_file(record.file_id).md5 == model.get_md5_hash(db.file_path_for_id(record.file_id))


def test_import_file_record_of_a_local_camera_status(db, tmp_path):
    status = make_status(db, "cam1", T0)
    record = remote_file(db, status, REMOTE_FILE_TIME)
    db.import_file_record(record, "importer")
    assert db.get_file(record.file_id).status_id == status.status_id


@pytest.mark.parametrize("case, message", [
    ("no_content", "no content"),
    ("size_mismatch", "file_size"),
    ("md5_mismatch", "md5"),
    ("unknown_status", "not a known camera status"),
    ("superseded_status", "not the status in force"),
    ("status_of_other_camera", "not the status in force"),
    ("before_status", "not the status in force"),
    ("no_file_id", "file_id"),
    ("no_file_time", "file_time"),
    ("bad_meta", "meta"),
    ("not_a_record", "file_record"),
    ("bad_user", "user_id"),
])
def test_import_file_record_rejects_inconsistent_input(db, case, message):
    status = remote_status(db, T0)
    newer = remote_status(db, valid_from=T0 + timedelta(hours=1))
    other = remote_status(db, T0, camera_id="remote000002")
    time = T0 + timedelta(hours=2)
    user = "importer"
    changes = {
        "size_mismatch": {"file_size": 99},
        "md5_mismatch": {"md5": "0" * 32},
        "unknown_status": {"status_id": uuid.uuid4()},
        "superseded_status": {"status_id": status.status_id},
        "status_of_other_camera": {"status_id": other.status_id},
        "before_status": {"status_id": status.status_id},
    }.get(case, {"status_id": newer.status_id})
    if case == "before_status":
        time = T0 - timedelta(seconds=1)
    record = remote_file(db, status, file_time=time, store=case != "no_content", **changes)
    if case == "no_file_id":
        record.file_id = None
    elif case == "no_file_time":
        record.file_time = None
    elif case == "bad_meta":
        record.meta = [_mutated_meta(None)]
    elif case == "not_a_record":
        record = record.as_dict()
    elif case == "bad_user":
        user = ""
    with pytest.raises(ValueError, match=message):
        db.import_file_record(record, user)
    assert count_rows(db, schema.t_file) == 0
    assert count_rows(db, schema.t_fileimport) == 0


def remote_event(status, files, event_time=T0 + timedelta(hours=3), **changes) -> model.Event:
    fields = dict(camera_id=status.camera_id, event_time=event_time, event_id=uuid.uuid4(),
                  event_type="meteorpi:meteor", status_id=status.status_id, file_records=list(files),
                  meta=[model.Meta("meteorpi:duration", 1.25), model.Meta("meteorpi:label", "bright")])
    fields.update(changes)
    return model.Event(**fields)


@pytest.mark.both_stores
def test_import_event_imports_missing_files_and_links_present_ones(db):
    status = remote_status(db, T0)
    present = remote_file(db, status, REMOTE_FILE_TIME)
    db.import_file_record(present, "importer")
    missing = remote_file(db, status, file_time=T0 + timedelta(hours=2, minutes=1))
    event = remote_event(status, [missing, present])
    internal_id = db.import_event(event, "importer")
    assert db.get_event(event.event_id) == event
    assert db.get_file(missing.file_id) == missing
    [event_log] = import_rows(db, schema.t_eventimport)
    assert event_log.eventid == internal_id and event_log.importuser == "importer"
    assert len(import_rows(db, schema.t_fileimport)) == 2
    assert db.import_event(event, "importer") == internal_id
    assert len(import_rows(db, schema.t_eventimport)) == 1


@pytest.mark.both_stores
def test_import_event_links_locally_registered_files(db, tmp_path):
    status = make_status(db, None, T0)
    local = make_file(db, tmp_path, T0 + timedelta(minutes=1))
    event = remote_event(status, [local], event_time=T0 + timedelta(minutes=2))
    db.import_event(event, "importer")
    assert db.get_event(event.event_id).file_records == [local]
    assert len(import_rows(db, schema.t_fileimport)) == 0


@pytest.mark.parametrize("case, message", [
    ("file_without_content", "no content"),
    ("file_with_wrong_status", "not the status in force"),
    ("event_with_unknown_status", "not a known camera status"),
    ("event_before_status", "not the status in force"),
    ("duplicate_file", "listed twice"),
    ("bad_meta", r"event.meta\[0\]"),
    ("not_an_event", "event"),
    ("bad_user", "user_id"),
])
def test_import_event_is_all_or_nothing(db, case, message):
    status = remote_status(db, T0)
    newer = remote_status(db, valid_from=T0 + timedelta(hours=1))
    good = remote_file(db, newer, REMOTE_FILE_TIME)
    files = [good]
    changes = {}
    user = "importer"
    if case == "file_without_content":
        files.append(remote_file(db, newer, REMOTE_FILE_TIME, store=False))
    elif case == "file_with_wrong_status":
        files.append(remote_file(db, status, REMOTE_FILE_TIME))
    elif case == "event_with_unknown_status":
        changes = {"status_id": uuid.uuid4()}
    elif case == "event_before_status":
        changes = {"event_time": T0 - timedelta(seconds=1)}
    elif case == "duplicate_file":
        files.append(good)
    event = remote_event(newer, files, **changes)
    if case == "bad_meta":
        event.meta = [_mutated_meta(None)]
    elif case == "not_an_event":
        event = event.as_dict()
    elif case == "bad_user":
        user = None
    with pytest.raises(ValueError, match=message):
        db.import_event(event, user)
    assert count_rows(db, schema.t_event) == 0
    assert count_rows(db, schema.t_file) == 0
    assert count_rows(db, schema.t_fileimport) == 0
    assert count_rows(db, schema.t_eventimport) == 0


@pytest.mark.both_stores
def test_concurrent_imports_of_one_event_store_it_once(db):
    status = remote_status(db, T0)
    event = remote_event(status, [remote_file(db, status, REMOTE_FILE_TIME)])
    start = threading.Barrier(4)
    results, errors = [], []

    def import_it() -> None:
        start.wait()
        try:
            results.append(db.import_event(event, "importer"))
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=import_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(results) == 4 and len(set(results)) == 1
    assert count_rows(db, schema.t_event) == 1 and count_rows(db, schema.t_file) == 1
    assert count_rows(db, schema.t_eventimport) == 1 and count_rows(db, schema.t_fileimport) == 1
    assert db.get_event(event.event_id) == event
