"""search_events / search_files (SPEC section 4), checked against a Python model of each search.

Most tests read one shared database per backend, populated once per module with deterministic
data (``random.Random(42)``); tests that write (imports, export marks) use their own ``db``.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

import pytest
from sqlalchemy import event, insert

import meteorpi_model as model
from meteorpi_fdb import MeteorDatabase, schema
from tests import backends
from tests.conftest import INSTALLATION_ID
from tests.helpers import make_event, make_file, make_status, remote_file, remote_status, utc, write_content

T0 = utc(2015, 1, 1, 18)
DAY = timedelta(days=1)
SECOND_STATUS = T0 + 5 * DAY
# camera → [(valid_from, latitude, longitude)]: cam_a moves, so location filters must use the
# status in force at each row's time rather than the camera's latest status.
CAMERAS = {
    "cam_a": [(T0, 50.0, -1.0), (SECOND_STATUS, 51.5, -0.5)],
    "cam_b": [(T0, 55.0, 3.0), (SECOND_STATUS, 55.0, 3.0)],
    "cam_c": [(T0, -33.9, 151.2)],
}
FILE_COUNT = 120
EVENT_COUNT = 50


@dataclass
class Row:
    """What the model of a search needs to know about one registered file or event."""

    entity: Any
    index: int
    camera_id: str
    time: datetime
    latitude: float
    longitude: float
    kind: str  # mime type (files) or event type (events)
    semantic_type: str | None
    meta: list[model.Meta]
    linked: bool = False

    @property
    def offset(self) -> int:
        return model.get_day_and_offset(self.time)["seconds"]

    @property
    def entity_id(self) -> uuid.UUID:
        return getattr(self.entity, "file_id", None) or self.entity.event_id


@dataclass
class SearchData:
    db: MeteorDatabase
    files: list[Row] = field(default_factory=list)
    events: list[Row] = field(default_factory=list)


def _location(camera_id: str, time: datetime) -> tuple[float, float]:
    in_force = [status for status in CAMERAS[camera_id] if status[0] <= time][-1]
    return in_force[1], in_force[2]


def _random_meta(rng: random.Random, time: datetime) -> list[model.Meta]:
    meta = []
    if rng.random() < 0.7:
        meta.append(model.Meta("meteorpi:brightness", round(rng.uniform(0, 10), 2)))
    if rng.random() < 0.5:
        meta.append(model.Meta("meteorpi:label", rng.choice(["red", "green", "blue"])))
    if rng.random() < 0.5:
        meta.append(model.Meta("meteorpi:seen", time + timedelta(milliseconds=rng.randrange(10 ** 8))))
    if rng.random() < 0.2:
        meta += [model.Meta("meteorpi:tag", tag) for tag in rng.sample(["a", "b", "c", "d"], 2)]
    if rng.random() < 0.4:
        # The same key holds numbers on some rows and strings on others.
        meta.append(model.Meta("meteorpi:mixed", rng.choice([1.0, 2.0, "1.0", "two"])))
    return meta


def _random_time(rng: random.Random, previous: list[Row]) -> datetime:
    if previous and rng.random() < 0.1:
        return previous[-1].time  # ties must be broken by a stable key
    return T0 + timedelta(milliseconds=rng.randrange(DAY // timedelta(milliseconds=2), 10 * DAY // timedelta(milliseconds=1)))


def populate(db: MeteorDatabase, directory) -> SearchData:
    rng = random.Random(42)
    data = SearchData(db)
    for camera_id, statuses in CAMERAS.items():
        for valid_from, latitude, longitude in statuses:
            make_status(db, camera_id, valid_from, latitude, longitude)
    for index in range(FILE_COUNT):
        camera_id = rng.choice(sorted(CAMERAS))
        time = _random_time(rng, data.files)
        mime_type = rng.choice(["image/png", "video/mp4", "text/plain"])
        semantic_type = rng.choice(["meteorpi:raw", "meteorpi:triggered", "other:thing"])
        meta = _random_meta(rng, time)
        record = make_file(db, directory, time, camera_id=camera_id, meta=meta, semantic_type=semantic_type,
                           mime_type=mime_type, content=rng.randbytes(16))
        data.files.append(Row(record, index, camera_id, time, *_location(camera_id, time), mime_type,
                              semantic_type, record.meta))
    for index in range(EVENT_COUNT):
        camera_id = rng.choice(sorted(CAMERAS))
        time = _random_time(rng, data.events)
        event_type = rng.choice(["meteorpi:meteor", "meteorpi:plane", "ns2:satellite"])
        linked = rng.sample(data.files, rng.randrange(4))
        for row in linked:
            row.linked = True
        created = make_event(db, time, camera_id=camera_id, files=[row.entity for row in linked],
                             meta=_random_meta(rng, time), event_type=event_type)
        data.events.append(Row(created, index, camera_id, time, *_location(camera_id, time), event_type,
                               None, created.meta))
    return data


@pytest.fixture(scope="module")
def data(backend: str, backend_template: str, tmp_path_factory: pytest.TempPathFactory):
    """One populated database per backend, shared read-only by this module's tests."""
    directory = tmp_path_factory.mktemp(f"search-{backend}")
    url = backends.copy_template(backend, backend_template, directory / "search.db")
    db = MeteorDatabase(url, str(directory / "files"), installation_id=INSTALLATION_ID)
    try:
        yield populate(db, directory / "incoming")
    finally:
        db.close()
        backends.drop_copy(backend, url)


# --- the model of a search ----------------------------------------------------------------

_META_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "string_equals": lambda value, wanted: isinstance(value, str) and value == wanted,
    "number_equals": lambda value, wanted: isinstance(value, float) and value == wanted,
    "less": lambda value, wanted: isinstance(value, float) and value <= wanted,
    "greater": lambda value, wanted: isinstance(value, float) and value >= wanted,
    "before": lambda value, wanted: isinstance(value, datetime) and value <= wanted,
    "after": lambda value, wanted: isinstance(value, datetime) and value >= wanted,
}


def _matches(row: Row, search) -> bool:
    checks = [
        search.camera_ids is None or row.camera_id in search.camera_ids,
        search.lat_min is None or row.latitude >= search.lat_min,
        search.lat_max is None or row.latitude <= search.lat_max,
        search.long_min is None or row.longitude >= search.long_min,
        search.long_max is None or row.longitude <= search.long_max,
        search.after is None or row.time > search.after,
        search.before is None or row.time < search.before,
        search.after_offset is None or row.offset > search.after_offset,
        search.before_offset is None or row.offset < search.before_offset,
    ]
    for constraint in search.meta_constraints:
        test = _META_TESTS[constraint.constraint_type]
        checks.append(any(meta.key == constraint.key and test(meta.value, constraint.value) for meta in row.meta))
    if isinstance(search, model.EventSearch):
        checks.append(search.event_type is None or row.kind == str(search.event_type))
    else:
        checks.append(search.mime_type is None or row.kind == search.mime_type)
        checks.append(search.semantic_type is None or row.semantic_type == str(search.semantic_type))
        checks.append(not (search.exclude_events and row.linked))
    return all(checks)


def expected(rows: list[Row], search) -> tuple[list[uuid.UUID], int]:
    """The ids of the page ``search`` asks for, and the size of its whole result set."""
    found = sorted((row for row in rows if _matches(row, search)), key=lambda row: (row.time, row.index), reverse=True)
    page = found[search.skip:search.skip + search.limit] if search.limit else found[search.skip:]
    return [row.entity_id for row in page], len(found)


def file_ids(result) -> list[uuid.UUID]:
    return [record.file_id for record in result["files"]]


def event_ids(result) -> list[uuid.UUID]:
    return [event.event_id for event in result["events"]]


# --- the cases ----------------------------------------------------------------------------


def _some(rows: list[Row], key: str, kind: type, position: int = 0) -> Any:
    """A value that some row's metadata holds for ``key`` (to test inclusive bounds)."""
    values = sorted({meta.value for row in rows for meta in row.meta if meta.key == model.NSString.from_string(key)
                     and isinstance(meta.value, kind)})
    return values[position % len(values)]


def _time(rows: list[Row], fraction: float) -> datetime:
    return sorted(row.time for row in rows)[int(len(rows) * fraction)]


COMMON_CASES: dict[str, Callable[[list[Row]], dict]] = {
    "everything": lambda rows: {},
    "one_camera_as_a_string": lambda rows: {"camera_ids": "cam_a"},
    "two_cameras": lambda rows: {"camera_ids": ["cam_a", "cam_c"]},
    "unknown_camera": lambda rows: {"camera_ids": ["nobody"]},
    "lat_min_inclusive": lambda rows: {"lat_min": 50.0},
    "lat_max_inclusive": lambda rows: {"lat_max": 50.0},
    "lat_box_of_moved_camera": lambda rows: {"lat_min": 51.0, "lat_max": 52.0},
    "long_min_inclusive": lambda rows: {"long_min": 3.0},
    "long_max": lambda rows: {"long_max": -0.5},
    "long_box": lambda rows: {"long_min": -0.75, "long_max": 0.0},
    "after_is_strict": lambda rows: {"after": _time(rows, 0.3)},
    "before_is_strict": lambda rows: {"before": _time(rows, 0.6)},
    "time_window": lambda rows: {"after": _time(rows, 0.2), "before": _time(rows, 0.5)},
    "after_midnight": lambda rows: {"after_offset": 12 * 3600},
    "before_offset": lambda rows: {"before_offset": 6 * 3600},
    "offset_window_strict": lambda rows: {"after_offset": rows[3].offset, "before_offset": rows[7].offset}
    if rows[3].offset <= rows[7].offset else {"after_offset": rows[7].offset, "before_offset": rows[3].offset},
    "meta_string_equals": lambda rows: {"meta_constraints": [model.MetaConstraint("string_equals", "meteorpi:label", "green")]},
    "meta_string_equals_on_a_repeated_key": lambda rows: {"meta_constraints": [model.MetaConstraint("string_equals", "meteorpi:tag", "c")]},
    "meta_number_equals": lambda rows: {"meta_constraints": [
        model.MetaConstraint("number_equals", "meteorpi:brightness", _some(rows, "meteorpi:brightness", float, 3))]},
    "meta_less_inclusive": lambda rows: {"meta_constraints": [
        model.MetaConstraint("less", "meteorpi:brightness", _some(rows, "meteorpi:brightness", float, 10))]},
    "meta_greater_inclusive": lambda rows: {"meta_constraints": [
        model.MetaConstraint("greater", "meteorpi:brightness", _some(rows, "meteorpi:brightness", float, -10))]},
    "meta_before_inclusive": lambda rows: {"meta_constraints": [
        model.MetaConstraint("before", "meteorpi:seen", _some(rows, "meteorpi:seen", datetime, 8))]},
    "meta_after_inclusive": lambda rows: {"meta_constraints": [
        model.MetaConstraint("after", "meteorpi:seen", _some(rows, "meteorpi:seen", datetime, -8))]},
    "meta_string_on_a_mixed_key": lambda rows: {"meta_constraints": [model.MetaConstraint("string_equals", "meteorpi:mixed", "1.0")]},
    "meta_number_on_a_mixed_key": lambda rows: {"meta_constraints": [model.MetaConstraint("less", "meteorpi:mixed", 1.5)]},
    "meta_unknown_key": lambda rows: {"meta_constraints": [model.MetaConstraint("greater", "meteorpi:nothing", 0)]},
    "two_meta_constraints": lambda rows: {"meta_constraints": [
        model.MetaConstraint("greater", "meteorpi:brightness", 3.0),
        model.MetaConstraint("string_equals", "meteorpi:label", "red")]},
    "combined": lambda rows: {"camera_ids": ["cam_a", "cam_b"], "after": _time(rows, 0.1), "lat_max": 54.0,
                              "meta_constraints": [model.MetaConstraint("less", "meteorpi:brightness", 8.0)]},
}
FILE_CASES = COMMON_CASES | {
    "mime_type": lambda rows: {"mime_type": "video/mp4"},
    "semantic_type_as_a_string": lambda rows: {"semantic_type": "other:thing"},
    "semantic_type": lambda rows: {"semantic_type": model.NSString("raw")},
    "exclude_events": lambda rows: {"exclude_events": True},
    "all_file_filters": lambda rows: {"camera_ids": ["cam_a", "cam_b", "cam_c"], "mime_type": "image/png",
                                      "semantic_type": "meteorpi:raw", "exclude_events": True,
                                      "before": _time(rows, 0.9), "long_min": -5.0},
}
EVENT_CASES = COMMON_CASES | {
    "event_type": lambda rows: {"event_type": "ns2:satellite"},
    "event_type_and_camera": lambda rows: {"event_type": model.NSString("meteor"), "camera_ids": "cam_b"},
}


@pytest.mark.parametrize("case", sorted(FILE_CASES))
def test_search_files(data, case):
    search = model.FileRecordSearch(limit=0, **FILE_CASES[case](data.files))
    ids, count = expected(data.files, search)
    result = data.db.search_files(search)
    assert file_ids(result) == ids
    assert result["count"] == count
    if case not in ("unknown_camera", "meta_unknown_key"):
        assert count > 0, "the case should match something"
    if case != "everything":
        assert count < len(data.files), "the case should leave something out"


@pytest.mark.parametrize("case", sorted(EVENT_CASES))
def test_search_events(data, case):
    search = model.EventSearch(limit=0, **EVENT_CASES[case](data.events))
    ids, count = expected(data.events, search)
    result = data.db.search_events(search)
    assert event_ids(result) == ids
    assert result["count"] == count
    if case not in ("unknown_camera", "meta_unknown_key"):
        assert count > 0, "the case should match something"


def test_results_are_complete_records_newest_first(data):
    files = data.db.search_files(model.FileRecordSearch(limit=0))["files"]
    assert files == [data.db.get_file(record.file_id) for record in files]
    assert {record.file_id for record in files} == {row.entity_id for row in data.files}
    by_id = {row.entity_id: row.entity for row in data.files}
    assert all(record == by_id[record.file_id] for record in files)
    times = [record.file_time for record in files]
    assert times == sorted(times, reverse=True)
    events = data.db.search_events(model.EventSearch(limit=0))["events"]
    by_id = {row.entity_id: row.entity for row in data.events}
    assert all(found == by_id[found.event_id] for found in events)
    assert any(found.file_records for found in events) and any(found.meta for found in events)


def test_default_limit_is_100(data):
    result = data.db.search_files(model.FileRecordSearch())
    assert len(result["files"]) == 100
    assert result["count"] == FILE_COUNT


@pytest.mark.parametrize("entity, cases", [("files", ["everything", "combined", "exclude_events"]),
                                           ("events", ["everything", "two_cameras"])])
@pytest.mark.parametrize("page_size", [1, 7, 50])
def test_pages_cover_the_results_without_overlap(data, entity, cases, page_size):
    rows = data.files if entity == "files" else data.events
    search_class = model.FileRecordSearch if entity == "files" else model.EventSearch
    run = data.db.search_files if entity == "files" else data.db.search_events
    ids_of = file_ids if entity == "files" else event_ids
    table = FILE_CASES if entity == "files" else EVENT_CASES
    for case in cases:
        criteria = table[case](rows)
        everything, count = expected(rows, search_class(limit=0, **criteria))
        seen: list[uuid.UUID] = []
        for skip in range(0, count + page_size, page_size):
            result = run(search_class(limit=page_size, skip=skip, **criteria))
            assert result["count"] == count
            assert ids_of(result) == expected(rows, search_class(limit=page_size, skip=skip, **criteria))[0]
            seen += ids_of(result)
        assert seen == everything
        assert len(set(seen)) == len(seen)


def test_skip_past_the_end_gives_an_empty_page_and_the_full_count(data):
    result = data.db.search_events(model.EventSearch(skip=EVENT_COUNT + 5, limit=10))
    assert result == {"count": EVENT_COUNT, "events": []}
    result = data.db.search_files(model.FileRecordSearch(skip=FILE_COUNT, limit=0))
    assert result == {"count": FILE_COUNT, "files": []}


def test_ties_in_time_are_ordered_by_a_stable_key(data):
    times = [row.time for row in data.files]
    assert len(set(times)) < len(times), "the data should contain ties"
    first = file_ids(data.db.search_files(model.FileRecordSearch(limit=0)))
    again = file_ids(data.db.search_files(model.FileRecordSearch(limit=0)))
    assert first == again == expected(data.files, model.FileRecordSearch(limit=0))[0]


class QueryCounter:
    """Counts the statements sent to the database while it is active."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.count = 0

    def _count(self, *args) -> None:
        self.count += 1

    def __enter__(self) -> "QueryCounter":
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc_info) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)


@pytest.mark.parametrize("entity", ["files", "events"])
def test_a_page_costs_the_same_number_of_queries_whatever_its_size(data, entity):
    run = data.db.search_files if entity == "files" else data.db.search_events
    search_class = model.FileRecordSearch if entity == "files" else model.EventSearch
    counts = {}
    for limit in (1, 5, 40):
        with QueryCounter(data.db.engine) as counter:
            result = run(search_class(limit=limit))
        assert len(result[entity]) == limit
        counts[limit] = counter.count
    assert counts[1] == counts[5] == counts[40]
    assert counts[40] <= 10


@pytest.mark.parametrize("method, search", [
    ("search_files", model.EventSearch()),
    ("search_events", model.FileRecordSearch()),
    ("search_events", {"limit": 10}),
    ("search_files", None),
])
def test_search_of_the_wrong_kind_is_a_value_error(data, method, search):
    with pytest.raises(ValueError, match="search must be"):
        getattr(data.db, method)(search)


def test_a_search_changed_after_construction_is_still_checked(data):
    search = model.FileRecordSearch()
    search.limit = -1
    with pytest.raises(ValueError, match="limit"):
        data.db.search_files(search)
    search = model.EventSearch(meta_constraints=[model.MetaConstraint("less", "meteorpi:brightness", 1.0)])
    search.meta_constraints[0].constraint_type = "roughly"
    with pytest.raises(ValueError, match="roughly"):
        data.db.search_events(search)


# --- searches that need their own database -------------------------------------------------

T1 = utc(2016, 5, 1)


def test_exclude_imported_leaves_out_imported_files_and_events(db, tmp_path):
    local_status = make_status(db, None, T1)
    local_file = make_file(db, tmp_path, T1 + timedelta(hours=1))
    local_event = make_event(db, T1 + timedelta(hours=2), files=[local_file])
    status = remote_status(db, valid_from=T1)
    imported_file = remote_file(db, status, file_time=T1 + timedelta(hours=3))
    db.import_file_record(imported_file, "importer")
    event_file = remote_file(db, status, file_time=T1 + timedelta(hours=4))
    imported_event = model.Event(status.camera_id, T1 + timedelta(hours=5), uuid.uuid4(), "meteorpi:meteor",
                                 status.status_id, [event_file])
    db.import_event(imported_event, "importer")
    assert local_status.status_id != status.status_id

    everything = file_ids(db.search_files(model.FileRecordSearch()))
    assert everything == [event_file.file_id, imported_file.file_id, local_file.file_id]
    assert file_ids(db.search_files(model.FileRecordSearch(exclude_imported=True))) == [local_file.file_id]
    assert event_ids(db.search_events(model.EventSearch())) == [imported_event.event_id, local_event.event_id]
    result = db.search_events(model.EventSearch(exclude_imported=True))
    assert event_ids(result) == [local_event.event_id] and result["count"] == 1


def _add_export_config(db, config_id: uuid.UUID) -> int:
    with db.transaction() as connection:
        return connection.execute(insert(schema.t_exportconfig).values(
            exportconfigid=config_id.hex, exporttype="file", searchstring="{}", targeturl="http://target/import",
            targetuser="u", targetpassword="p", exportname="n", description="", active=True, failurecount=0,
        )).inserted_primary_key[0]


def _mark(db, table, column: str, entity_table, entity_column: str, entity_id: uuid.UUID, config: int, state: int) -> None:
    with db.transaction() as connection:
        internal_id = connection.execute(
            entity_table.select().with_only_columns(entity_table.c.internalid)
            .where(entity_table.c[entity_column] == entity_id.hex)
        ).scalar_one()
        connection.execute(insert(table).values(
            {column: internal_id, "exportconfig": config, "exporttime": 0, "exportstate": state}
        ))


def test_exclude_export_to_leaves_out_rows_marked_for_that_configuration(db, tmp_path):
    make_status(db, None, T1)
    files = [make_file(db, tmp_path, T1 + timedelta(minutes=minute)) for minute in range(4)]
    events = [make_event(db, T1 + timedelta(hours=1, minutes=minute)) for minute in range(3)]
    config_a, config_b = uuid.uuid4(), uuid.uuid4()
    internal_a, internal_b = _add_export_config(db, config_a), _add_export_config(db, config_b)
    _mark(db, schema.t_fileexport, "fileid", schema.t_file, "fileid", files[0].file_id, internal_a, 0)
    _mark(db, schema.t_fileexport, "fileid", schema.t_file, "fileid", files[2].file_id, internal_a, 1)
    _mark(db, schema.t_fileexport, "fileid", schema.t_file, "fileid", files[3].file_id, internal_b, 1)
    _mark(db, schema.t_eventexport, "eventid", schema.t_event, "eventid", events[1].event_id, internal_a, 1)

    result = db.search_files(model.FileRecordSearch(exclude_export_to=config_a))
    assert file_ids(result) == [files[3].file_id, files[1].file_id] and result["count"] == 2
    assert file_ids(db.search_files(model.FileRecordSearch(exclude_export_to=config_b.hex))) == [
        files[2].file_id, files[1].file_id, files[0].file_id]
    assert len(file_ids(db.search_files(model.FileRecordSearch(exclude_export_to=uuid.uuid4())))) == 4
    assert event_ids(db.search_events(model.EventSearch(exclude_export_to=config_a))) == [
        events[2].event_id, events[0].event_id]
    assert len(event_ids(db.search_events(model.EventSearch(exclude_export_to=config_b)))) == 3


def test_search_on_an_empty_database(db):
    assert db.search_files(model.FileRecordSearch()) == {"count": 0, "files": []}
    assert db.search_events(model.EventSearch(limit=0)) == {"count": 0, "events": []}


def test_a_new_file_is_found_by_the_next_search(db, tmp_path):
    make_status(db, None, T1)
    assert db.search_files(model.FileRecordSearch())["count"] == 0
    record = db.register_file(write_content(tmp_path), "text/plain", "meteorpi:log", T1 + timedelta(seconds=1), [])
    assert file_ids(db.search_files(model.FileRecordSearch())) == [record.file_id]
