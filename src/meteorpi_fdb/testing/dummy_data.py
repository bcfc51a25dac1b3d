"""A small, known network of cameras, events and files, for tests of code that uses MeteorPi.

The 2015 package shipped this helper; this is its equivalent, built only on the public
``MeteorDatabase`` API, so it works on every backend. ``setup_dummy_data(db)`` fills a database:

==========  =============================================  ==========================================
camera      status blocks (minutes after 2015-04-01 00:00)  data
==========  =============================================  ==========================================
CAMERA_1    1 (lat 10, long 10, error 12.8 m), 10 (1.0 m)  events ``e0`` at 6 (2 files), ``e1`` at 30
                                                            (4 files); loose files ``f0`` at 8, ``f1``
                                                            at 21
CAMERA_2    11 (lat 11, long 20, error 3.9 m), 15 (1.0 m)  events ``e2`` at 12 (2 files), ``e3`` at 15
                                                            (3 files), ``e4`` at 40 (6 files)
CAMERA_3    none                                            none
==========  =============================================  ==========================================

Events have type ``meteorpi:test_event`` and a number meta ``meteorpi:intensity``; their files
have semantic type ``meteorpi:event_test_file``, loose files ``meteorpi:test_file``, and file *k*
of an event carries *k* + 1 string metas ``meteorpi:meta_key_<n>`` = ``meta_value_<n>``. Ids are
random, so the returned :class:`DummyDataHelper` names each entity (``e1``, ``e1:f0``, ``f0``, ...)
and turns search results back into those names::

    helper = setup_dummy_data(db, clear=True)
    found = db.search_events(model.EventSearch(camera_ids=[CAMERA_1]))["events"]
    assert helper.seq_to_string(found) == "e0,e1"
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Sequence

import meteorpi_model as model

__all__ = ["CAMERA_1", "CAMERA_2", "CAMERA_3", "DummyDataHelper", "add_dummy_event",
           "add_dummy_file", "add_dummy_status", "make_time", "setup_dummy_data"]

CAMERA_1 = "aabbccddeeff"
CAMERA_2 = "001122334455"
CAMERA_3 = "667788990011"

_EPOCH = datetime(2015, 4, 1, tzinfo=timezone.utc)


def make_time(minutes: int) -> datetime:
    """2015-04-01 00:00 UTC plus ``minutes``: the dummy network's clock."""
    return _EPOCH + timedelta(minutes=minutes)


def add_dummy_status(db: Any, camera: str, time: int, region_size: int = 100, longitude: float = 20,
                     latitude: float = 30, gps: bool = True, location_error: float = 1.0,
                     altitude: float = 0.5, azimuth: float = 0.6, orientation_error: float = 0.7,
                     orientation_rotation: float = 1.0, width_of_field: float = 80.0) -> model.CameraStatus:
    """Add a status block for ``camera`` valid from minute ``time``, with two triangular regions."""
    status = model.CameraStatus(
        lens="a_lens", sensor="a_sensor", inst_url="http://foo.bar.com", inst_name="test installation",
        orientation=model.Orientation(altitude=altitude, azimuth=azimuth, error=orientation_error,
                                      rotation=orientation_rotation, width_of_field=width_of_field),
        location=model.Location(latitude=latitude, longitude=longitude, gps=gps, error=location_error),
        camera_id=camera)
    size = region_size
    status.regions = [[{"x": 0, "y": 0}, {"x": size, "y": 0}, {"x": 0, "y": size}],
                      [{"x": size, "y": size}, {"x": size, "y": 0}, {"x": 0, "y": size}]]
    return db.update_camera_status(status, time=make_time(time), camera_id=camera)


def add_dummy_file(db: Any, camera: str, time: int, meta: int,
                   semantic_type: str = "meteorpi:test_file") -> model.FileRecord:
    """Register a small text file for ``camera`` at minute ``time`` with ``meta`` string metas."""
    descriptor, path = tempfile.mkstemp(suffix=".txt", prefix="meteorpi-dummy-")
    with os.fdopen(descriptor, "w") as content:
        content.write(f"dummy file of {camera} at minute {time}\n")
    metas = [model.Meta(f"meteorpi:meta_key_{n}", f"meta_value_{n}") for n in range(meta)]
    try:
        return db.register_file(path, "text/plain", semantic_type, make_time(time), metas, camera_id=camera)
    finally:
        if os.path.exists(path):  # registration failed and put the file back
            os.remove(path)


def add_dummy_event(db: Any, camera: str, time: int, intensity: float,
                    file_records: Sequence[model.FileRecord] | None = None,
                    file_count: int | None = None) -> model.Event:
    """Register an event for ``camera`` at minute ``time`` with a ``meteorpi:intensity`` meta,
    linking ``file_records``, or ``file_count`` new files made for it."""
    if file_records is None:
        file_records = [add_dummy_file(db, camera, time, meta=n + 1, semantic_type="meteorpi:event_test_file")
                        for n in range(file_count or 0)]
    return db.register_event(camera, make_time(time), "meteorpi:test_event", list(file_records),
                             [model.Meta("meteorpi:intensity", intensity)])


class DummyDataHelper:
    """Names for the entities of the dummy network, so tests can compare results by name.

    :ivar events: event id hex → name (``e0``, ``e1``, ...)
    :ivar files: file id hex → name (``f0``, ... for loose files, ``e1:f0``, ... for event files)
    """

    def __init__(self) -> None:
        self.events: dict[str, str] = {}
        self.files: dict[str, str] = {}

    def add_event(self, event: model.Event, name: str | None = None) -> None:
        name = name or f"e{len(self.events)}"
        self.events[event.event_id.hex] = name
        for index, record in enumerate(event.file_records):
            self.add_file(record, name=f"{name}:f{index}")

    def add_file(self, record: model.FileRecord, name: str | None = None) -> None:
        self.files[record.file_id.hex] = name or f"f{sum(':' not in n for n in self.files.values())}"

    def name_of(self, item: model.Event | model.FileRecord) -> str:
        """The name given to an event or file, or ``UNKNOWN``."""
        if isinstance(item, model.Event):
            return self.events.get(item.event_id.hex, "UNKNOWN")
        if isinstance(item, model.FileRecord):
            return self.files.get(item.file_id.hex, "UNKNOWN")
        return "UNKNOWN"

    def seq_to_string(self, items: model.Event | model.FileRecord | Iterable[Any]) -> str:
        """The sorted names of ``items``, comma-separated (a stable thing to assert on)."""
        if isinstance(items, (model.Event, model.FileRecord)):
            items = [items]
        return ",".join(sorted(self.name_of(item) for item in items))


def setup_dummy_data(db: Any, clear: bool = False) -> DummyDataHelper:
    """Fill ``db`` with the dummy network (see the module docstring); ``clear`` empties it first."""
    helper = DummyDataHelper()
    if clear:
        db.clear_database()
    add_dummy_status(db, CAMERA_1, 1, longitude=10, latitude=10, location_error=12.8)
    add_dummy_status(db, CAMERA_1, 10, longitude=10, latitude=10, location_error=1.0)
    helper.add_event(add_dummy_event(db, CAMERA_1, 6, intensity=0.5, file_count=2))
    helper.add_event(add_dummy_event(db, CAMERA_1, 30, intensity=0.9, file_count=4))
    helper.add_file(add_dummy_file(db, CAMERA_1, 8, meta=3))
    helper.add_file(add_dummy_file(db, CAMERA_1, 21, meta=1))
    add_dummy_status(db, CAMERA_2, 11, longitude=20, latitude=11, location_error=3.9)
    add_dummy_status(db, CAMERA_2, 15, longitude=20, latitude=11, location_error=1.0)
    helper.add_event(add_dummy_event(db, CAMERA_2, 12, intensity=0.2, file_count=2))
    helper.add_event(add_dummy_event(db, CAMERA_2, 15, intensity=0.3, file_count=3))
    helper.add_event(add_dummy_event(db, CAMERA_2, 40, intensity=0.4, file_count=6))
    return helper
