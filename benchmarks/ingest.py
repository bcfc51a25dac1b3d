"""Ingest on a camera node: files + events registered per second on SQLite.

Ours: ``register_file`` three times and ``register_event`` once per event (validation, MD5,
content moved into the store and flushed to disk before each commit). The floor: the same rows
inserted with raw SQL, one transaction per registration as ours, and the same files renamed
into a directory (no hashing, no flush).
"""

from __future__ import annotations

import datetime
import os
import random
import tempfile
import time
import uuid

from sqlalchemy import insert

import meteorpi_model as model
from benchmarks._common import Result
from meteorpi_fdb import MeteorDatabase, schema

FILE_BYTES = 50_000


def _status(camera_id: str) -> model.CameraStatus:
    return model.CameraStatus(
        lens="Computar 4mm", sensor="IMX291", inst_url="https://example.org", inst_name="bench",
        orientation=model.Orientation(60, 180), location=model.Location(52.2, 0.1, True, 5.0), camera_id=camera_id,
    )


def _write_files(directory: str, count: int, rng: random.Random) -> list[str]:
    paths = []
    for index in range(count):
        path = os.path.join(directory, f"in-{index}.png")
        with open(path, "wb") as handle:
            handle.write(rng.randbytes(FILE_BYTES))
        paths.append(path)
    return paths


def _ours(workdir: str, events: int, rng: random.Random) -> float:
    db = MeteorDatabase(os.path.join(workdir, "ours.db"), os.path.join(workdir, "ours-files"), installation_id="b00000000001")
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    db.update_camera_status(_status(db.installation_id), time=start)
    paths = _write_files(os.path.join(workdir, "in-ours"), events * 3, rng)
    started = time.perf_counter()
    for index in range(events):
        event_time = start + datetime.timedelta(minutes=index + 1)
        records = [
            db.register_file(paths[index * 3 + n], "image/png", model.NSString("meteor_image"), event_time,
                             [model.Meta(model.NSString("exposure"), 0.04), model.Meta(model.NSString("gain"), 12)],
                             file_name=f"{n}.png")
            for n in range(3)
        ]
        db.register_event(db.installation_id, event_time, model.NSString("meteor"), records,
                          [model.Meta(model.NSString("duration"), 1.2), model.Meta(model.NSString("class"), "meteor")])
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed


def _floor(workdir: str, events: int, rng: random.Random) -> float:
    db = MeteorDatabase(os.path.join(workdir, "floor.db"), os.path.join(workdir, "floor-files"), installation_id="b00000000002")
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    db.update_camera_status(_status(db.installation_id), time=start)
    status_internal = 1
    store = os.path.join(workdir, "floor-raw")
    os.makedirs(store)
    paths = _write_files(os.path.join(workdir, "in-floor"), events * 3, rng)
    engine = db.engine
    started = time.perf_counter()
    for index in range(events):
        time_ms = model.utc_datetime_to_milliseconds(start) + (index + 1) * 60_000
        file_ids = []
        for n in range(3):
            file_uuid = uuid.uuid4().hex
            os.rename(paths[index * 3 + n], os.path.join(store, file_uuid))
            with engine.begin() as connection:
                file_id = connection.execute(insert(schema.t_file).values(
                    fileid=file_uuid, cameraid=db.installation_id, mimetype="image/png",
                    semantictype="meteorpi:meteor_image", filetime=time_ms, fileoffset=0, filesize=FILE_BYTES,
                    filename=f"{n}.png", md5hex="0" * 32, statusid=status_internal)).inserted_primary_key[0]
                connection.execute(insert(schema.t_filemeta), [
                    {"fileid": file_id, "metaindex": 0, "metakey": "meteorpi:exposure", "floatvalue": 0.04},
                    {"fileid": file_id, "metaindex": 1, "metakey": "meteorpi:gain", "floatvalue": 12.0}])
            file_ids.append(file_id)
        with engine.begin() as connection:
            event_id = connection.execute(insert(schema.t_event).values(
                eventid=uuid.uuid4().hex, cameraid=db.installation_id, eventtime=time_ms, eventoffset=0,
                eventtype="meteorpi:meteor", statusid=status_internal)).inserted_primary_key[0]
            connection.execute(insert(schema.t_eventmeta), [
                {"eventid": event_id, "metaindex": 0, "metakey": "meteorpi:duration", "floatvalue": 1.2,
                 "stringvalue": None},
                {"eventid": event_id, "metaindex": 1, "metakey": "meteorpi:class", "floatvalue": None,
                 "stringvalue": "meteor"}])
            connection.execute(insert(schema.t_event_to_file), [
                {"eventid": event_id, "fileid": file_id, "sequencenumber": n} for n, file_id in enumerate(file_ids)])
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed


def run(events: int) -> list[Result]:
    """Registrations per second (3 files + 1 event = 4 each) for ours and the raw floor."""
    rng = random.Random(42)
    with tempfile.TemporaryDirectory(prefix="mpi-ingest-") as workdir:
        os.makedirs(os.path.join(workdir, "in-ours"))
        os.makedirs(os.path.join(workdir, "in-floor"))
        ours = _ours(workdir, events, rng)
        floor = _floor(workdir, events, rng)
    registrations = events * 4
    return [
        Result("ingest", f"{events} events x (3 files + 1 event) on SQLite", "sqlite",
               registrations / ours, registrations / floor, "registrations/s",
               note="ratio < 1 means slower than the floor"),
    ]
