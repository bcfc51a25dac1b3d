"""``MeteorDatabase.batch()``: content placed with one directory flush, rows in one transaction,
duplicates skipped, per-item outcomes, failures that leave every source in place."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

import meteorpi_model as model
from meteorpi_fdb import DUPLICATE, FAILED, REGISTERED, file_store, schema
from tests.helpers import make_file, make_status, store_names, utc, write_content
from tests.test_durability import fail_metadata_inserts

#: Batches place content in either store (tests/object_store_helpers.py).
pytestmark = pytest.mark.both_stores

T0 = utc(2024, 8, 1)
OTHER = "b827eb000002"


def count(db, table) -> int:
    with db.connection() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def sources(tmp_path: Path, n: int, prefix: bytes = b"content") -> list[str]:
    return [write_content(tmp_path / "in", prefix + b"-%d" % index) for index in range(n)]


def add_meteor(batch, paths: list[str], when, key=None):
    files = [batch.add_file(path, "image/png", "meteorpi:meteor_image", when,
                            [model.Meta("meteorpi:gain", 12)], file_name=os.path.basename(path))
             for path in paths]
    return batch.add_event(None, when, "meteorpi:meteor", files, [model.Meta("meteorpi:shower", "PER")], key=key)


def test_a_batch_registers_events_with_their_files_and_moves_the_sources(db, tmp_path):
    make_status(db, None, T0)
    paths = sources(tmp_path, 5)
    with db.batch() as batch:
        sky = batch.add_file(paths[4], "image/png", "meteorpi:sky", T0 + timedelta(hours=1), None, key="sky")
        meteors = [add_meteor(batch, paths[2 * i: 2 * i + 2], T0 + timedelta(hours=2, minutes=i), key=i)
                   for i in range(2)]
    assert {item.outcome for item in batch.items} == {REGISTERED}
    assert [item.key for item in batch.items if item.key is not None] == ["sky", 0, 1]
    assert len(batch.items) == 7  # every file and event added, in order
    assert all(not os.path.exists(path) for path in paths)
    stored = db.get_event(meteors[1].entity.event_id)
    assert stored == meteors[1].entity
    assert [f.file_name for f in stored.file_records] == [os.path.basename(p) for p in paths[2:4]]
    assert [item.outcome for item in meteors[0].files] == [REGISTERED, REGISTERED]
    assert db.get_file(sky.entity.file_id) == sky.entity
    with open(db.file_path_for_id(sky.entity.file_id), "rb") as reader:
        assert reader.read() == b"content-4"
    assert db.check_file_store() == {"orphans": [], "missing": [], "strays": []}


def copy_batch(db, tmp_path: Path) -> tuple[list[str], model.FileRecord]:
    """Register two sources in copy mode: their paths and the first one's record."""
    make_status(db, None, T0)
    paths = sources(tmp_path, 2)
    with db.batch(copy=True) as batch:
        meteor = add_meteor(batch, paths, T0 + timedelta(hours=1))
    assert meteor.outcome == REGISTERED
    return paths, meteor.entity.file_records[0]


def test_copy_mode_leaves_the_sources(db, tmp_path):
    paths, record = copy_batch(db, tmp_path)
    assert [Path(path).read_bytes() for path in paths] == [b"content-0", b"content-1"]
    assert db.file_store.hash_content(record.file_id) == (9, model.get_md5_hash(paths[0]))


@pytest.mark.directory_store("a copy, not a hard link, is about the directory store's inodes")
def test_copy_mode_copies_rather_than_links(db, tmp_path):
    paths, record = copy_batch(db, tmp_path)
    assert os.stat(db.file_path_for_id(record.file_id)).st_ino != os.stat(paths[0]).st_ino


@pytest.mark.directory_store("it counts fsyncs of the store's directory")
def test_the_store_directory_is_flushed_once_per_batch(db, tmp_path, monkeypatch):
    make_status(db, None, T0)
    paths = sources(tmp_path, 20)
    flushed = []
    real = file_store._fsync_directory
    monkeypatch.setattr(file_store, "_fsync_directory", lambda path: flushed.append(path) or real(path))
    with db.batch() as batch:
        for i in range(10):
            add_meteor(batch, paths[2 * i: 2 * i + 2], T0 + timedelta(minutes=i + 1))
    assert flushed == [db.file_store.root]
    assert count(db, schema.t_file) == 20


def test_a_rerun_skips_what_is_registered_and_finishes_the_rest(db, tmp_path):
    make_status(db, None, T0)
    paths = sources(tmp_path, 6)
    with db.batch(copy=True) as batch:
        first = add_meteor(batch, paths[:2], T0 + timedelta(hours=1))
        batch.add_file(paths[4], "image/png", "meteorpi:sky", T0 + timedelta(hours=1), None)
    with db.batch(copy=True) as batch:
        again = add_meteor(batch, paths[:2], T0 + timedelta(hours=1))
        second = add_meteor(batch, paths[2:4], T0 + timedelta(hours=2))
        sky = batch.add_file(paths[4], "image/png", "meteorpi:sky", T0 + timedelta(hours=1), None)
        other_type = batch.add_file(paths[4], "image/png", "meteorpi:other", T0 + timedelta(hours=1), None)
        new = batch.add_file(paths[5], "image/png", "meteorpi:sky", T0 + timedelta(hours=1), None)
        twin = batch.add_file(paths[5], "image/png", "meteorpi:sky", T0 + timedelta(hours=1), None)
    assert [i.outcome for i in (again, second, sky, other_type, new, twin)] == [
        DUPLICATE, REGISTERED, DUPLICATE, REGISTERED, REGISTERED, DUPLICATE]
    assert again.entity == first.entity
    assert [f.outcome for f in again.files] == [DUPLICATE, DUPLICATE]
    assert second.outcome == REGISTERED and other_type.outcome == REGISTERED
    assert sky.entity.md5 == model.get_md5_hash(paths[4])
    assert twin.entity == new.entity
    assert count(db, schema.t_event) == 2 and count(db, schema.t_file) == 7
    with db.batch(copy=True, allow_duplicates=True) as batch:
        forced = add_meteor(batch, paths[:2], T0 + timedelta(hours=1))
    assert forced.outcome == REGISTERED and count(db, schema.t_event) == 3


def test_an_event_with_other_files_is_not_a_duplicate(db, tmp_path):
    make_status(db, None, T0)
    paths = sources(tmp_path, 3)
    with db.batch(copy=True) as batch:
        add_meteor(batch, paths[:2], T0 + timedelta(hours=1))
    with db.batch(copy=True) as batch:
        bigger = add_meteor(batch, paths[:3], T0 + timedelta(hours=1))
    assert bigger.outcome == REGISTERED
    # its files registered before belong to the first event: registered again for this one
    assert [f.outcome for f in bigger.files] == [REGISTERED] * 3


def test_files_registered_without_their_event_are_linked_not_registered_again(db, tmp_path):
    make_status(db, None, T0)
    when = T0 + timedelta(hours=1)
    paths = sources(tmp_path, 2)
    alone = db.register_file(paths[0], "image/png", "meteorpi:meteor_image", when, [],
                             file_name=os.path.basename(paths[0]))
    paths[0] = write_content(tmp_path / "again", b"content-0")
    with db.batch() as batch:
        meteor = add_meteor(batch, paths, when)
    assert meteor.outcome == REGISTERED
    assert [f.outcome for f in meteor.files] == [DUPLICATE, REGISTERED]
    assert meteor.entity.file_records[0].file_id == alone.file_id
    assert not os.path.exists(paths[0])  # its content is in the store: the move is complete
    assert count(db, schema.t_file) == 2


def test_a_source_moved_in_by_an_interrupted_run_is_a_duplicate(db, tmp_path):
    make_status(db, None, T0)
    paths = sources(tmp_path, 3)
    with db.batch() as batch:
        add_meteor(batch, paths[:2], T0 + timedelta(hours=1))
    assert not os.path.exists(paths[0])
    with db.batch() as batch:
        again = add_meteor(batch, paths[:2], T0 + timedelta(hours=1))
        gone = batch.add_file(str(tmp_path / "in" / "never-there.png"), "image/png", "meteorpi:sky",
                              T0, None, file_name="never-there.png")
        fresh = batch.add_file(paths[2], "image/png", "meteorpi:sky", T0, None)
    assert [i.outcome for i in (again, gone, fresh)] == [DUPLICATE, FAILED, REGISTERED]
    assert "never-there.png is not a readable file" in gone.error
    assert count(db, schema.t_event) == 1


def test_items_fail_alone_and_an_event_fails_with_its_files(db, tmp_path):
    make_status(db, None, T0)
    paths = sources(tmp_path, 4)
    with db.batch() as batch:
        early = add_meteor(batch, paths[:2], T0 - timedelta(days=1))
        unreadable = add_meteor(batch, [paths[2], str(tmp_path / "missing.png")], T0 + timedelta(hours=1))
        fine = batch.add_file(paths[3], "image/png", "meteorpi:sky", T0 + timedelta(hours=1), None)
    assert early.outcome == FAILED and "no camera status in force" in early.error
    assert [f.outcome for f in early.files] == [FAILED, FAILED]
    assert unreadable.outcome == FAILED and "missing.png is not a readable file" in unreadable.error
    assert fine.outcome == REGISTERED
    assert all(os.path.exists(p) for p in paths[:3])
    assert count(db, schema.t_file) == 1 and count(db, schema.t_event) == 0
    assert db.check_file_store() == {"orphans": [], "missing": [], "strays": []}


def test_a_failed_transaction_writes_nothing_and_leaves_every_source(db, tmp_path):
    make_status(db, None, T0)
    paths = sources(tmp_path, 4)
    fail_metadata_inserts(db)
    with pytest.raises(DBAPIError, match="simulated failure"):
        with db.batch() as batch:
            add_meteor(batch, paths[:2], T0 + timedelta(hours=1))
            add_meteor(batch, paths[2:], T0 + timedelta(hours=2))
    assert {item.outcome for item in batch.items} == {FAILED}
    assert [Path(p).read_bytes() for p in paths] == [b"content-%d" % i for i in range(4)]
    assert count(db, schema.t_file) == 0 and count(db, schema.t_event) == 0
    assert store_names(db.file_store) == []


def test_an_error_in_the_block_places_and_writes_nothing(db, tmp_path):
    make_status(db, None, T0)
    paths = sources(tmp_path, 2)
    with pytest.raises(RuntimeError):
        with db.batch() as batch:
            add_meteor(batch, paths, T0 + timedelta(hours=1))
            raise RuntimeError("changed my mind")
    assert all(os.path.exists(p) for p in paths) and store_names(db.file_store) == []


@pytest.mark.directory_store("a source inside the store's directory is refused; a bucket has no directory")
def test_bad_arguments_raise_at_once(db, tmp_path):
    paths = sources(tmp_path, 1)
    with db.batch() as batch:
        with pytest.raises(ValueError, match="file_time"):
            batch.add_file(paths[0], "image/png", "meteorpi:sky", "yesterday", None)
        with pytest.raises(ValueError, match="inside the file store"):
            batch.add_file(os.path.join(db.file_store.root, "x"), "image/png", "meteorpi:sky", T0, None)
        item = batch.add_file(paths[0], "image/png", "meteorpi:sky", T0, None)
        batch.add_event(None, T0, "meteorpi:meteor", [item])
        with pytest.raises(ValueError, match="another event"):
            batch.add_event(None, T0, "meteorpi:meteor", [item])
        with pytest.raises(ValueError, match=r"file_records\[0\]"):
            batch.add_event(None, T0, "meteorpi:meteor", ["not a file"])
    assert batch.items[-1].outcome == FAILED  # no status: nothing written
    with pytest.raises(ValueError, match="committed already"):
        batch.add_file(paths[0], "image/png", "meteorpi:sky", T0, None)


def test_events_can_link_registered_files(db, tmp_path):
    make_status(db, None, T0)
    registered = make_file(db, tmp_path, T0 + timedelta(hours=1))
    with db.batch() as batch:
        new = batch.add_file(sources(tmp_path, 1)[0], "image/png", "meteorpi:x", T0 + timedelta(hours=1), None)
        event = batch.add_event(None, T0 + timedelta(hours=1), "meteorpi:meteor", [registered, new])
        unknown = model.FileRecord(camera_id=db.installation_id, mime_type="a/b", semantic_type="meteorpi:x",
                                   status_id=uuid.uuid4(), file_id=uuid.uuid4(), file_time=T0)
        broken = batch.add_event(None, T0 + timedelta(hours=1), "meteorpi:meteor", [unknown])
    assert event.outcome == REGISTERED
    assert [f.file_id for f in db.get_event(event.entity.event_id).file_records] == [
        registered.file_id, new.entity.file_id]
    assert broken.outcome == FAILED and "no registered file with file_id" in broken.error


# -- import (entities from another node, with their ids) ---------------------------------


def remote_event(tmp_path: Path, status: model.CameraStatus, n_files: int = 2):
    when = utc(2024, 8, 12, 1)
    records, paths = [], {}
    for index in range(n_files):
        path = write_content(tmp_path / "received", b"remote-%d" % index)
        record = model.FileRecord(camera_id=status.camera_id, mime_type="image/png",
                                  semantic_type="meteorpi:meteor_image", status_id=status.status_id,
                                  file_id=uuid.uuid4(), file_time=when, file_size=os.path.getsize(path),
                                  md5=model.get_md5_hash(path), file_name=f"{index}.png",
                                  meta=[model.Meta("meteorpi:gain", 3)])
        records.append(record)
        paths[record.file_id] = path
    event = model.Event(status.camera_id, when, uuid.uuid4(), "meteorpi:meteor", status.status_id, records,
                        [model.Meta("meteorpi:shower", "PER")])
    return event, paths


def remote_status() -> model.CameraStatus:
    from tests.helpers import status_block

    status = status_block(camera_id=OTHER)
    status.status_id = uuid.uuid4()
    status.valid_from = T0
    return status


def test_importing_statuses_files_and_events_with_their_ids(db, tmp_path):
    status = remote_status()
    event, paths = remote_event(tmp_path, status)
    loose, loose_paths = remote_event(tmp_path, status, 1)
    with db.batch() as batch:
        status_item = batch.import_status(status)
        event_item = batch.import_event(event, "importer", paths)
        file_item = batch.import_file(loose.file_records[0], "importer", loose_paths[loose.file_records[0].file_id])
    assert [i.outcome for i in batch.items] == [REGISTERED] * 3
    assert db.get_event(event.event_id) == event
    assert db.get_file(file_item.entity.file_id) == loose.file_records[0]
    assert status_item.entity.status_id == status.status_id
    assert not any(os.path.exists(p) for p in list(paths.values()) + list(loose_paths.values()))
    with db.connection() as connection:
        users = connection.execute(select(schema.t_fileimport.c.importuser)).scalars().all()
        assert users == ["importer"] * 3
        assert connection.execute(select(schema.t_eventimport.c.importuser)).scalars().all() == ["importer"]
    with db.batch() as batch:
        again = [batch.import_status(status), batch.import_event(event, "importer"),
                 batch.import_file(loose.file_records[0], "importer")]
    assert [i.outcome for i in again] == [DUPLICATE] * 3
    assert again[1].entity == event
    assert count(db, schema.t_file) == 3


def test_imports_check_status_size_and_md5(db, tmp_path):
    status = remote_status()
    make_status(db, OTHER, T0)
    event, paths = remote_event(tmp_path, status)
    corrupt, corrupt_paths = remote_event(tmp_path, status, 1)
    Path(corrupt_paths[corrupt.file_records[0].file_id]).write_bytes(b"remote-X")
    with db.batch() as batch:
        wrong_status = batch.import_event(event, "importer", paths)
        wrong_md5 = batch.import_event(corrupt, "importer", corrupt_paths)
    assert wrong_status.outcome == FAILED and "is not a known camera status" in wrong_status.error
    assert wrong_md5.outcome == FAILED and "does not match its content" in wrong_md5.error
    assert all(os.path.exists(p) for p in list(paths.values()) + list(corrupt_paths.values()))
    assert count(db, schema.t_file) == 0 and store_names(db.file_store) == []


def test_imports_accept_content_already_in_the_store(db, tmp_path):
    status = remote_status()
    event, paths = remote_event(tmp_path, status)
    for file_id, path in paths.items():
        with open(path, "rb") as reader:
            db.file_store.put_stream(file_id, reader)
    with db.batch() as batch:
        batch.import_status(status)
        item = batch.import_event(event, "importer")
    assert item.outcome == REGISTERED and db.get_event(event.event_id) == event
