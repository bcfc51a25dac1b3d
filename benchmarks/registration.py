"""Registration on SQLite: ``db.batch()`` against a durable-batch floor, interleaved A B A B.

Both register N events of 2 files of 20 KB (one metadata value per file, two per event), moving
each file from an incoming directory on the same filesystem, 1,000 events per transaction:

- **ours**: ``with db.batch() as batch`` (``add_file`` twice, ``add_event``) per 1,000 events:
  validation, a duplicate check, each source hashed, linked into the store under a temporary
  name, flushed and renamed; one directory flush; one transaction; sources removed after it.
- **floor**: the least a durable registration can do, with plain SQL: each file hashed (MD5),
  hard-linked into a store directory and flushed; one directory flush; one transaction of
  ``executemany`` inserts with precomputed ids; sources removed after it.

Every round starts from fresh incoming files and an empty database; medians over the rounds.

    python -m benchmarks.registration --events 10000 --rounds 3

The results document (``--json``, default ``benchmarks/results/registration.json``) is
rendered into docs/benchmark-results.md by ``python -m benchmarks.report``.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import meteorpi_model as model
from benchmarks._common import Result, write_document
from meteorpi_fdb import MeteorDatabase

FILE_BYTES = 20_000
BATCH_EVENTS = 1_000
START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def _incoming(directory: str, events: int, rng: random.Random) -> list[str]:
    os.makedirs(directory)
    paths = []
    for index in range(events * 2):
        path = os.path.join(directory, f"{index}.png")
        with open(path, "wb") as handle:
            handle.write(rng.randbytes(FILE_BYTES))
        paths.append(path)
    return paths


def _database(work: str, name: str) -> MeteorDatabase:
    db = MeteorDatabase(os.path.join(work, f"{name}.db"), os.path.join(work, f"{name}-files"),
                        installation_id="b00000000001")
    db.update_camera_status(model.CameraStatus(
        "lens", "sensor", "https://example.org", "bench", model.Orientation(60, 180),
        model.Location(52.2, 0.1, True, 5.0), db.installation_id), time=START)
    return db


def ours(work: str, paths: list[str]) -> float:
    """Seconds for ``db.batch()`` to register len(paths) / 2 events."""
    db = _database(work, "ours")
    events = len(paths) // 2
    file_meta = [model.Meta("meteorpi:exposure", 0.04)]
    event_meta = [model.Meta("meteorpi:duration", 1.2), model.Meta("meteorpi:class", "meteor")]
    started = time.perf_counter()
    for first in range(0, events, BATCH_EVENTS):
        with db.batch() as batch:
            for index in range(first, min(events, first + BATCH_EVENTS)):
                when = START + datetime.timedelta(seconds=index + 1)
                files = [batch.add_file(paths[2 * index + n], "image/png", "meteorpi:meteor_image", when,
                                        file_meta, file_name=f"{n}.png") for n in range(2)]
                batch.add_event(None, when, "meteorpi:meteor", files, event_meta)
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed


def floor(work: str, paths: list[str]) -> float:
    """Seconds for the durable-batch floor to register len(paths) / 2 events."""
    db = _database(work, "floor")
    store = os.path.join(work, "floor-store")
    os.makedirs(store)
    events = len(paths) // 2
    start_ms = model.utc_datetime_to_milliseconds(START)
    raw = db.engine.raw_connection()
    started = time.perf_counter()
    for first in range(0, events, BATCH_EVENTS):
        files, file_metas, event_rows, event_metas, links, done = [], [], [], [], [], []
        for index in range(first, min(events, first + BATCH_EVENTS)):
            time_ms = start_ms + (index + 1) * 1000
            for n in range(2):
                source = paths[2 * index + n]
                with open(source, "rb") as reader:
                    md5 = hashlib.md5(reader.read(), usedforsecurity=False).hexdigest()
                file_uuid = uuid.uuid4().hex
                target = os.path.join(store, file_uuid)
                os.link(source, target)
                descriptor = os.open(target, os.O_RDONLY)
                os.fsync(descriptor)
                os.close(descriptor)
                file_id = 2 * index + n + 1
                files.append((file_id, file_uuid, db.installation_id, "image/png", "meteorpi:meteor_image",
                              time_ms, 0, FILE_BYTES, f"{n}.png", md5, 1))
                file_metas.append((file_id, 0, "meteorpi:exposure", None, 0.04, None))
                links.append((index + 1, file_id, n))
                done.append(source)
            event_rows.append((index + 1, uuid.uuid4().hex, db.installation_id, time_ms, 0, "meteorpi:meteor", 1))
            event_metas += [(index + 1, 0, "meteorpi:duration", None, 1.2, None),
                            (index + 1, 1, "meteorpi:class", "meteor", None, None)]
        descriptor = os.open(store, os.O_RDONLY)
        os.fsync(descriptor)
        os.close(descriptor)
        cursor = raw.cursor()
        cursor.execute("BEGIN IMMEDIATE")  # the engine runs pysqlite in autocommit mode: one transaction
        cursor.executemany("INSERT INTO t_file (internalid, fileid, cameraid, mimetype, semantictype, filetime, "
                           "fileoffset, filesize, filename, md5hex, statusid) VALUES (?,?,?,?,?,?,?,?,?,?,?)", files)
        cursor.executemany("INSERT INTO t_filemeta (fileid, metaindex, metakey, stringvalue, floatvalue, datevalue) "
                           "VALUES (?,?,?,?,?,?)", file_metas)
        cursor.executemany("INSERT INTO t_event (internalid, eventid, cameraid, eventtime, eventoffset, eventtype, "
                           "statusid) VALUES (?,?,?,?,?,?,?)", event_rows)
        cursor.executemany("INSERT INTO t_eventmeta (eventid, metaindex, metakey, stringvalue, floatvalue, datevalue) "
                           "VALUES (?,?,?,?,?,?)", event_metas)
        cursor.executemany("INSERT INTO t_event_to_file (eventid, fileid, sequencenumber) VALUES (?,?,?)", links)
        raw.commit()
        for source in done:
            os.remove(source)
    elapsed = time.perf_counter() - started
    raw.close()
    db.close()
    return elapsed


def measure(events: int, rounds: int, seed: int = 42) -> tuple[list[float], list[float]]:
    """Seconds of ``rounds`` interleaved runs of ours and the floor: (ours, floor)."""
    rng = random.Random(seed)
    ours_seconds, floor_seconds = [], []
    for _ in range(rounds):
        for name, run, samples in (("ours", ours, ours_seconds), ("floor", floor, floor_seconds)):
            work = tempfile.mkdtemp(prefix=f"mpi-register-{name}-")
            try:
                paths = _incoming(os.path.join(work, "incoming"), events, rng)
                samples.append(run(work, paths))
            finally:
                shutil.rmtree(work, ignore_errors=True)
    return ours_seconds, floor_seconds


def run(events: int, rounds: int = 3) -> list[Result]:
    """Events registered per second, ours against the durable-batch floor (medians)."""
    ours_seconds, floor_seconds = measure(events, rounds)
    return [_result(events, rounds, ours_seconds, floor_seconds)]


def _result(events: int, rounds: int, ours_seconds: list[float], floor_seconds: list[float]) -> Result:
    return Result("registration", f"{events:,} events x 2 files of 20 KB, batches of 1,000 (median of {rounds})",
                  "sqlite", events / statistics.median(ours_seconds), events / statistics.median(floor_seconds),
                  "events/s", note="reference: durable-batch floor (hash, link, fsync, plain SQL)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.registration", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None,
                        help="where to write the results document (default benchmarks/results/registration.json)")
    args = parser.parse_args(argv)
    ours_seconds, floor_seconds = measure(args.events, args.rounds)
    for index, (a, b) in enumerate(zip(ours_seconds, floor_seconds)):
        print(f"round {index + 1}: ours {a:.2f} s, floor {b:.2f} s")
    ours_median, floor_median = statistics.median(ours_seconds), statistics.median(floor_seconds)
    print(f"{args.events:,} events x 2 files of {FILE_BYTES // 1000} KB on SQLite: ours {ours_median:.2f} s "
          f"({args.events / ours_median:,.0f} events/s), durable-batch floor {floor_median:.2f} s "
          f"({args.events / floor_median:,.0f} events/s); ratio {floor_median / ours_median:.2f}x the floor")
    rounds = ", ".join(f"{a:.1f}/{b:.1f}" for a, b in zip(ours_seconds, floor_seconds))
    written = write_document(
        "registration", f"Registration, {args.events:,} events x 2 files of {FILE_BYTES // 1000} KB on SQLite",
        "benchmarks.registration", sys.argv[1:] if argv is None else argv,
        [_result(args.events, args.rounds, ours_seconds, floor_seconds)],
        notes=[f"Seconds per interleaved round, ours/floor: {rounds}.",
               "Ours: db.batch() (what meteorpi register uses), 1,000 events per batch. Floor: the least a "
               "durable registration can do in plain SQL: hash each file, hard-link it into a directory, flush "
               "it, flush the directory once and commit once per 1,000 events. Ratio = ours / floor in events/s."],
        figures={"ours_seconds": ours_seconds, "floor_seconds": floor_seconds}, path=args.json)
    print(f"wrote {written} (render it with python -m benchmarks.report {written})")


if __name__ == "__main__":
    main()
