"""SQLBuilder and to_text: the seed's raw-SQL style (2015 mixed-case names, ``?`` placeholders)
runs unchanged on every backend."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

import meteorpi_model as model
from meteorpi_fdb.generators import FILE_COLUMNS
from meteorpi_fdb.sql_builder import SQLBuilder, search_events_sql_builder, search_files_sql_builder, to_text
from tests.helpers import make_event, make_file, make_status, utc

T0 = utc(2015, 4, 1, 20)
HOUR = timedelta(hours=1)
MIME_TYPES = {1: "image/png", 2: "image/png", 3: "image/png", 4: "video/mp4", 5: "video/mp4", 6: "text/plain"}


@pytest.fixture
def seeded(db, tmp_path):
    """Six files (file i at T0 + i hours, brightness i; odd on cam1, even on cam2) and three events."""
    make_status(db, "cam1", T0, 50.0, 0.0)
    make_status(db, "cam2", T0, 40.0, 10.0)
    files = {
        i: make_file(db, tmp_path, T0 + i * HOUR, camera_id="cam1" if i % 2 else "cam2", mime_type=MIME_TYPES[i],
                     meta=[model.Meta("meteorpi:brightness", float(i))])
        for i in range(1, 7)
    }
    events = [
        make_event(db, T0 + HOUR, camera_id="cam1", files=[files[1]], event_type="meteorpi:meteor"),
        make_event(db, T0 + 2 * HOUR, camera_id="cam2", files=[files[2]], event_type="meteorpi:meteor"),
        make_event(db, T0 + 3 * HOUR, camera_id="cam1", event_type="meteorpi:plane"),
    ]
    return db, files, events


def seed_dialect(db, use_dialect: bool) -> str | None:
    """The 2015 constructor had no dialect; without one the builder writes LIMIT/OFFSET, which
    suits SQLite and PostgreSQL. Firebird has no LIMIT, so there the dialect is always needed."""
    return db.backend if use_dialect or db.backend == "firebird" else None


def run(db, sql: str, args) -> list[tuple]:
    statement, params = to_text(sql, args)
    with db.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(statement, params)]


@pytest.mark.parametrize("use_dialect", [False, True])
def test_the_seed_file_query(seeded, use_dialect):
    db, files, _ = seeded
    builder = SQLBuilder("t_file f, t_cameraStatus s", ["f.statusID = s.internalID"], seed_dialect(db, use_dialect))
    builder.add_set_membership(["cam1", "cam2"], "f.cameraID")
    builder.add_sql(T0 + 90 * timedelta(minutes=1), "f.fileTime > ?")
    builder.add_set_membership(["image/png", "video/mp4"], "f.mimeType")
    builder.add_metadata_query_properties([model.MetaConstraint("greater", "meteorpi:brightness", 3.0)], "t_fileMeta")
    page = run(db, builder.get_select_sql(columns="f.fileID", order="f.fileTime DESC", limit=2, skip=1), builder.sql_args)
    assert page == [(files[4].file_id.hex,), (files[3].file_id.hex,)]
    assert run(db, builder.get_count_sql(), builder.sql_args) == [(3,)]
    everything = run(db, builder.get_select_sql(columns="f.fileID", order="f.fileTime DESC"), builder.sql_args)
    assert everything == [(files[i].file_id.hex,) for i in (5, 4, 3)]


@pytest.mark.parametrize("use_dialect", [False, True])
def test_skip_without_a_limit(seeded, use_dialect):
    db, files, _ = seeded
    builder = SQLBuilder("t_file f", dialect=seed_dialect(db, use_dialect))
    sql = builder.get_select_sql(columns="f.fileID", order="f.fileTime DESC", skip=4)
    assert run(db, sql, builder.sql_args) == [(files[2].file_id.hex,), (files[1].file_id.hex,)]


def test_the_seed_event_query_with_nsstring_and_datetime_values(seeded):
    db, _, events = seeded
    builder = SQLBuilder("t_event e, t_cameraStatus s", ["e.statusID = s.internalID"], seed_dialect(db, False))
    builder.add_sql(model.NSString("meteor"), "e.eventType = ?")
    builder.add_sql(T0, "e.eventTime > ?")
    builder.add_sql(45.0, "s.locationLatitude >= ?")
    sql = builder.get_select_sql(columns="e.cameraID, e.eventID, e.internalID, e.eventTime",
                                 skip=0, limit=10, order="e.eventTime DESC")
    [row] = run(db, sql, builder.sql_args)
    assert row[0] == "cam1" and row[1] == events[0].event_id.hex
    assert row[3] == model.utc_datetime_to_milliseconds(T0 + HOUR)


def test_a_status_query(seeded):
    db, _, _ = seeded
    builder = SQLBuilder("t_cameraStatus s", dialect=seed_dialect(db, False))
    builder.add_sql("cam2", "s.cameraID = ?")
    builder.add_sql(T0 + HOUR, "s.validFrom <= ?")
    rows = run(db, builder.get_select_sql(columns="s.statusID, s.locationLatitude", order="s.validFrom DESC", limit=1),
               builder.sql_args)
    assert [row[1] for row in rows] == [40.0]
    assert uuid.UUID(hex=rows[0][0]) == db.get_camera_status(T0 + HOUR, "cam2").status_id


def test_builder_sql_feeds_the_generators(seeded):
    db, files, _ = seeded
    builder = SQLBuilder("t_file f, t_cameraStatus s", ["f.statusID = s.internalID"])
    builder.add_sql("cam2", "f.cameraID = ?")
    sql = builder.get_select_sql(columns=FILE_COLUMNS, order="f.fileTime DESC")
    assert list(db.generators.file_generator(sql, builder.sql_args)) == [files[6], files[4], files[2]]


@pytest.mark.parametrize("constraint, expected", [
    (model.MetaConstraint("number_equals", "meteorpi:brightness", 2.0), [2]),
    (model.MetaConstraint("less", "meteorpi:brightness", 2.0), [2, 1]),
    (model.MetaConstraint("greater", "meteorpi:brightness", 5.0), [6, 5]),
    (model.MetaConstraint("string_equals", "meteorpi:brightness", "2"), []),
])
def test_metadata_constraints(seeded, constraint, expected):
    db, files, _ = seeded
    builder = SQLBuilder("t_file f")
    builder.add_metadata_query_properties([constraint], "t_fileMeta")
    rows = run(db, builder.get_select_sql(columns="f.fileID", order="f.fileTime DESC"), builder.sql_args)
    assert rows == [(files[i].file_id.hex,) for i in expected]


def test_the_search_builders_match_the_database_search(seeded):
    db, files, events = seeded
    search = model.FileRecordSearch(camera_ids="cam1", limit=2, skip=1)
    builder = search_files_sql_builder(search, seed_dialect(db, False))
    sql = builder.get_select_sql(columns="f.fileID", order="f.fileTime DESC", limit=search.limit, skip=search.skip)
    assert run(db, sql, builder.sql_args) == [(files[3].file_id.hex,), (files[1].file_id.hex,)]
    assert [record.file_id for record in db.search_files(search)["files"]] == [files[3].file_id, files[1].file_id]
    search = model.EventSearch(event_type="meteorpi:meteor")
    builder = search_events_sql_builder(search)
    assert run(db, builder.get_count_sql(), builder.sql_args) == [(2,)]


def test_set_membership_and_empty_values():
    builder = SQLBuilder("t_file f")
    builder.add_set_membership("cam1", "f.cameraID")
    builder.add_set_membership(model.NSString("raw"), "f.semanticType")
    builder.add_set_membership(None, "f.mimeType")
    builder.add_set_membership([], "f.mimeType")
    builder.add_sql(None, "f.fileTime > ?")
    builder.add_metadata_query_properties(None, "t_fileMeta")
    assert builder.where_clauses == ["f.cameraID IN (?)", "f.semanticType IN (?)"]
    assert builder.sql_args == ["cam1", "meteorpi:raw"]
    assert builder.get_count_sql() == "SELECT COUNT(*) FROM t_file f WHERE f.cameraID IN (?) AND f.semanticType IN (?)"


def test_map_value():
    file_id = uuid.uuid4()
    assert SQLBuilder.map_value(model.NSString("s", "ns")) == "ns:s"
    assert SQLBuilder.map_value(utc(1970, 1, 1, 0, 0, 1, 5)) == 1005
    assert SQLBuilder.map_value(file_id) == file_id.hex
    assert SQLBuilder.map_value(2.5) == 2.5 and SQLBuilder.map_value("x") == "x"


def test_paging_clauses_per_dialect():
    builder = SQLBuilder("t_file f")
    assert builder.get_select_sql("f.fileID", limit=5, skip=10).endswith(" LIMIT 5 OFFSET 10")
    assert builder.get_select_sql("f.fileID") == "SELECT f.fileID FROM t_file f"
    firebird = SQLBuilder("t_file f", dialect="firebird")
    assert firebird.get_select_sql("f.fileID", order="f.fileTime DESC", limit=5, skip=10).endswith(
        " ORDER BY f.fileTime DESC OFFSET 10 ROWS FETCH NEXT 5 ROWS ONLY")


@pytest.mark.parametrize("call, message", [
    (lambda b: b.get_select_sql("f.fileID", limit=-1), "limit"),
    (lambda b: b.get_select_sql("f.fileID", skip=-3), "skip"),
    (lambda b: b.add_metadata_query_properties([], "t_user"), "metadata table"),
])
def test_builder_rejects_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call(SQLBuilder("t_file f"))


def test_unknown_constraint_type_is_a_value_error():
    constraint = model.MetaConstraint("less", "meteorpi:x", 1.0)
    constraint.constraint_type = "about"
    with pytest.raises(ValueError, match="about"):
        SQLBuilder("t_file f").add_metadata_query_properties([constraint], "t_fileMeta")


def test_to_text_leaves_literals_alone(seeded):
    db, _, _ = seeded
    sql = "SELECT 'a ? b', 'c :d e', 'ns:value', 'it''s ?', s.locationLatitude FROM t_cameraStatus s WHERE s.cameraID = ?"
    assert run(db, sql, ["cam2"]) == [("a ? b", "c :d e", "ns:value", "it's ?", 40.0)]


@pytest.mark.parametrize("sql, args", [("SELECT ?, ?", [1]), ("SELECT ?", [1, 2]), ("SELECT 1", [1])])
def test_to_text_checks_the_number_of_arguments(sql, args):
    with pytest.raises(ValueError, match="placeholders"):
        to_text(sql, args)
