"""The high water mark: advancing, rolling back (rows and content, one camera only), atomicity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, func, select

import meteorpi_model as model
from meteorpi_fdb import schema
from tests.helpers import make_event, make_file, make_status, utc


#: Every test here runs on both file stores: a directory and a bucket (tests/object_store_helpers.py).
pytestmark = pytest.mark.both_stores


T = utc(2015, 6, 1, 20)
HOUR = timedelta(hours=1)
OTHER = "other-camera"


@dataclass
class CameraData:
    """What ``populate`` stored for one camera: a status and a file and event either side of T+2h."""

    early_status: model.CameraStatus
    late_status: model.CameraStatus
    early_file: model.FileRecord
    late_file: model.FileRecord
    early_event: model.Event
    late_event: model.Event


def populate(db, directory, camera_id: str | None = None) -> CameraData:
    """Statuses at T and T+2h, a file and an event (with metadata) at T+1h and at T+3h; mark T+4h."""
    early_status = make_status(db, camera_id, T, inst_name="early")
    late_status = make_status(db, camera_id, T + 2 * HOUR, inst_name="late")
    meta = [model.Meta("meteorpi:brightness", 3.5), model.Meta("meteorpi:seen", T)]
    early_file = make_file(db, directory, T + HOUR, camera_id=camera_id, meta=meta)
    late_file = make_file(db, directory, T + 3 * HOUR, camera_id=camera_id, meta=meta)
    early_event = make_event(db, T + HOUR, camera_id=camera_id, files=[early_file], meta=meta)
    late_event = make_event(db, T + 3 * HOUR, camera_id=camera_id, files=[late_file, early_file], meta=meta)
    db.set_high_water_mark(T + 4 * HOUR, camera_id)
    return CameraData(early_status, late_status, early_file, late_file, early_event, late_event)


def present(db, data: CameraData) -> dict[str, bool]:
    """Which of ``data``'s rows and contents the database still has."""
    return {
        "early_status": db.has_status_id(data.early_status.status_id),
        "late_status": db.has_status_id(data.late_status.status_id),
        "early_file": db.has_file_id(data.early_file.file_id),
        "late_file": db.has_file_id(data.late_file.file_id),
        "early_content": db.file_store.has_content(data.early_file.file_id),
        "late_content": db.file_store.has_content(data.late_file.file_id),
        "early_event": db.has_event_id(data.early_event.event_id),
        "late_event": db.has_event_id(data.late_event.event_id),
    }


EVERYTHING = dict.fromkeys(
    [
        "early_status", "late_status", "early_file", "late_file",
        "early_content", "late_content", "early_event", "late_event",
    ],
    True,
)
ONLY_EARLY = {name: name.startswith("early") for name in EVERYTHING}


def row_counts(db) -> dict[str, int]:
    tables = [
        schema.t_camerastatus, schema.t_visibleregions, schema.t_file, schema.t_filemeta,
        schema.t_event, schema.t_eventmeta, schema.t_event_to_file,
    ]
    with db.connection() as connection:
        return {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in tables
        }


def test_no_mark_until_one_is_set(db):
    assert db.get_high_water_mark() is None
    assert db.get_high_water_mark("any-camera") is None


def test_first_mark_and_advance(db):
    db.set_high_water_mark(T)
    assert db.get_high_water_mark() == T

    db.set_high_water_mark(T + HOUR)
    mark = db.get_high_water_mark()

    assert mark == T + HOUR
    assert mark.tzinfo is not None and mark.utcoffset() == timedelta(0)


def test_mark_keeps_milliseconds_and_accepts_naive_and_other_zones(db):
    db.set_high_water_mark(datetime(2015, 6, 1, 20, 0, 0, 123_456))
    assert db.get_high_water_mark() == utc(2015, 6, 1, 20, 0, 0, 123)

    db.set_high_water_mark(datetime(2015, 6, 1, 23, 0, tzinfo=timezone(timedelta(hours=2))))
    assert db.get_high_water_mark() == utc(2015, 6, 1, 21)


def test_marks_are_per_camera(db):
    db.set_high_water_mark(T)
    db.set_high_water_mark(T + HOUR, "cam-a")
    db.set_high_water_mark(T - HOUR, "cam-a")

    assert db.get_high_water_mark() == T
    assert db.get_high_water_mark("cam-a") == T - HOUR
    assert db.get_high_water_mark("cam-b") is None


def test_advancing_deletes_nothing(db, tmp_path):
    data = populate(db, tmp_path / "in")
    db.set_high_water_mark(T + 5 * HOUR)

    assert present(db, data) == EVERYTHING


def test_rollback_deletes_later_data_of_that_camera_only(db, tmp_path):
    mine = populate(db, tmp_path / "in")
    theirs = populate(db, tmp_path / "in", OTHER)
    before = row_counts(db)

    db.set_high_water_mark(T + HOUR + HOUR / 2)

    assert db.get_high_water_mark() == T + HOUR + HOUR / 2
    assert present(db, mine) == ONLY_EARLY
    assert present(db, theirs) == EVERYTHING
    assert db.get_high_water_mark(OTHER) == T + 4 * HOUR
    after = row_counts(db)
    assert after == {
        "t_camerastatus": before["t_camerastatus"] - 1,
        "t_visibleregions": before["t_visibleregions"],
        "t_file": before["t_file"] - 1,
        "t_filemeta": before["t_filemeta"] - 2,
        "t_event": before["t_event"] - 1,
        "t_eventmeta": before["t_eventmeta"] - 2,
        "t_event_to_file": before["t_event_to_file"] - 2,
    }
    assert sorted(db.file_store.stored_ids()) == sorted(
        [mine.early_file.file_id, theirs.early_file.file_id, theirs.late_file.file_id]
    )
    assert db.get_event(mine.early_event.event_id) == mine.early_event
    assert db.get_camera_status_by_id(mine.early_status.status_id).valid_to is None


def test_rollback_keeps_data_exactly_at_the_new_mark(db, tmp_path):
    data = populate(db, tmp_path / "in")

    db.set_high_water_mark(T + 2 * HOUR)

    assert present(db, data) == {**EVERYTHING, "late_file": False, "late_content": False, "late_event": False}


def test_rollback_before_everything_deletes_everything_later(db, tmp_path):
    data = populate(db, tmp_path / "in")

    db.set_high_water_mark(T - HOUR)

    assert not any(present(db, data).values())
    assert db.get_cameras() == []
    assert list(db.file_store.stored_ids()) == []
    assert db.get_high_water_mark() == T - HOUR


def test_rollback_clears_caches(db, tmp_path):
    data = populate(db, tmp_path / "in")
    assert db.get_file(data.late_file.file_id) is not None
    assert db.get_event(data.late_event.event_id) is not None
    assert db.get_camera_status_by_id(data.late_status.status_id) is not None
    assert db.get_camera_status_by_id(data.early_status.status_id).valid_to == T + 2 * HOUR

    db.set_high_water_mark(T + HOUR)

    assert db.get_file(data.late_file.file_id) is None
    assert db.get_event(data.late_event.event_id) is None
    assert db.get_camera_status_by_id(data.late_status.status_id) is None
    assert db.get_camera_status_by_id(data.early_status.status_id).valid_to is None


def test_update_camera_status_in_the_past_rolls_back(db, tmp_path):
    data = populate(db, tmp_path / "in")

    replacement = db.update_camera_status(data.late_status, time=T + HOUR + HOUR / 2)

    assert present(db, data) == ONLY_EARLY
    assert db.get_high_water_mark() == T + HOUR + HOUR / 2
    assert db.get_camera_status(T + 10 * HOUR) == replacement
    assert db.get_camera_status_by_id(data.early_status.status_id).valid_to == T + HOUR + HOUR / 2


def test_update_camera_status_in_the_future_advances(db, tmp_path):
    data = populate(db, tmp_path / "in")

    db.update_camera_status(data.late_status, time=T + 6 * HOUR)

    assert present(db, data) == EVERYTHING
    assert db.get_high_water_mark() == T + 6 * HOUR


@pytest.mark.parametrize(
    "first, second, allow_rollback, allow_advance, expected",
    [
        (None, T, True, False, None),
        (None, T, False, True, T),
        (T, T + HOUR, True, False, T),
        (T, T + HOUR, False, True, T + HOUR),
        (T, T - HOUR, False, True, T),
        (T, T - HOUR, True, False, T - HOUR),
        (T, T, False, False, T),
    ],
)
def test_allow_flags(db, first, second, allow_rollback, allow_advance, expected):
    if first is not None:
        db.set_high_water_mark(first)

    db.set_high_water_mark(second, allow_rollback=allow_rollback, allow_advance=allow_advance)

    assert db.get_high_water_mark() == expected


def test_refused_rollback_deletes_nothing(db, tmp_path):
    data = populate(db, tmp_path / "in")

    db.set_high_water_mark(T - HOUR, allow_rollback=False)

    assert present(db, data) == EVERYTHING
    assert db.get_high_water_mark() == T + 4 * HOUR


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"time": "2015-06-01"}, "time"),
        ({"time": None}, "time"),
        ({"time": T, "camera_id": ""}, "camera_id"),
        ({"time": T, "camera_id": "c" * 65}, "camera_id"),
        ({"time": T, "camera_id": "new\nline"}, "camera_id"),
        ({"time": T, "camera_id": 5}, "camera_id"),
    ],
)
def test_bad_arguments(db, tmp_path, kwargs, field):
    data = populate(db, tmp_path / "in")

    with pytest.raises(ValueError, match=field):
        db.set_high_water_mark(**kwargs)

    assert present(db, data) == EVERYTHING
    assert db.get_high_water_mark() == T + 4 * HOUR


@pytest.mark.parametrize("camera_id", ["", "c" * 65, 5])
def test_get_with_bad_camera_id(db, camera_id):
    with pytest.raises(ValueError, match="camera_id"):
        db.get_high_water_mark(camera_id)


class SimulatedFailure(Exception):
    pass


@pytest.fixture
def fail_on(db):
    """Make every statement that starts with the given SQL (case-insensitive) raise, on the real
    database connection, until the returned function is called or the test ends."""
    listeners = []

    def stop(listener) -> None:
        if listener in listeners:
            listeners.remove(listener)
            event.remove(db.engine, "before_cursor_execute", listener)

    def install(prefix: str):
        def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
            if " ".join(statement.split()).upper().startswith(prefix.upper()):
                raise SimulatedFailure(f"simulated failure at {prefix}")

        event.listen(db.engine, "before_cursor_execute", before_cursor_execute)
        listeners.append(before_cursor_execute)
        return lambda: stop(before_cursor_execute)

    yield install
    for listener in list(listeners):
        stop(listener)


@pytest.mark.parametrize(
    "failing_statement",
    ["DELETE FROM t_camerastatus", "DELETE FROM t_file", "UPDATE t_highwatermark"],
)
def test_failed_rollback_changes_nothing(db, tmp_path, fail_on, failing_statement):
    mine = populate(db, tmp_path / "in")
    theirs = populate(db, tmp_path / "in", OTHER)
    counts = row_counts(db)
    fail_on(failing_statement)

    with pytest.raises(SimulatedFailure):
        db.set_high_water_mark(T + HOUR)

    assert present(db, mine) == EVERYTHING
    assert present(db, theirs) == EVERYTHING
    assert row_counts(db) == counts
    assert db.get_high_water_mark() == T + 4 * HOUR


def test_failed_status_insert_undoes_its_rollback(db, tmp_path, fail_on):
    data = populate(db, tmp_path / "in")
    counts = row_counts(db)
    fail_on("INSERT INTO t_camerastatus")

    with pytest.raises(SimulatedFailure):
        db.update_camera_status(data.late_status, time=T + HOUR)

    assert present(db, data) == EVERYTHING
    assert row_counts(db) == counts
    assert db.get_high_water_mark() == T + 4 * HOUR


def test_rollback_succeeds_after_a_failed_attempt(db, tmp_path, fail_on):
    data = populate(db, tmp_path / "in")
    stop_failing = fail_on("DELETE FROM t_camerastatus")
    with pytest.raises(SimulatedFailure):
        db.set_high_water_mark(T + HOUR + HOUR / 2)
    stop_failing()

    db.set_high_water_mark(T + HOUR + HOUR / 2)

    assert present(db, data) == ONLY_EARLY
    assert db.get_high_water_mark() == T + HOUR + HOUR / 2
