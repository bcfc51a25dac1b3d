"""meteorpi_model: wire format, round trips, validation and the time helpers."""

import copy
import hashlib
from decimal import Decimal
import json
import pickle
import uuid
from datetime import datetime, timedelta, timezone

import pytest

import meteorpi_model as model
from meteorpi_model import (CameraStatus, Event, EventSearch, ExportConfiguration, FileRecord,
                            FileRecordSearch, Location, Meta, MetaConstraint, NSString,
                            Orientation, User)

UTC = timezone.utc
ID1 = uuid.UUID("0123456789abcdef0123456789abcdef")
ID2 = uuid.UUID("fedcba9876543210fedcba9876543210")
T1 = datetime(2015, 6, 1, 22, 30, 15, 123000, tzinfo=UTC)
T1_MS = 1433197815123
T2 = datetime(2015, 6, 2, 1, 0, tzinfo=UTC)
T2_MS = 1433206800000


def raises(func, *fragments):
    """Assert that ``func()`` raises ValueError whose message holds every fragment."""
    with pytest.raises(ValueError) as info:
        func()
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


# ---------------------------------------------------------------------------------------------
# Example objects and their pinned wire forms

def make_file(**overrides):
    kwargs = dict(camera_id="cam1", mime_type="image/png", semantic_type=NSString("image"),
                  status_id=ID1, md5="d41d8cd98f00b204e9800998ecf8427e", file_id=ID2,
                  file_time=T1, file_size=1234, file_name="sky.png",
                  meta=[Meta(NSString("exposure", ns="cam"), 2.5)])
    kwargs.update(overrides)
    return FileRecord(**kwargs)


FILE_DICT = {
    "file_id": ID2.hex, "camera_id": "cam1", "mime_type": "image/png", "file_name": "sky.png",
    "semantic_type": "meteorpi:image", "file_time": T1_MS, "file_size": 1234,
    "status_id": ID1.hex, "md5": "d41d8cd98f00b204e9800998ecf8427e",
    "meta": [{"type": "number", "key": "cam:exposure", "value": 2.5}],
}


def make_event(**overrides):
    kwargs = dict(camera_id="cam1", event_time=T1, event_id=ID2, event_type="meteor",
                  status_id=ID1, file_records=[make_file()],
                  meta=[Meta("name", "bright"), Meta("peak", T2)])
    kwargs.update(overrides)
    return Event(**kwargs)


EVENT_DICT = {
    "event_id": ID2.hex, "camera_id": "cam1", "event_time": T1_MS,
    "event_type": "meteorpi:meteor", "status_id": ID1.hex, "files": [FILE_DICT],
    "meta": [{"type": "string", "key": "meteorpi:name", "value": "bright"},
             {"type": "date", "key": "meteorpi:peak", "value": T2_MS}],
}

REGION = [{"x": 0, "y": 0}, {"x": 640, "y": 0}, {"x": 640, "y": 480}]


def make_status(**overrides):
    kwargs = dict(lens="Fujinon", sensor="Watec 902", inst_url="https://example.org",
                  inst_name="Cambridge", orientation=Orientation(45, 180, 0.5, 10, 60),
                  location=Location(52.2, 0.12, True, 5), camera_id="cam1", status_id=ID1,
                  software_version=2, valid_from=T1, valid_to=T2, regions=[REGION])
    kwargs.update(overrides)
    return CameraStatus(**kwargs)


STATUS_DICT = {
    "lens": "Fujinon", "sensor": "Watec 902", "inst_url": "https://example.org",
    "inst_name": "Cambridge", "valid_from": T1_MS, "valid_to": T2_MS, "software_version": 2,
    "location": {"lat": 52.2, "long": 0.12, "gps": True, "error": 5.0},
    "orientation": {"alt": 45.0, "az": 180.0, "error": 0.5, "rot": 10.0, "width": 60.0},
    "regions": [REGION], "camera_id": "cam1", "status_id": ID1.hex,
}

FULL_EVENT_SEARCH = EventSearch(
    camera_ids=["a", "b"], lat_min=-10, lat_max=10.5, long_min=-20, long_max=20, after=T1,
    before=T2, after_offset=3600, before_offset=7200, event_type="meteor",
    meta_constraints=[MetaConstraint("greater", "mag", 2), MetaConstraint("after", "t", T1)],
    limit=10, skip=20, exclude_export_to=ID1, exclude_imported=True)

FULL_EVENT_SEARCH_DICT = {
    "camera_ids": ["a", "b"], "lat_min": -10.0, "lat_max": 10.5, "long_min": -20.0,
    "long_max": 20.0, "after": T1_MS, "before": T2_MS, "after_offset": 3600,
    "before_offset": 7200, "event_type": "meteorpi:meteor",
    "meta": [{"type": "greater", "key": "meteorpi:mag", "value": 2},
             {"type": "after", "key": "meteorpi:t", "value": T1_MS}],
    "limit": 10, "skip": 20, "exclude_export_to": ID1.hex, "exclude_imported": True,
}

FULL_FILE_SEARCH = FileRecordSearch(
    camera_ids="a", mime_type="image/png", semantic_type=NSString("x", "ns"),
    meta_constraints=[MetaConstraint("string_equals", "k", "v")], exclude_events=True)

FULL_FILE_SEARCH_DICT = {
    "camera_ids": ["a"], "mime_type": "image/png", "semantic_type": "ns:x",
    "meta": [{"type": "string_equals", "key": "meteorpi:k", "value": "v"}],
    "limit": 100, "skip": 0, "exclude_events": True,
}


def make_config(**overrides):
    kwargs = dict(target_url="https://central.example.org/import", user_id="exporter",
                  password="s3cret", search=EventSearch(camera_ids="a"), name="to central",
                  description="all events of camera a", enabled=True, config_id=ID1,
                  ca_bundle="/etc/meteorpi/ca.pem")
    kwargs.update(overrides)
    return ExportConfiguration(**kwargs)


CONFIG_DICT = {
    "type": "event", "config_id": ID1.hex, "target_url": "https://central.example.org/import",
    "user_id": "exporter", "password": "s3cret",
    "search": {"camera_ids": ["a"], "limit": 100, "skip": 0},
    "config_name": "to central", "config_description": "all events of camera a",
    "enabled": True, "ca_bundle": "/etc/meteorpi/ca.pem",
}

WIRE_CASES = [
    pytest.param(Meta("k", 3), {"type": "number", "key": "meteorpi:k", "value": 3}, id="meta-int"),
    pytest.param(Meta("a:b", "x y"), {"type": "string", "key": "a:b", "value": "x y"},
                 id="meta-str"),
    pytest.param(Meta("d", T1), {"type": "date", "key": "meteorpi:d", "value": T1_MS},
                 id="meta-date"),
    pytest.param(MetaConstraint("number_equals", "n", 1.5),
                 {"type": "number_equals", "key": "meteorpi:n", "value": 1.5}, id="mc-number"),
    pytest.param(MetaConstraint("less", "n", -2), {"type": "less", "key": "meteorpi:n",
                                                   "value": -2}, id="mc-less"),
    pytest.param(MetaConstraint("before", "t", T2),
                 {"type": "before", "key": "meteorpi:t", "value": T2_MS}, id="mc-before"),
    pytest.param(Location(-33.5, 151, False, 0),
                 {"lat": -33.5, "long": 151.0, "gps": False, "error": 0.0}, id="location"),
    pytest.param(Orientation(90, 0), {"alt": 90.0, "az": 0.0, "error": 0.0, "rot": 0.0,
                                      "width": 0.0}, id="orientation"),
    pytest.param(make_file(), FILE_DICT, id="file"),
    pytest.param(FileRecord("cam1", "text/plain", "log", ID1),
                 {"camera_id": "cam1", "mime_type": "text/plain",
                  "semantic_type": "meteorpi:log", "file_size": 0, "status_id": ID1.hex,
                  "meta": []}, id="file-minimal"),
    pytest.param(make_event(), EVENT_DICT, id="event"),
    pytest.param(Event("c", T2, ID1, "x:y", ID2),
                 {"event_id": ID1.hex, "camera_id": "c", "event_time": T2_MS,
                  "event_type": "x:y", "status_id": ID2.hex, "files": [], "meta": []},
                 id="event-minimal"),
    pytest.param(make_status(), STATUS_DICT, id="status"),
    pytest.param(CameraStatus("", "", "", "", Orientation(0, 0), Location(0, 0), "c"),
                 {"lens": "", "sensor": "", "inst_url": "", "inst_name": "",
                  "software_version": 1,
                  "location": {"lat": 0.0, "long": 0.0, "gps": False, "error": 0.0},
                  "orientation": {"alt": 0.0, "az": 0.0, "error": 0.0, "rot": 0.0,
                                  "width": 0.0},
                  "regions": [], "camera_id": "c"}, id="status-minimal"),
    pytest.param(User("alice", 5), {"user_id": "alice", "role_mask": 5,
                                    "roles": ["user", "import"]}, id="user"),
    pytest.param(EventSearch(), {"limit": 100, "skip": 0}, id="event-search-empty"),
    pytest.param(FULL_EVENT_SEARCH, FULL_EVENT_SEARCH_DICT, id="event-search-full"),
    pytest.param(FileRecordSearch(limit=0), {"limit": 0, "skip": 0}, id="file-search-empty"),
    pytest.param(FULL_FILE_SEARCH, FULL_FILE_SEARCH_DICT, id="file-search-full"),
    pytest.param(make_config(), CONFIG_DICT, id="config"),
    pytest.param(ExportConfiguration("http://h:8080/import", "u", "p", FileRecordSearch(), "n",
                                     ""),
                 {"type": "file", "target_url": "http://h:8080/import", "user_id": "u",
                  "password": "p", "search": {"limit": 100, "skip": 0}, "config_name": "n",
                  "config_description": "", "enabled": False}, id="config-minimal"),
]


@pytest.mark.parametrize("obj, wire", WIRE_CASES)
def test_as_dict_is_the_wire_format(obj, wire):
    assert obj.as_dict() == wire
    # Key order and value types survive JSON exactly (ints stay ints, no nulls).
    assert json.loads(json.dumps(obj.as_dict())) == wire
    assert None not in obj.as_dict().values()


@pytest.mark.parametrize("obj, wire", WIRE_CASES)
def test_round_trip(obj, wire):
    again = type(obj).from_dict(json.loads(json.dumps(obj.as_dict())))
    assert again == obj
    assert again.as_dict() == wire
    assert type(obj).from_dict(wire) == obj


@pytest.mark.parametrize("obj, wire", WIRE_CASES)
def test_equality_is_by_value(obj, wire):
    twin = copy.deepcopy(obj)
    assert twin == obj and not (twin != obj)
    assert obj != object()
    assert pickle.loads(pickle.dumps(obj)) == obj
    assert type(obj).__name__ + "(" in repr(obj)


@pytest.mark.parametrize("a, b", [
    (make_file(), make_file(file_size=1)),
    (make_file(), make_file(meta=[])),
    (make_event(), make_event(event_type="other")),
    (make_status(), make_status(regions=[])),
    (User("a", 1), User("a", 3)),
    (EventSearch(limit=1), EventSearch(limit=2)),
    (FileRecordSearch(), FileRecordSearch(exclude_events=True)),
    (make_config(), make_config(password="other")),
    (Meta("k", 1), Meta("k", "1")),
    (Location(1, 2), Location(1, 2, gps=True)),
])
def test_unequal_values(a, b):
    assert a != b


@pytest.mark.parametrize("obj, wire", [
    pytest.param(Meta("k", 3), {"type": "number", "key": "meteorpi:k", "value": 3.0}, id="meta"),
    pytest.param(FileRecord("c", "m", "s", ID1),
                 {"camera_id": "c", "mime_type": "m", "semantic_type": "s",
                  "status_id": str(ID1).upper(), "file_id": None, "file_name": None,
                  "file_time": None, "file_size": None, "md5": None, "meta": None},
                 id="file-nulls-and-dashed-uuid"),
    pytest.param(Event("c", T1, ID1, "x", ID2),
                 {"event_id": str(ID1), "camera_id": "c", "event_time": float(T1_MS),
                  "event_type": "meteorpi:x", "status_id": ID2.hex}, id="event-no-lists"),
    pytest.param(CameraStatus("l", "s", "u", "n", Orientation(1, 2), Location(3, 4), "c"),
                 {"lens": "l", "sensor": "s", "inst_url": "u", "inst_name": "n",
                  "orientation": {"alt": 1, "az": 2}, "location": {"lat": 3, "long": 4},
                  "camera_id": "c", "status_id": None, "valid_from": None, "regions": None},
                 id="status-defaults"),
    pytest.param(User("bob", 3), {"user_id": "bob", "roles": ["camera_admin", "user"]},
                 id="user-roles-only"),
    pytest.param(User("bob", 3), {"user_id": "bob", "role_mask": 3}, id="user-mask-only"),
    pytest.param(EventSearch(), {"camera_ids": None, "limit": None, "meta": None,
                                 "exclude_imported": False}, id="search-nulls"),
    pytest.param(make_config(password=None, enabled=False, ca_bundle=None),
                 {"type": "event", "config_id": str(ID1), "target_url":
                  "https://central.example.org/import", "user_id": "exporter",
                  "password_set": True, "search": {"camera_ids": "a"},
                  "config_name": "to central", "config_description": "all events of camera a",
                  "enabled": None, "ca_bundle": None}, id="config-from-http-get"),
])
def test_from_dict_accepts_equivalent_input(obj, wire):
    assert type(obj).from_dict(wire) == obj


# ---------------------------------------------------------------------------------------------
# from_dict rejects malformed input

ALL_CLASSES = [Meta, MetaConstraint, Location, Orientation, FileRecord, Event, CameraStatus,
               User, EventSearch, FileRecordSearch, ExportConfiguration]


@pytest.mark.parametrize("cls", ALL_CLASSES)
@pytest.mark.parametrize("bad", [None, [], "text", 3])
def test_from_dict_rejects_non_dicts(cls, bad):
    raises(lambda: cls.from_dict(bad), "must be a JSON object")


REQUIRED = [
    (Meta, {"type": "number", "key": "k", "value": 1}, ["type", "key", "value"]),
    (MetaConstraint, {"type": "less", "key": "k", "value": 1}, ["type", "key", "value"]),
    (Location, {"lat": 1, "long": 2}, ["lat", "long"]),
    (Orientation, {"alt": 1, "az": 2}, ["alt", "az"]),
    (FileRecord, FILE_DICT, ["camera_id", "mime_type", "semantic_type", "status_id"]),
    (Event, EVENT_DICT, ["event_id", "camera_id", "event_time", "event_type", "status_id"]),
    (CameraStatus, STATUS_DICT, ["lens", "sensor", "inst_url", "inst_name", "orientation",
                                 "location", "camera_id"]),
    (User, {"user_id": "u", "role_mask": 1}, ["user_id", "role_mask"]),
    (ExportConfiguration, CONFIG_DICT, ["type", "target_url", "user_id", "search",
                                        "config_name"]),
]


@pytest.mark.parametrize("cls, good, key", [
    pytest.param(cls, good, key, id=f"{cls.__name__}-{key}")
    for cls, good, keys in REQUIRED for key in keys])
def test_from_dict_rejects_missing_required_fields(cls, good, key):
    cls.from_dict(good)  # the complete dict is fine
    broken = {k: v for k, v in good.items() if k != key}
    raises(lambda: cls.from_dict(broken), key)


@pytest.mark.parametrize("cls, good", [(cls, good) for cls, good, _ in REQUIRED]
                         + [(EventSearch, {}), (FileRecordSearch, {})])
def test_from_dict_rejects_unknown_keys(cls, good):
    raises(lambda: cls.from_dict({**good, "bogus_key": 1}), "unknown field", "bogus_key")


@pytest.mark.parametrize("cls, wire, fragments", [
    (Meta, {"type": "number", "key": "k", "value": "1"}, ["meteorpi:k", "number"]),
    (Meta, {"type": "string", "key": "k", "value": 1}, ["meteorpi:k", "string"]),
    (Meta, {"type": "number", "key": "k", "value": True}, ["meteorpi:k", "number"]),
    (Meta, {"type": "date", "key": "k", "value": "yesterday"}, ["meteorpi:k", "milliseconds"]),
    (Meta, {"type": "blob", "key": "k", "value": 1}, ["meta type", "blob"]),
    (Meta, {"type": "number", "key": ":k", "value": 1}, ["meta key", "namespace"]),
    (MetaConstraint, {"type": "like", "key": "k", "value": "a"}, ["like"]),
    (MetaConstraint, {"type": "after", "key": "k", "value": "2015"}, ["after", "milliseconds"]),
    (MetaConstraint, {"type": "less", "key": "k", "value": "3"}, ["less", "number"]),
    (FileRecord, {**FILE_DICT, "file_time": "2015-01-01"}, ["file_time", "milliseconds"]),
    (FileRecord, {**FILE_DICT, "file_id": "nope"}, ["file_id", "UUID"]),
    (FileRecord, {**FILE_DICT, "meta": [{"type": "number", "key": "k"}]}, ["meta[0]", "value"]),
    (FileRecord, {**FILE_DICT, "meta": {"a": 1}}, ["meta", "list"]),
    (Event, {**EVENT_DICT, "files": [{**FILE_DICT, "mime_type": 3}]}, ["files[0]", "mime_type"]),
    (Event, {**EVENT_DICT, "event_time": None}, ["event_time"]),
    (Event, {**EVENT_DICT, "event_time": True}, ["event_time"]),
    (CameraStatus, {**STATUS_DICT, "location": {"lat": 1}}, ["location", "long"]),
    (CameraStatus, {**STATUS_DICT, "orientation": [1, 2]}, ["orientation", "JSON object"]),
    (CameraStatus, {**STATUS_DICT, "regions": [[{"x": 1, "y": 2, "z": 3}] * 3]}, ["z"]),
    (CameraStatus, {**STATUS_DICT, "valid_from": 1.5}, ["valid_from"]),
    (User, {"user_id": "u", "role_mask": 1, "roles": ["import"]}, ["role_mask", "roles"]),
    (User, {"user_id": "u", "roles": ["root"]}, ["root"]),
    (User, {"user_id": "u", "roles": "user"}, ["roles", "list"]),
    (EventSearch, {"limit": "abc"}, ["limit", "integer"]),
    (EventSearch, {"limit": True}, ["limit", "integer"]),
    (EventSearch, {"limit": 1.5}, ["limit", "integer"]),
    (EventSearch, {"skip": -1}, ["skip"]),
    (EventSearch, {"after": "2015-01-01"}, ["after", "milliseconds"]),
    (EventSearch, {"before": True}, ["before"]),
    (EventSearch, {"camera_ids": 3}, ["camera_ids", "list"]),
    (EventSearch, {"camera_ids": [3]}, ["camera_ids[0]", "string"]),
    (EventSearch, {"lat_min": "north"}, ["lat_min", "number"]),
    (EventSearch, {"exclude_imported": "true"}, ["exclude_imported", "boolean"]),
    (EventSearch, {"exclude_imported": 1}, ["exclude_imported", "boolean"]),
    (EventSearch, {"exclude_export_to": "not-a-uuid"}, ["exclude_export_to", "UUID"]),
    (EventSearch, {"event_type": 7}, ["event_type"]),
    (EventSearch, {"meta": [{"type": "like", "key": "k", "value": 1}]}, ["meta[0]", "like"]),
    (EventSearch, {"meta": "x"}, ["meta", "list"]),
    (EventSearch, {"after_offset": "1"}, ["after_offset", "integer"]),
    (EventSearch, {"mime_type": "image/png"}, ["unknown field", "mime_type"]),
    (EventSearch, {"meta_constraints": []}, ["unknown field", "meta_constraints"]),
    (FileRecordSearch, {"event_type": "x"}, ["unknown field", "event_type"]),
    (FileRecordSearch, {"exclude_events": "yes"}, ["exclude_events", "boolean"]),
    (FileRecordSearch, {"mime_type": ["a"]}, ["mime_type", "string"]),
    (ExportConfiguration, {**CONFIG_DICT, "type": "status"}, ["type", "status"]),
    (ExportConfiguration, {**CONFIG_DICT, "type": "file", "search": {"event_type": "x"}},
     ["search", "event_type"]),
    (ExportConfiguration, {**CONFIG_DICT, "search": {"limit": -5}}, ["search", "limit"]),
    (ExportConfiguration, {**CONFIG_DICT, "search": None}, ["search", "JSON object"]),
    (ExportConfiguration, {**CONFIG_DICT, "enabled": "yes"}, ["enabled", "boolean"]),
    (ExportConfiguration, {**CONFIG_DICT, "config_id": 12}, ["config_id", "UUID"]),
    # unhashable or odd JSON values are still a ValueError, never a TypeError
    (ExportConfiguration, {**CONFIG_DICT, "type": ["event"]}, ["type"]),
    (MetaConstraint, {"type": {"a": 1}, "key": "k", "value": 1}, ["meta constraint type"]),
    (Meta, {"type": ["number"], "key": "k", "value": 1}, ["meta type"]),
    (User, {"user_id": "u", "roles": [["user"]]}, ["unknown role"]),
    (EventSearch, {"camera_ids": {"a": 1}}, ["camera_ids", "list"]),
    (EventSearch, {"limit": 2 ** 63}, ["limit", "at most"]),
    (EventSearch, {"skip": 10 ** 30}, ["skip", "at most"]),
    (FileRecord, {**FILE_DICT, "file_size": 2 ** 64}, ["file_size", "at most"]),
    (FileRecord, {**FILE_DICT, "meta": [{"type": "number", "key": "k", "value": 10 ** 400}]},
     ["meta[0]", "too large"]),
    (CameraStatus, {**STATUS_DICT, "software_version": 2 ** 31}, ["software_version"]),
    (CameraStatus, {**STATUS_DICT, "regions": [[{"x": 2 ** 40, "y": 0}] * 3]},
     ["regions[0][0].x"]),
    (ExportConfiguration, {**CONFIG_DICT, "target_url": "http://[::1/import"}, ["target_url"]),
])
def test_from_dict_rejects_bad_values(cls, wire, fragments):
    raises(lambda: cls.from_dict(wire), *fragments)


# ---------------------------------------------------------------------------------------------
# Constructor validation: every message names the field

LONG = "x" * 256


@pytest.mark.parametrize("build, fragments", [
    # FileRecord
    (lambda: make_file(camera_id=""), ["camera_id", "empty"]),
    (lambda: make_file(camera_id="c" * 65), ["camera_id", "too long"]),
    (lambda: make_file(camera_id=5), ["camera_id", "string"]),
    (lambda: make_file(camera_id="a\nb"), ["camera_id", "control"]),
    (lambda: make_file(mime_type=None), ["mime_type"]),
    (lambda: make_file(mime_type=LONG), ["mime_type", "too long"]),
    (lambda: make_file(semantic_type=""), ["semantic_type"]),
    (lambda: make_file(status_id=None), ["status_id"]),
    (lambda: make_file(status_id="{" + ID1.hex + "}"), ["status_id", "UUID"]),
    (lambda: make_file(md5="xyz"), ["md5"]),
    (lambda: make_file(file_id=42), ["file_id", "UUID"]),
    (lambda: make_file(file_time=T1_MS), ["file_time", "datetime"]),
    (lambda: make_file(file_size=-1), ["file_size"]),
    (lambda: make_file(file_size=True), ["file_size", "integer"]),
    (lambda: make_file(file_name=LONG), ["file_name", "too long"]),
    (lambda: make_file(file_name=b"x"), ["file_name", "string"]),
    (lambda: make_file(meta=[{"key": "k"}]), ["meta[0]", "Meta"]),
    (lambda: make_file(meta=Meta("k", 1)), ["meta", "list"]),
    # Event
    (lambda: make_event(event_time="2015-01-01"), ["event_time", "datetime"]),
    (lambda: make_event(event_id=None), ["event_id"]),
    (lambda: make_event(event_type=None), ["event_type"]),
    (lambda: make_event(status_id="abc"), ["status_id"]),
    (lambda: make_event(file_records=[FILE_DICT]), ["file_records[0]", "FileRecord"]),
    (lambda: make_event(camera_id=None), ["camera_id"]),
    # CameraStatus
    (lambda: make_status(lens=None), ["lens"]),
    (lambda: make_status(sensor=LONG), ["sensor", "too long"]),
    (lambda: make_status(inst_url=1), ["inst_url"]),
    (lambda: make_status(inst_name=LONG), ["inst_name"]),
    (lambda: make_status(orientation={"alt": 1, "az": 2}), ["orientation", "Orientation"]),
    (lambda: make_status(location=None), ["location", "Location"]),
    (lambda: make_status(status_id="x"), ["status_id"]),
    (lambda: make_status(software_version="1"), ["software_version"]),
    (lambda: make_status(valid_from=T2, valid_to=T1), ["valid_to", "valid_from"]),
    (lambda: make_status(regions=[[{"x": 1, "y": 1}] * 2]), ["regions[0]", "3 points"]),
    (lambda: make_status(regions=[REGION, [{"x": 1, "y": -1}] * 3]), ["regions[1][0].y"]),
    (lambda: make_status(regions=[[{"x": 1.5, "y": 1}] * 3]), ["regions[0][0].x", "integer"]),
    (lambda: make_status(regions=[["ab"] * 3]), ["regions[0][0]"]),
    (lambda: make_status(regions=REGION), ["regions[0]", "list"]),
    # Location / Orientation
    (lambda: Location(91, 0), ["latitude"]),
    (lambda: Location(0, -180.5), ["longitude"]),
    (lambda: Location("1", 0), ["latitude", "number"]),
    (lambda: Location(0, 0, gps=1), ["gps", "boolean"]),
    (lambda: Location(0, 0, error=-1), ["error"]),
    (lambda: Location(float("nan"), 0), ["latitude", "finite"]),
    (lambda: Orientation(-91, 0), ["altitude"]),
    (lambda: Orientation(0, 361), ["azimuth"]),
    (lambda: Orientation(0, 0, rotation=True), ["rotation"]),
    (lambda: Orientation(0, 0, width_of_field=-1), ["width_of_field"]),
    (lambda: Orientation(0, 0, error=float("inf")), ["error"]),
    # Meta / MetaConstraint
    (lambda: Meta("k", True), ["meta value", "number, a string or a datetime"]),
    (lambda: Meta("k", None), ["meta value"]),
    (lambda: Meta("k", LONG), ["meta value", "too long"]),
    (lambda: Meta("k", float("nan")), ["meta value", "finite"]),
    (lambda: Meta("k", 2 ** 53 + 1), ["meta value", "too large"]),
    (lambda: Meta(3, 1), ["meta key"]),
    (lambda: MetaConstraint("approx", "k", 1), ["approx"]),
    (lambda: MetaConstraint("before", "k", T1_MS), ["before", "datetime"]),
    (lambda: MetaConstraint("string_equals", "k", 1), ["string_equals", "string"]),
    (lambda: MetaConstraint("greater", "k", "1"), ["greater", "number"]),
    (lambda: MetaConstraint("less", "", 1), ["meta constraint key"]),
    # User
    (lambda: User("", 1), ["user_id"]),
    (lambda: User(LONG, 1), ["user_id", "too long"]),
    (lambda: User("u", 8), ["role_mask"]),
    (lambda: User("u", -1), ["role_mask"]),
    (lambda: User("u", "1"), ["role_mask"]),
    (lambda: User.role_mask_from_roles(["user", "admin"]), ["admin"]),
    (lambda: User.role_mask_from_roles("user"), ["roles", "list"]),
    (lambda: User.roles_from_role_mask(99), ["role_mask"]),
    (lambda: User("u", 1).has_role("superuser"), ["superuser"]),
    # Searches
    (lambda: EventSearch(camera_ids=[]), ["camera_ids", "empty"]),
    (lambda: EventSearch(camera_ids=["ok", ""]), ["camera_ids[1]"]),
    (lambda: EventSearch(lat_min=10, lat_max=5), ["lat_max", "lat_min"]),
    (lambda: EventSearch(long_min=10, long_max=-5), ["long_max", "long_min"]),
    (lambda: EventSearch(after=T2, before=T1), ["before", "after"]),
    (lambda: EventSearch(after_offset=10, before_offset=5), ["before_offset", "after_offset"]),
    (lambda: EventSearch(limit=-1), ["limit"]),
    (lambda: EventSearch(skip=-1), ["skip"]),
    (lambda: EventSearch(lat_min=-91), ["lat_min"]),
    (lambda: EventSearch(lat_max=90.5), ["lat_max"]),
    (lambda: EventSearch(long_min=-181), ["long_min"]),
    (lambda: EventSearch(long_max=181), ["long_max"]),
    (lambda: EventSearch(after_offset=-1), ["after_offset"]),
    (lambda: EventSearch(before_offset=86401), ["before_offset"]),
    (lambda: EventSearch(before_offset=1.5), ["before_offset", "integer"]),
    (lambda: EventSearch(after=T1_MS), ["after", "datetime"]),
    (lambda: EventSearch(event_type=""), ["event_type"]),
    (lambda: EventSearch(meta_constraints=[Meta("k", 1)]), ["meta_constraints[0]"]),
    (lambda: EventSearch(limit=None), ["limit", "integer"]),
    (lambda: EventSearch(exclude_export_to="zz"), ["exclude_export_to"]),
    (lambda: EventSearch(exclude_imported=None), ["exclude_imported"]),
    (lambda: FileRecordSearch(camera_ids=[]), ["camera_ids"]),
    (lambda: FileRecordSearch(lat_min=1, lat_max=0), ["lat_max"]),
    (lambda: FileRecordSearch(mime_type=""), ["mime_type"]),
    (lambda: FileRecordSearch(semantic_type="a:"), ["semantic_type"]),
    (lambda: FileRecordSearch(exclude_events="no"), ["exclude_events"]),
    (lambda: FileRecordSearch(skip=True), ["skip"]),
    # ExportConfiguration
    (lambda: make_config(target_url="ftp://host/x"), ["target_url"]),
    (lambda: make_config(target_url="central/import"), ["target_url"]),
    (lambda: make_config(target_url="http://"), ["target_url"]),
    (lambda: make_config(target_url=None), ["target_url"]),
    (lambda: make_config(target_url="http://host/a b"), ["target_url"]),
    (lambda: make_config(target_url="http://host/\r\nX-Evil: 1"), ["target_url", "control"]),
    (lambda: make_config(user_id=""), ["user_id"]),
    (lambda: make_config(password=5), ["password"]),
    (lambda: make_config(password=LONG), ["password", "too long"]),
    (lambda: make_config(search={"limit": 1}), ["search"]),
    (lambda: make_config(name=""), ["config_name"]),
    (lambda: make_config(description=None), ["config_description"]),
    (lambda: make_config(enabled=None), ["enabled"]),
    (lambda: make_config(config_id="1234"), ["config_id"]),
    (lambda: make_config(ca_bundle=3), ["ca_bundle"]),
])
def test_constructor_validation(build, fragments):
    raises(build, *fragments)


def test_valid_edge_values_are_accepted():
    assert EventSearch(lat_min=-90, lat_max=90, long_min=-180, long_max=180).lat_max == 90.0
    assert EventSearch(after=T1, before=T1, after_offset=0, before_offset=86400, limit=0)
    assert EventSearch(camera_ids=("a", "b")).camera_ids == ["a", "b"]
    assert EventSearch(camera_ids="c" * 64).camera_ids == ["c" * 64]
    assert FileRecordSearch(semantic_type="a:b:c").semantic_type == NSString("b:c", "a")
    assert make_file(md5="D41D8CD98F00B204E9800998ECF8427E").md5 == \
        "d41d8cd98f00b204e9800998ecf8427e"
    assert make_file(file_name=None, file_id=str(ID2)).file_id == ID2
    assert make_status(regions=[[(1, 2), (3, 4), (5, 6)]]).regions[0][2] == {"x": 5, "y": 6}
    assert Meta("k", "").value == ""
    assert Meta("k", -2 ** 53).value == -2 ** 53
    assert EventSearch(limit=2 ** 63 - 1).limit == 2 ** 63 - 1
    assert Meta("k", "multi\nline").value == "multi\nline"
    assert make_config(password="").as_dict(include_password=False)["password_set"] is False


def test_numbers_from_database_drivers_are_normalised():
    location = Location(Decimal("52.25"), Decimal("-0.5"), error=Decimal("3"))
    assert location == Location(52.25, -0.5, error=3.0)
    assert type(location.latitude) is float
    meta = Meta("k", Decimal("1.5"))
    assert type(meta.value) is float and meta.as_dict()["value"] == 1.5
    raises(lambda: Meta("k", Decimal("NaN")), "meta value", "finite")


def test_naive_times_are_utc_and_truncated_to_milliseconds():
    f = make_file(file_time=datetime(2015, 6, 1, 22, 30, 15, 123999))
    assert f.file_time == T1 and f.file_time.tzinfo is UTC
    e = make_event(event_time=datetime(2015, 6, 2, 0, 30, 15, 123456,
                                       tzinfo=timezone(timedelta(hours=2))))
    assert e.event_time == T1
    assert EventSearch(after=datetime(2015, 6, 1, 22, 30, 15, 123000)).after == T1


# ---------------------------------------------------------------------------------------------
# NSString, UUIDs, users

@pytest.mark.parametrize("text, ns, s", [
    ("meteor", "meteorpi", "meteor"),
    ("orbit:meteor", "orbit", "meteor"),
    ("a:b:c", "a", "b:c"),
    ("a: spaced value", "a", " spaced value"),
])
def test_nsstring_from_string(text, ns, s):
    value = NSString.from_string(text)
    assert (value.ns, value.s) == (ns, s)
    assert value == NSString(s, ns)
    assert NSString.from_string(str(value)) == value
    assert str(value) == (text if ":" in text else f"meteorpi:{text}")


@pytest.mark.parametrize("text, fragment", [
    ("", "empty"),
    (":meteor", "namespace"),
    ("orbit:", "value"),
    ("x" * 250 + ":" + "y" * 10, "too long"),
    ("a\x00b", "control"),
    (None, "string"),
    (5, "string"),
])
def test_nsstring_from_string_rejects(text, fragment):
    raises(lambda: NSString.from_string(text), "NSString", fragment)


@pytest.mark.parametrize("s, ns, fragment", [
    ("v", "a:b", "namespace"),
    ("v", "", "namespace"),
    ("", "ns", "value"),
    (1, "ns", "value"),
    ("v", None, "namespace"),
])
def test_nsstring_constructor_rejects(s, ns, fragment):
    raises(lambda: NSString(s, ns), fragment)


def test_nsstring_is_a_hashable_immutable_value():
    a, b = NSString("x"), NSString.from_string("meteorpi:x")
    assert a == b and hash(a) == hash(b) and len({a, b, NSString("x", "other")}) == 2
    assert a != "meteorpi:x"
    assert repr(a) == "NSString('x', ns='meteorpi')"
    assert NSString("y" * 246, "meteorpi")  # exactly 255 characters in all
    with pytest.raises(AttributeError):
        a.s = "y"  # type: ignore[misc]


@pytest.mark.parametrize("value", [ID1, ID1.hex, str(ID1), ID1.hex.upper(), str(ID1).upper()])
def test_parse_uuid_accepts(value):
    assert model.parse_uuid(value, "file_id") == ID1


@pytest.mark.parametrize("value", [None, 123, ID1.bytes, "", ID1.hex[:-1], ID1.hex + "0",
                                   "{" + str(ID1) + "}", "urn:uuid:" + str(ID1),
                                   "g" * 32, " " + ID1.hex, str(ID1).replace("-", "", 1)])
def test_parse_uuid_rejects(value):
    raises(lambda: model.parse_uuid(value, "config_id"), "config_id", "UUID")


@pytest.mark.parametrize("mask, roles", [
    (0, []), (1, ["user"]), (2, ["camera_admin"]), (4, ["import"]),
    (3, ["user", "camera_admin"]), (7, ["user", "camera_admin", "import"]),
])
def test_user_roles(mask, roles):
    user = User("u", mask)
    assert user.get_roles() == roles
    assert User.roles_from_role_mask(mask) == roles
    assert User.role_mask_from_roles(roles) == mask
    assert User.role_mask_from_roles(list(reversed(roles))) == mask
    for role in User.ROLES:
        assert user.has_role(role) == (role in roles)
    assert user.as_dict() == {"user_id": "u", "role_mask": mask, "roles": roles}


def test_user_role_names_in_bit_order():
    assert User.ROLES == ["user", "camera_admin", "import"]


# ---------------------------------------------------------------------------------------------
# Searches and export configurations

def test_search_single_camera_id_becomes_a_list():
    assert EventSearch(camera_ids="cam").camera_ids == ["cam"]
    assert FileRecordSearch.from_dict({"camera_ids": "cam"}).camera_ids == ["cam"]


def test_search_constructor_argument_order():
    s = EventSearch(["c"], -1, 1, -2, 2, T1, T2, 1, 2, "t", [], 5, 6, ID1, True)
    assert (s.camera_ids, s.lat_min, s.lat_max, s.long_min, s.long_max, s.after, s.before,
            s.after_offset, s.before_offset, s.event_type, s.meta_constraints, s.limit, s.skip,
            s.exclude_export_to, s.exclude_imported) == \
        (["c"], -1, 1, -2, 2, T1, T2, 1, 2, NSString("t"), [], 5, 6, ID1, True)
    f = FileRecordSearch(["c"], -1, 1, -2, 2, T1, T2, 1, 2, "m/t", "t", [], 5, 6, ID1, True,
                         True)
    assert (f.mime_type, f.semantic_type, f.exclude_imported, f.exclude_events) == \
        ("m/t", NSString("t"), True, True)


def test_search_repr_shows_only_what_is_set():
    assert repr(EventSearch(camera_ids="a")) == "EventSearch(camera_ids=['a'], limit=100, skip=0)"


@pytest.mark.parametrize("search, config_type", [
    (EventSearch(), "event"), (FileRecordSearch(), "file")])
def test_export_configuration_type(search, config_type):
    config = make_config(search=search)
    assert config.type == config_type
    assert config.as_dict()["type"] == config_type
    assert type(ExportConfiguration.from_dict(config.as_dict()).search) is type(search)


def test_export_configuration_without_password():
    config = make_config()
    public = config.as_dict(include_password=False)
    assert "password" not in public and public["password_set"] is True
    assert public == {k: v for k, v in CONFIG_DICT.items() if k != "password"} | \
        {"password_set": True}
    parsed = ExportConfiguration.from_dict(public)
    assert parsed.password is None and parsed == make_config(password=None)
    assert make_config(password=None).as_dict(False)["password_set"] is False
    assert "password" not in make_config(password=None).as_dict()
    assert "s3cret" not in repr(config)


def test_export_configuration_constructor_argument_order():
    search = FileRecordSearch()
    c = ExportConfiguration("http://t/import", "u", "p", search, "n", "d", True, ID2)
    assert (c.target_url, c.user_id, c.password, c.search, c.name, c.description, c.enabled,
            c.config_id, c.ca_bundle) == \
        ("http://t/import", "u", "p", search, "n", "d", True, ID2, None)


def test_export_configuration_config_id_can_be_assigned_later():
    config = make_config(config_id=None)
    assert "config_id" not in config.as_dict()
    config.config_id = ID2
    assert config.as_dict()["config_id"] == ID2.hex


# ---------------------------------------------------------------------------------------------
# Time helpers and get_md5_hash

@pytest.mark.parametrize("ms, dt", [
    (0, datetime(1970, 1, 1, tzinfo=UTC)),
    (T1_MS, T1),
    (-1, datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
    (253402300799999, datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
])
def test_milliseconds_conversion(ms, dt):
    assert model.milliseconds_to_utc_datetime(ms) == dt
    assert model.milliseconds_to_utc_datetime(ms).tzinfo is UTC
    assert model.utc_datetime_to_milliseconds(dt) == ms
    assert type(model.utc_datetime_to_milliseconds(dt)) is int


@pytest.mark.parametrize("dt, ms", [
    (datetime(1970, 1, 1), 0),
    (datetime(1970, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))), 0),
    (datetime(1970, 1, 1, 0, 0, 0, 999), 0),
    (datetime(1970, 1, 1, 0, 0, 0, 1999), 1),
    (datetime(1969, 12, 31, 23, 59, 59, 999999), -1),
])
def test_utc_datetime_to_milliseconds_normalises(dt, ms):
    assert model.utc_datetime_to_milliseconds(dt) == ms


@pytest.mark.parametrize("bad", ["0", True, 1.5, None, 10 ** 18])
def test_milliseconds_to_utc_datetime_rejects(bad):
    raises(lambda: model.milliseconds_to_utc_datetime(bad, "event_time"), "event_time")


@pytest.mark.parametrize("dt, expected", [
    (datetime(2015, 6, 1, 22, 30, 15, 123456), T1),
    (datetime(2015, 6, 2, 0, 30, 15, 123999, tzinfo=timezone(timedelta(hours=2))), T1),
    (T1, T1),
])
def test_to_utc(dt, expected):
    result = model.to_utc(dt)
    assert result == expected and result.tzinfo is UTC and result.microsecond % 1000 == 0


@pytest.mark.parametrize("bad", [None, T1_MS, "2015-06-01", T1.date()])
def test_to_utc_rejects(bad):
    raises(lambda: model.to_utc(bad, "file_time"), "file_time", "datetime")


def test_to_utc_rejects_out_of_range():
    far = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    raises(lambda: model.to_utc(far, "valid_from"), "valid_from", "range")


def test_now_is_aware_utc_in_milliseconds():
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    value = model.now()
    assert value.tzinfo is UTC and value.microsecond % 1000 == 0
    assert before <= value <= datetime.now(UTC)


@pytest.mark.parametrize("dt, noon, seconds", [
    (datetime(2015, 6, 1, 12, 0, 0), datetime(2015, 6, 1, 12), 0),
    (datetime(2015, 6, 1, 12, 0, 0, 999000), datetime(2015, 6, 1, 12), 0),
    (datetime(2015, 6, 1, 13, 0, 1), datetime(2015, 6, 1, 12), 3601),
    (datetime(2015, 6, 1, 23, 59, 59), datetime(2015, 6, 1, 12), 43199),
    (datetime(2015, 6, 2, 0, 0, 0), datetime(2015, 6, 1, 12), 43200),
    (datetime(2015, 6, 2, 11, 59, 59, 999000), datetime(2015, 6, 1, 12), 86399),
    (datetime(2015, 3, 1, 3, 0), datetime(2015, 2, 28, 12), 54000),
    (datetime(2016, 1, 1, 0, 0), datetime(2015, 12, 31, 12), 43200),
    # 13:30 at UTC+2 is 11:30 UTC: before noon, so the previous day's noon.
    (datetime(2015, 6, 2, 13, 30, tzinfo=timezone(timedelta(hours=2))),
     datetime(2015, 6, 1, 12), 84600),
])
def test_get_day_and_offset(dt, noon, seconds):
    result = model.get_day_and_offset(dt)
    assert result == {"previous_noon": noon.replace(tzinfo=UTC), "seconds": seconds}
    assert result["previous_noon"].tzinfo is UTC
    assert type(result["seconds"]) is int


@pytest.mark.parametrize("size", [0, 1, (1 << 20) - 1, (1 << 20) + 7, 3 << 20])
def test_get_md5_hash(tmp_path, size):
    content = bytes(i % 251 for i in range(size))
    path = tmp_path / "content.bin"
    path.write_bytes(content)
    expected = hashlib.md5(content).hexdigest()
    assert model.get_md5_hash(path) == expected
    assert model.get_md5_hash(str(path)) == expected


def test_get_md5_hash_known_value(tmp_path):
    path = tmp_path / "abc.txt"
    path.write_bytes(b"abc")
    assert model.get_md5_hash(path) == "900150983cd24fb0d6963f7d28e17f72"


def test_get_md5_hash_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        model.get_md5_hash(tmp_path / "missing")


# ---------------------------------------------------------------------------------------------
# Public names

def test_public_names():
    expected = {"NSString", "Meta", "MetaConstraint", "Location", "Orientation", "FileRecord",
                "Event", "CameraStatus", "User", "EventSearch", "FileRecordSearch",
                "ExportConfiguration", "now", "utc_datetime_to_milliseconds",
                "milliseconds_to_utc_datetime", "get_md5_hash", "get_day_and_offset",
                "parse_uuid", "to_utc"}
    assert expected <= set(model.__all__)
    for name in model.__all__:
        assert hasattr(model, name), name
    assert sorted(model.__all__) == model.__all__
