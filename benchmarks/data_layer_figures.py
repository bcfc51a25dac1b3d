"""Two data-layer figures: SQL statements per 100-event search page, and the time to register
10,000 files on SQLite (one ``register_file`` each: hashed, flushed, committed).

    python -m benchmarks.data_layer_figures
"""

from __future__ import annotations

import datetime
import os
import tempfile
import time

from sqlalchemy import event

import meteorpi_model as model
from benchmarks import datagen
from meteorpi_fdb import MeteorDatabase

FILES = 10_000
FILE_BYTES = 20_000


def statements_per_page(work: str) -> tuple[int, int]:
    """(events on the page, SQL statements executed) for a 100-event search page."""
    db = MeteorDatabase(os.path.join(work, "q.db"), os.path.join(work, "q-files"), installation_id="b0000000ffff")
    datagen.generate(db.engine, datagen.Scale("page", 4, 1000, 0.5))
    statements: list[str] = []
    event.listens_for(db.engine, "before_cursor_execute")(lambda _c, _cur, sql, *_a: statements.append(sql))
    result = db.search_events(model.EventSearch(limit=100))
    db.close()
    return len(result["events"]), sum(1 for sql in statements if not sql.startswith("BEGIN"))


def registration_seconds(work: str) -> float:
    """Seconds to register FILES files of FILE_BYTES each on SQLite."""
    db = MeteorDatabase(os.path.join(work, "r.db"), os.path.join(work, "r-files"), installation_id="b00000000001")
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    db.update_camera_status(model.CameraStatus(
        "lens", "sensor", "https://example.org", "bench", model.Orientation(60, 180),
        model.Location(52.2, 0.1, True, 5.0), db.installation_id), time=start)
    incoming = os.path.join(work, "incoming")
    os.makedirs(incoming)
    paths = []
    for index in range(FILES):
        path = os.path.join(incoming, f"{index}.png")
        with open(path, "wb") as handle:
            handle.write(os.urandom(FILE_BYTES))
        paths.append(path)
    started = time.perf_counter()
    for index, path in enumerate(paths):
        db.register_file(path, "image/png", model.NSString("meteor_image"),
                         start + datetime.timedelta(seconds=index + 1),
                         [model.Meta(model.NSString("exposure"), 0.04)])
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="mpi-figures-") as work:
        events, statements = statements_per_page(work)
        print(f"a {events}-event search page: {statements} SQL statements (plus BEGIN)")
        seconds = registration_seconds(work)
        print(f"registered {FILES:,} files of {FILE_BYTES // 1000} KB on SQLite in {seconds:.1f} s "
              f"({FILES / seconds:.0f} files/s)")


if __name__ == "__main__":
    main()
