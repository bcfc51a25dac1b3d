"""Camera status blocks: storing, finding by time and id, derived valid_to, regions, import."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

import meteorpi_model as model
from meteorpi_fdb.schema import t_camerastatus
from tests.conftest import INSTALLATION_ID

T0 = datetime(2015, 6, 1, 20, 0, 0, 123_000, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)
REGIONS = [
    [{"x": 0, "y": 0}, {"x": 720, "y": 0}, {"x": 720, "y": 400}, {"x": 0, "y": 576}],
    [{"x": 10, "y": 500}, {"x": 30, "y": 520}, {"x": 5, "y": 560}],
]


def make_status(**changes) -> model.CameraStatus:
    """A complete CameraStatus with distinctive values; keyword arguments override fields."""
    values = dict(
        lens="Fujinon 2.8mm",
        sensor="Watec 902H2",
        inst_url="https://example.org/cambridge",
        inst_name="Cambridge roof",
        orientation=model.Orientation(altitude=60.5, azimuth=180.25, error=1.5, rotation=-2.0, width_of_field=90.0),
        location=model.Location(latitude=52.2, longitude=0.12, gps=True, error=5.0),
        camera_id="ignored-camera",
        software_version=3,
        regions=REGIONS,
    )
    values.update(changes)
    return model.CameraStatus(**values)


def comparable(status: model.CameraStatus) -> dict:
    """The fields that update_camera_status stores from its argument."""
    d = status.as_dict()
    for derived in ("status_id", "camera_id", "valid_from", "valid_to"):
        d.pop(derived, None)
    return d


def test_update_stores_every_field_under_a_new_id(db):
    ns = make_status(status_id=uuid.uuid4())

    stored = db.update_camera_status(ns, time=T0)

    assert stored.status_id is not None and stored.status_id != ns.status_id
    assert stored.camera_id == INSTALLATION_ID
    assert stored.valid_from == T0
    assert stored.valid_to is None
    assert comparable(stored) == comparable(ns)
    assert stored.regions == REGIONS
    assert db.get_camera_status_by_id(stored.status_id) == stored
    assert db.get_camera_status(T0) == stored


def test_update_uses_the_camera_id_argument(db):
    stored = db.update_camera_status(make_status(), time=T0, camera_id="north-cam")

    assert stored.camera_id == "north-cam"
    assert db.get_camera_status(T0) is None
    assert db.get_camera_status(T0, camera_id="north-cam") == stored


def test_update_defaults_time_to_now(db):
    before = model.now()
    stored = db.update_camera_status(make_status())
    after = model.now()

    assert before <= stored.valid_from <= after
    assert db.get_camera_status() == stored


def test_naive_times_are_utc(db):
    stored = db.update_camera_status(make_status(), time=T0.replace(tzinfo=None))

    assert stored.valid_from == T0
    assert db.get_camera_status(T0.replace(tzinfo=None)) == stored


def test_status_in_force_and_derived_valid_to(db):
    first = db.update_camera_status(make_status(inst_name="first"), time=T0)
    second = db.update_camera_status(make_status(inst_name="second"), time=T0 + HOUR)
    third = db.update_camera_status(make_status(inst_name="third"), time=T0 + 3 * HOUR)

    assert db.get_camera_status(T0 - timedelta(milliseconds=1)) is None
    assert db.get_camera_status(T0).inst_name == "first"
    assert db.get_camera_status(T0 + HOUR - timedelta(milliseconds=1)).inst_name == "first"
    assert db.get_camera_status(T0 + HOUR).inst_name == "second"
    assert db.get_camera_status(T0 + 2 * HOUR).inst_name == "second"
    assert db.get_camera_status(T0 + 30 * HOUR).inst_name == "third"

    history = db.get_camera_status_history()
    assert [s.status_id for s in history] == [first.status_id, second.status_id, third.status_id]
    assert [(s.valid_from, s.valid_to) for s in history] == [
        (T0, T0 + HOUR),
        (T0 + HOUR, T0 + 3 * HOUR),
        (T0 + 3 * HOUR, None),
    ]
    assert db.get_camera_status_by_id(first.status_id).valid_to == T0 + HOUR


def test_valid_to_only_counts_the_same_camera(db):
    mine = db.update_camera_status(make_status(), time=T0)
    db.update_camera_status(make_status(), time=T0 + HOUR, camera_id="other-cam")

    assert db.get_camera_status_by_id(mine.status_id).valid_to is None


def test_cached_status_sees_a_later_status(db):
    first = db.update_camera_status(make_status(), time=T0)
    assert db.get_camera_status_by_id(first.status_id).valid_to is None
    assert db.get_camera_status_by_id(first.status_id).valid_to is None  # now from the cache

    db.update_camera_status(make_status(), time=T0 + HOUR)

    assert db.get_camera_status_by_id(first.status_id).valid_to == T0 + HOUR


def test_cached_status_is_a_copy(db):
    stored = db.update_camera_status(make_status(), time=T0)
    fetched = db.get_camera_status_by_id(stored.status_id)
    fetched.inst_name = "changed by the caller"
    fetched.regions.clear()

    again = db.get_camera_status_by_id(stored.status_id)
    assert again.inst_name == "Cambridge roof"
    assert again.regions == REGIONS


def test_same_valid_from_latest_insert_wins(db):
    db.update_camera_status(make_status(inst_name="old"), time=T0)
    newer = db.update_camera_status(make_status(inst_name="new"), time=T0)

    assert db.get_camera_status(T0) == newer
    with db.connection() as connection:
        internal_id = db._status_internal_id_at(connection, INSTALLATION_ID, model.utc_datetime_to_milliseconds(T0))
    assert internal_id == max(_internal_ids(db))


def test_status_internal_id_at(db):
    db.update_camera_status(make_status(), time=T0)
    db.update_camera_status(make_status(), time=T0 + HOUR)
    first_id, second_id = _internal_ids(db)
    ms = model.utc_datetime_to_milliseconds

    with db.connection() as connection:
        assert db._status_internal_id_at(connection, INSTALLATION_ID, ms(T0) - 1) is None
        assert db._status_internal_id_at(connection, INSTALLATION_ID, ms(T0)) == first_id
        assert db._status_internal_id_at(connection, INSTALLATION_ID, ms(T0 + HOUR) - 1) == first_id
        assert db._status_internal_id_at(connection, INSTALLATION_ID, ms(T0 + HOUR)) == second_id
        assert db._status_internal_id_at(connection, "other-cam", ms(T0 + HOUR)) is None


def _internal_ids(db) -> list[int]:
    with db.connection() as connection:
        ids = connection.execute(select(t_camerastatus.c.internalid).order_by(t_camerastatus.c.internalid))
        return list(ids.scalars())


@pytest.mark.parametrize(
    "regions",
    [
        [],
        [[{"x": 1, "y": 2}, {"x": 3, "y": 4}, {"x": 5, "y": 6}]],
        [
            [{"x": i, "y": 1000 - i} for i in range(50)],
            [{"x": 7, "y": 7}] * 3,
            [{"x": 0, "y": 9}, {"x": 9, "y": 0}, {"x": 9, "y": 9}],
        ],
    ],
    ids=["none", "one", "several"],
)
def test_regions_round_trip_in_order(db, regions):
    stored = db.update_camera_status(make_status(regions=regions), time=T0)

    db.generators.cache_clear("status")
    assert db.get_camera_status_by_id(stored.status_id).regions == regions
    assert db.get_camera_status(T0).regions == regions


def test_regions_belong_to_their_status(db):
    first = db.update_camera_status(make_status(regions=REGIONS[:1]), time=T0)
    second = db.update_camera_status(make_status(regions=REGIONS[1:]), time=T0 + HOUR)

    assert db.get_camera_status_by_id(first.status_id).regions == REGIONS[:1]
    assert db.get_camera_status_by_id(second.status_id).regions == REGIONS[1:]


def test_get_cameras(db):
    assert db.get_cameras() == []

    db.update_camera_status(make_status(), time=T0, camera_id="zulu")
    db.update_camera_status(make_status(), time=T0, camera_id="alpha")
    db.update_camera_status(make_status(), time=T0 + HOUR, camera_id="alpha")
    db.update_camera_status(make_status(), time=T0)

    assert db.get_cameras() == sorted(["alpha", "zulu", INSTALLATION_ID])


def test_history_is_per_camera(db):
    mine = db.update_camera_status(make_status(), time=T0)
    other = db.update_camera_status(make_status(), time=T0 - HOUR, camera_id="other-cam")

    assert db.get_camera_status_history() == [mine]
    assert db.get_camera_status_history("other-cam") == [other]
    assert db.get_camera_status_history("nobody") == []


def test_lookup_by_id_accepts_uuid_hex_and_dashed(db):
    stored = db.update_camera_status(make_status(), time=T0)

    for form in (stored.status_id, stored.status_id.hex, str(stored.status_id), stored.status_id.hex.upper()):
        assert db.has_status_id(form)
        assert db.get_camera_status_by_id(form) == stored
    assert not db.has_status_id(uuid.uuid4())
    assert db.get_camera_status_by_id(uuid.uuid4().hex) is None


@pytest.mark.parametrize("bad_id", ["", "not-a-uuid", "abc", 42, None, "g" * 32])
def test_lookup_by_bad_id_is_a_value_error(db, bad_id):
    with pytest.raises(ValueError, match="status_id"):
        db.has_status_id(bad_id)
    with pytest.raises(ValueError, match="status_id"):
        db.get_camera_status_by_id(bad_id)


def _break(attribute_path: str, value):
    """A status whose attribute (dotted path) was set to ``value`` after construction."""

    def build() -> model.CameraStatus:
        status = make_status()
        target = status
        *parents, name = attribute_path.split(".")
        for parent in parents:
            target = getattr(target, parent)
        setattr(target, name, value)
        return status

    return build


@pytest.mark.parametrize(
    "build, field",
    [
        (_break("location.latitude", 90.5), "latitude"),
        (_break("location.latitude", -91), "latitude"),
        (_break("location.longitude", 180.01), "longitude"),
        (_break("location.longitude", -181), "longitude"),
        (_break("location.latitude", float("nan")), "latitude"),
        (_break("location.latitude", "52.2"), "latitude"),
        (_break("location.gps", "yes"), "gps"),
        (_break("location.error", -1.0), "error"),
        (_break("location", {"lat": 1, "long": 2}), "location"),
        (_break("orientation", None), "orientation"),
        (_break("orientation.altitude", 95), "altitude"),
        (_break("orientation.azimuth", "south"), "azimuth"),
        (_break("orientation.width_of_field", -5), "width_of_field"),
        (_break("lens", None), "lens"),
        (_break("lens", "x" * 256), "lens"),
        (_break("sensor", 7), "sensor"),
        (_break("inst_name", "two\nlines"), "inst_name"),
        (_break("inst_url", "u" * 256), "inst_url"),
        (_break("software_version", -1), "software_version"),
        (_break("software_version", "3"), "software_version"),
        (_break("regions", "everything"), "regions"),
        (_break("regions", [[{"x": 1, "y": 1}, {"x": 2, "y": 2}]]), "regions"),
        (_break("regions", [[{"x": 1, "y": 1}, {"x": 2, "y": 2}, {"x": "3", "y": 3}]]), "regions"),
        (_break("regions", [[{"x": 1, "y": 1}, {"x": 2, "y": 2}, {"x": 3, "y": -3}]]), "regions"),
        (_break("regions", [[{"x": 1, "y": 1}, {"x": 2, "y": 2}, {"x": 3}]]), "regions"),
        (_break("regions", [[{"x": 1, "y": 1}, {"x": 2, "y": 2}, {"x": 3.5, "y": 3}]]), "regions"),
        (_break("regions", [[{"x": 1, "y": 1}, {"x": 2, "y": 2}, None]]), "regions"),
        (lambda: {"lens": "a dict is not a status"}, "CameraStatus"),
        (lambda: None, "CameraStatus"),
    ],
)
def test_update_rejects_bad_status_and_writes_nothing(db, build, field):
    db.set_high_water_mark(T0 + HOUR)

    with pytest.raises(ValueError, match=field):
        db.update_camera_status(build(), time=T0)

    assert db.get_cameras() == []
    assert db.get_high_water_mark() == T0 + HOUR


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"camera_id": ""}, "camera_id"),
        ({"camera_id": "c" * 65}, "camera_id"),
        ({"camera_id": "bad\x00id"}, "camera_id"),
        ({"camera_id": 12}, "camera_id"),
        ({"time": "2015-06-01"}, "time"),
        ({"time": 1433188800000}, "time"),
    ],
)
def test_update_rejects_bad_arguments(db, kwargs, field):
    with pytest.raises(ValueError, match=field):
        db.update_camera_status(make_status(), **{"time": T0, **kwargs})
    assert db.get_cameras() == []


@pytest.mark.parametrize("kwargs", [{"camera_id": "x" * 65}, {"time": "now"}])
def test_get_camera_status_rejects_bad_arguments(db, kwargs):
    with pytest.raises(ValueError):
        db.get_camera_status(**kwargs)


def test_import_keeps_id_camera_and_valid_from(db):
    incoming = make_status(camera_id="remote-cam", status_id=uuid.uuid4(), valid_from=T0)

    assert db.import_camera_status(incoming) is True

    stored = db.get_camera_status_by_id(incoming.status_id)
    assert stored == incoming
    assert db.get_camera_status(T0 + HOUR, camera_id="remote-cam") == incoming
    assert db.get_high_water_mark("remote-cam") is None


def test_import_ignores_sent_valid_to(db):
    incoming = make_status(camera_id="remote-cam", status_id=uuid.uuid4(), valid_from=T0, valid_to=T0 + HOUR)

    db.import_camera_status(incoming)

    assert db.get_camera_status_by_id(incoming.status_id).valid_to is None


def test_import_of_a_known_status_is_a_no_op(db):
    incoming = make_status(camera_id="remote-cam", status_id=uuid.uuid4(), valid_from=T0)
    db.import_camera_status(incoming)
    changed = make_status(camera_id="remote-cam", status_id=incoming.status_id, valid_from=T0 + HOUR, lens="other")

    assert db.import_camera_status(changed) is False

    assert db.get_camera_status_history("remote-cam") == [incoming]


def test_import_does_not_roll_back(db):
    local = db.update_camera_status(make_status(), time=T0 + 2 * HOUR)
    earlier = make_status(camera_id=INSTALLATION_ID, status_id=uuid.uuid4(), valid_from=T0)

    db.import_camera_status(earlier)

    assert db.get_camera_status_by_id(local.status_id).valid_from == T0 + 2 * HOUR
    assert db.get_high_water_mark() == T0 + 2 * HOUR
    assert db.get_camera_status_by_id(earlier.status_id).valid_to == T0 + 2 * HOUR


def _imported_with(**attributes):
    """A status ready for import whose attributes were changed after construction."""

    def build() -> model.CameraStatus:
        status = make_status(camera_id="remote-cam", status_id=uuid.uuid4(), valid_from=T0)
        for name, value in attributes.items():
            setattr(status, name, value)
        return status

    return build


@pytest.mark.parametrize(
    "build, field",
    [
        (_imported_with(status_id=None), "status_id"),
        (_imported_with(valid_from=None), "valid_from"),
        (_imported_with(status_id="nope"), "status_id"),
        (_imported_with(camera_id="c" * 65), "camera_id"),
        (_imported_with(valid_from="yesterday"), "valid_from"),
        (_imported_with(regions=[[{"x": 1, "y": 1}]]), "regions"),
        (lambda: {"status_id": uuid.uuid4().hex}, "CameraStatus"),
    ],
)
def test_import_rejects_bad_status(db, build, field):
    with pytest.raises(ValueError, match=field):
        db.import_camera_status(build())
    assert db.get_cameras() == []
