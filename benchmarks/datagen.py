"""A fast, deterministic generator of realistic MeteorPi data at scale.

It writes straight into the schema's tables with batched multi-row inserts (one statement per
table per batch), not one ``register_event`` per row: at full scale (1,000,000 events from 100
cameras over 3 years, 3 files each, 5 metadata values per event and per file) that is about
27 million rows. File rows get no content on disk; search benchmarks do not read it.
"""

from __future__ import annotations

import datetime
import random
import uuid
from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import Engine, func, select, text

import meteorpi_model as model
from meteorpi_fdb import schema

START = datetime.datetime(2023, 1, 1, tzinfo=datetime.timezone.utc)
DAY_MS = 86_400_000
STATUS_PERIOD_DAYS = 180
FILES_PER_EVENT = 3
METAS_PER_ENTITY = 5
BATCH_EVENTS = 5_000


@dataclass(frozen=True)
class Scale:
    name: str
    cameras: int
    events: int
    years: float


SCALES = {
    "small": Scale("small", cameras=10, events=20_000, years=1.0),
    # The first quarter of "full" (same cameras, same first 250,000 events): the scale between.
    "medium": Scale("medium", cameras=100, events=250_000, years=3.0),
    "full": Scale("full", cameras=100, events=1_000_000, years=3.0),
}


@dataclass
class Camera:
    camera_id: str
    latitude: float
    longitude: float
    statuses: list[tuple[int, int]] = field(default_factory=list)  # (valid_from ms, internalid)

    def status_at(self, time_ms: int) -> int:
        internal_id = self.statuses[0][1]
        for valid_from, candidate in self.statuses:
            if valid_from <= time_ms:
                internal_id = candidate
        return internal_id


@dataclass
class Generated:
    """What the generator wrote, for benchmarks to build queries from."""

    scale: Scale
    cameras: list[Camera]
    start_ms: int
    end_ms: int
    events: int
    files: int


def generate(engine: Engine, scale: Scale, seed: int = 42, progress: Callable[[int], None] | None = None) -> Generated:
    """Fill an empty, migrated database with ``scale``'s data; return a summary."""
    rng = random.Random(seed)
    start_ms = model.utc_datetime_to_milliseconds(START)
    days = int(scale.years * 365)
    end_ms = start_ms + days * DAY_MS
    cameras = _insert_cameras(engine, rng, scale, start_ms, days)
    next_ids = {"event": 1, "file": 1}
    written = 0
    while written < scale.events:
        batch = min(BATCH_EVENTS, scale.events - written)
        _insert_event_batch(engine, rng, cameras, start_ms, days, batch, next_ids)
        written += batch
        if progress:
            progress(batch)
    _reset_sequences(engine)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("ANALYZE"))
        elif connection.dialect.name == "sqlite":
            connection.execute(text("ANALYZE"))
    return Generated(scale, cameras, start_ms, end_ms, written, written * FILES_PER_EVENT)


def _insert_cameras(engine: Engine, rng: random.Random, scale: Scale, start_ms: int, days: int) -> list[Camera]:
    cameras = []
    status_rows, region_rows = [], []
    internal_id = 1
    for index in range(scale.cameras):
        camera = Camera(f"{0xB0000000 + index:012x}", rng.uniform(35.0, 60.0), rng.uniform(-10.0, 30.0))
        for period in range(0, days, STATUS_PERIOD_DAYS):
            valid_from = start_ms + period * DAY_MS - (DAY_MS if period == 0 else 0)
            camera.statuses.append((valid_from, internal_id))
            status_rows.append(_status_row(rng, camera, internal_id, valid_from))
            for order, (x, y) in enumerate([(0, 0), (1919, 0), (1919, 1079), (0, 1079)]):
                region_rows.append({"camerastatusid": internal_id, "region": 0, "pointorder": order, "x": x, "y": y})
            internal_id += 1
        cameras.append(camera)
    with engine.begin() as connection:
        connection.execute(schema.t_camerastatus.insert(), status_rows)
        connection.execute(schema.t_visibleregions.insert(), region_rows)
    return cameras


def _status_row(rng: random.Random, camera: Camera, internal_id: int, valid_from: int) -> dict:
    return {
        "internalid": internal_id,
        "statusid": uuid.UUID(int=rng.getrandbits(128)).hex,
        "cameraid": camera.camera_id,
        "validfrom": valid_from,
        "softwareversion": 2,
        "lens": "Computar 4mm f/1.2",
        "sensor": "Sony IMX291",
        "insturl": "https://meteorpi.example.org/site",
        "instname": f"Site {camera.camera_id[-4:]}",
        "locationlatitude": camera.latitude,
        "locationlongitude": camera.longitude,
        "locationgps": True,
        "locationerror": 5.0,
        "orientationaltitude": 60.0 + rng.uniform(-5, 5),
        "orientationazimuth": rng.uniform(0, 360),
        "orientationerror": 0.5,
        "orientationrotation": 0.0,
        "widthoffield": 90.0,
    }


def _night_time_ms(rng: random.Random, start_ms: int, days: int) -> int:
    """A time between 19:00 and 05:00 UTC on a random night."""
    day = rng.randrange(days)
    seconds_after_19h = rng.randrange(10 * 3600)
    return start_ms + day * DAY_MS + (19 * 3600 + seconds_after_19h) * 1000 + rng.randrange(1000)


def _offset_seconds(time_ms: int) -> int:
    return model.get_day_and_offset(model.milliseconds_to_utc_datetime(time_ms))["seconds"]


def _insert_event_batch(engine, rng, cameras, start_ms, days, count, next_ids) -> None:
    events, event_metas, files, file_metas, links = [], [], [], [], []
    for _ in range(count):
        camera = rng.choice(cameras)
        time_ms = _night_time_ms(rng, start_ms, days)
        offset = _offset_seconds(time_ms)
        status = camera.status_at(time_ms)
        event_id = next_ids["event"]
        next_ids["event"] += 1
        events.append({
            "internalid": event_id, "eventid": uuid.UUID(int=rng.getrandbits(128)).hex,
            "cameraid": camera.camera_id, "eventtime": time_ms, "eventoffset": offset,
            "eventtype": "meteorpi:meteor", "statusid": status,
        })
        event_metas.extend(_metas("eventid", event_id, _event_meta_values(rng, time_ms)))
        for sequence, (mime, semantic) in enumerate(
            [("image/png", "meteorpi:meteor_image"), ("image/png", "meteorpi:preview"), ("video/mp4", "meteorpi:video")]
        ):
            file_id = next_ids["file"]
            next_ids["file"] += 1
            files.append({
                "internalid": file_id, "fileid": uuid.UUID(int=rng.getrandbits(128)).hex,
                "cameraid": camera.camera_id, "mimetype": mime, "semantictype": semantic,
                "filetime": time_ms + sequence, "fileoffset": offset, "filesize": 50_000,
                "filename": f"{semantic.split(':')[1]}.{mime.split('/')[1]}",
                "md5hex": f"{rng.getrandbits(128):032x}", "statusid": status,
            })
            file_metas.extend(_metas("fileid", file_id, _file_meta_values(rng, time_ms)))
            links.append({"eventid": event_id, "fileid": file_id, "sequencenumber": sequence})
    with engine.begin() as connection:
        connection.execute(schema.t_event.insert(), events)
        connection.execute(schema.t_eventmeta.insert(), event_metas)
        connection.execute(schema.t_file.insert(), files)
        connection.execute(schema.t_filemeta.insert(), file_metas)
        connection.execute(schema.t_event_to_file.insert(), links)


def _event_meta_values(rng: random.Random, time_ms: int) -> list[tuple[str, object]]:
    return [
        ("meteorpi:duration", round(rng.uniform(0.1, 3.0), 3)),
        ("meteorpi:peak_brightness", round(rng.uniform(0.5, 255.0), 1)),
        ("meteorpi:path_length", round(rng.uniform(5, 900), 1)),
        ("meteorpi:classification", rng.choice(["meteor", "meteor", "plane", "satellite"])),
        ("meteorpi:detected_at", time_ms + 2500),
    ]


def _file_meta_values(rng: random.Random, time_ms: int) -> list[tuple[str, object]]:
    return [
        ("meteorpi:exposure", round(rng.uniform(0.01, 0.1), 3)),
        ("meteorpi:gain", rng.randrange(1, 30)),
        ("meteorpi:stacked_frames", rng.randrange(1, 100)),
        ("meteorpi:sky_clarity", round(rng.uniform(0, 100), 1)),
        ("meteorpi:processed_at", time_ms + 60_000),
    ]


def _metas(owner_column: str, owner_id: int, values: list[tuple[str, object]]) -> list[dict]:
    rows = []
    for index, (key, value) in enumerate(values):
        row = {owner_column: owner_id, "metaindex": index, "metakey": key,
               "stringvalue": None, "floatvalue": None, "datevalue": None}
        if key.endswith("_at"):
            row["datevalue"] = value
        elif isinstance(value, str):
            row["stringvalue"] = value
        else:
            row["floatvalue"] = float(value)
        rows.append(row)
    return rows


def _reset_sequences(engine: Engine) -> None:
    """Explicit ids bypass PostgreSQL's sequences: move each past the highest id written."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as connection:
        for table in schema.ALL_TABLES:
            if "internalid" in table.c:
                highest = connection.execute(select(func.max(table.c.internalid))).scalar() or 0
                connection.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'internalid'), :value, true)"),
                    {"value": max(highest, 1)},
                )


def describe(engine: Engine, scale: Scale) -> Generated:
    """Rebuild the summary of data generated earlier (cameras, time span, counts) from the database."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(schema.t_camerastatus.c.cameraid, schema.t_camerastatus.c.validfrom,
                   schema.t_camerastatus.c.internalid, schema.t_camerastatus.c.locationlatitude,
                   schema.t_camerastatus.c.locationlongitude).order_by(
                schema.t_camerastatus.c.cameraid, schema.t_camerastatus.c.validfrom)
        ).all()
        events = connection.execute(select(func.count()).select_from(schema.t_event)).scalar()
        files = connection.execute(select(func.count()).select_from(schema.t_file)).scalar()
    cameras: dict[str, Camera] = {}
    for camera_id, valid_from, internal_id, latitude, longitude in rows:
        camera = cameras.setdefault(camera_id, Camera(camera_id, latitude, longitude))
        camera.statuses.append((valid_from, internal_id))
    start_ms = model.utc_datetime_to_milliseconds(START)
    return Generated(scale, list(cameras.values()), start_ms, start_ms + int(scale.years * 365) * DAY_MS, events, files)
