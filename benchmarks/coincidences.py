"""Time to find coincidences (and solve their trajectories) in one night of a 100-camera network.

The cameras are those of the full-scale data set (``datagen``, 100 cameras, seed 42: the same
sites, pointings and status blocks); the night holds that data set's nightly share of events
(1,000,000 / (3 x 365) = 913, generated directly in the same way, without pixels) plus simulated
meteors seen by several cameras (with pixels, so their trajectories are solved). ``--factor 10``
tries ten times the events. The full data set itself is not needed and not generated.

    python -m benchmarks.coincidences                      # SQLite, 913 events + meteors
    python -m benchmarks.coincidences --factor 10 --backend postgresql
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table

import meteorpi_model as model
from benchmarks import datagen
from meteorpi_fdb import MeteorDatabase, schema
from meteorpi_trajectory import CameraModel
from meteorpi_trajectory.simulate import Meteor, Station, pixel_meta, sightings

FULL = datagen.SCALES["full"]
EVENTS_PER_NIGHT = round(FULL.events / (FULL.years * 365))
NIGHT = 400  # a night in the middle of the data set's three years
METEORS_PER_NIGHT = 120
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _database(backend: str, work: Path) -> MeteorDatabase:
    if backend == "sqlite":
        url = f"sqlite:///{work / 'coincidences.db'}"
    else:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        name = f"meteorpi_bench_coinc_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    return MeteorDatabase(url, str(work / "files"), installation_id="b0000000ffff")


def _stations(cameras: list[datagen.Camera], engine, time_ms: int) -> list[Station]:
    """The cameras' pointings in force at ``time_ms``, as the simulator's stations."""
    rows = {r.internalid: r for r in engine.connect().execute(schema.t_camerastatus.select())}
    result = []
    for camera in cameras:
        row = rows[camera.status_at(time_ms)]
        result.append(Station(camera.camera_id, row.locationlatitude, row.locationlongitude,
                              CameraModel(row.orientationaltitude, row.orientationazimuth,
                                          row.orientationrotation, row.widthoffield)))  # the status names no sensor size
    return result


def _add_meteors(db: MeteorDatabase, cameras: list[datagen.Camera], night_ms: int, count: int,
                 rng: random.Random, first_id: int) -> tuple[int, int]:
    """Simulated meteors over the network, each above some camera's field; returns (events
    written, meteors seen by two or more cameras)."""
    stations = _stations(cameras, db.engine, night_ms)
    events, metas, multi, next_id = [], [], 0, first_id
    for _ in range(count):
        station = rng.choice(stations)
        centre = station.model.pixel_to_enu(station.model.width / 2, station.model.height / 2)
        # A point about 95 km up along the camera's boresight, then a random meteor through it.
        distance = 95_000 / max(0.2, float(centre[2]))
        lat, lon = _offset(station.latitude, station.longitude, centre, distance)
        meteor = Meteor(lat + rng.uniform(-0.3, 0.3), lon + rng.uniform(-0.3, 0.3), rng.uniform(98, 103),
                        rng.uniform(0, 360), rng.uniform(20, 70), rng.uniform(15, 70))
        when = night_ms + rng.randrange(10 * 3600 * 1000)
        seen = sightings(meteor, stations)
        multi += len(seen) >= 2
        for sighting in seen:
            camera = next(c for c in cameras if c.camera_id == sighting.station.camera_id)
            time_ms = when + int(1000 * (sighting.t_begin + rng.uniform(-0.3, 0.3)))
            events.append({"internalid": next_id, "eventid": uuid.uuid4().hex,
                           "cameraid": camera.camera_id, "eventtime": time_ms,
                           "eventoffset": datagen._offset_seconds(time_ms),
                           "eventtype": "meteorpi:meteor", "statusid": camera.status_at(time_ms)})
            metas.extend(datagen._metas("eventid", next_id, list(pixel_meta(sighting).items())))
            next_id += 1
    with db.engine.begin() as connection:
        if events:
            connection.execute(schema.t_event.insert(), events)
            connection.execute(schema.t_eventmeta.insert(), metas)
    return len(events), multi


def _offset(lat: float, lon: float, enu, distance: float) -> tuple[float, float]:
    import pymap3d

    point = pymap3d.enu2geodetic(enu[0] * distance, enu[1] * distance, enu[2] * distance, lat, lon, 0)
    return float(point[0]), float(point[1])


def run(backend: str = "sqlite", factor: int = 1, seed: int = 42) -> dict:
    """Generate the night, then time a first run, an idle incremental run and a full re-run."""
    with tempfile.TemporaryDirectory(prefix="mpi-coinc-") as work:
        db = _database(backend, Path(work))
        rng = random.Random(seed)
        start_ms = model.utc_datetime_to_milliseconds(datagen.START)
        cameras = datagen._insert_cameras(db.engine, rng, FULL, start_ms, int(FULL.years * 365))
        night_ms = start_ms + NIGHT * datagen.DAY_MS
        next_ids = {"event": 1, "file": 1}
        background = EVENTS_PER_NIGHT * factor
        datagen._insert_event_batch(db.engine, rng, cameras, night_ms, 1, background, next_ids)
        simulated, multi = _add_meteors(db, cameras, night_ms + 19 * 3600 * 1000,
                                        METEORS_PER_NIGHT * factor, rng, next_ids["event"])
        datagen._reset_sequences(db.engine)
        with db.engine.begin() as connection:  # fresh statistics, as the data set has
            connection.exec_driver_sql("ANALYZE")
        import meteorpi_trajectory.network  # noqa: F401  (not timing the import of numpy)

        began = time.perf_counter()
        first = db.update_coincidences()
        first_s = time.perf_counter() - began
        began = time.perf_counter()
        idle = db.update_coincidences()
        idle_s = time.perf_counter() - began
        began = time.perf_counter()
        again = db.update_coincidences(everything=True)
        again_s = time.perf_counter() - began
        url = db.db_path
        db.close()
        if backend != "sqlite":
            _drop(url)
    return {"backend": backend, "cameras": len(cameras), "background_events": background,
            "meteor_events": simulated, "meteors_seen_by_several": multi,
            "events": background + simulated, "groups": first["groups"], "solved": first["solved"],
            "first_run_s": round(first_s, 3), "idle_run_s": round(idle_s, 4),
            "full_rerun_s": round(again_s, 3), "rerun_created": again["created"],
            "rerun_kept": again["kept"], "idle_spans": idle["spans"]}


def _drop(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}"'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--factor", type=int, default=1, help="multiply the night's events")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = run(args.backend, args.factor)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    table = Table("figure", "value", title="Coincidences in one night of a 100-camera network")
    for key, value in figures.items():
        table.add_row(key, str(value))
    Console().print(table)


if __name__ == "__main__":
    main()
