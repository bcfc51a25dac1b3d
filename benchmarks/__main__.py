"""Run every benchmark, print one table of figures beside their references, write JSON.

    python -m benchmarks                  # small scale: a few minutes on 2 cores
    python -m benchmarks --scale full     # 1,000,000 events from 100 cameras over 3 years
    python -m benchmarks --only search,ingest --backends sqlite
    python -m benchmarks --only activity --output benchmarks/results/activity-small.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from benchmarks import _common, datagen

RESULTS_DIR = Path(__file__).parent / "results"
PG_ADMIN_URL = os.environ.get("MPI_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SETTINGS = {
    "small": {"search_repeats": 30, "ingest_events": 200, "replication_events": 200, "http_seconds": 3,
              "registration_events": 1_000},
    "medium": {"search_repeats": 30, "ingest_events": 200, "replication_events": 200, "http_seconds": 3,
               "registration_events": 1_000},
    "full": {"search_repeats": 100, "ingest_events": 2_000, "replication_events": 1_000, "http_seconds": 10,
             "registration_events": 10_000},
}
BENCHMARKS = ("search", "ingest", "http", "replication", "registration", "activity", "logins",
              "object_store")


def _database_url(backend: str, scale: str) -> str:
    if backend == "sqlite":
        RESULTS_DIR.mkdir(exist_ok=True)
        return f"sqlite:///{RESULTS_DIR / f'bench-{scale}.db'}"
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = _pg_database_name(scale)
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        exists = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _pg_database_name(scale: str) -> str:
    return f"meteorpi_bench_{scale}"


def _open_populated(backend: str, scale: datagen.Scale, console: Console, notes: list[str]):
    """A MeteorDatabase holding ``scale``'s data (generated once, reused by later runs; a
    database left by an interrupted or different load is discarded and generated again)."""
    from sqlalchemy import func, select

    from meteorpi_fdb import MeteorDatabase, schema

    def open_database() -> MeteorDatabase:
        url = _database_url(backend, scale.name)
        return MeteorDatabase(url, str(RESULTS_DIR / f"files-{scale.name}-{backend}"), installation_id="b0000000ffff")

    db = open_database()
    if not datagen.is_complete(db.engine, scale):
        with db.engine.connect() as connection:
            existing = connection.execute(select(func.count()).select_from(schema.t_event)).scalar()
        if existing:
            console.print(f"discarding an incomplete {scale.name} database on {backend}")
            db.close()
            _discard_database(backend, scale.name)
            db = open_database()
        started = time.perf_counter()
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"generating {scale.events:,} events on {backend}", total=scale.events)
            datagen.generate(db.engine, scale, progress=lambda n: progress.advance(task, n))
        generated = f"generated {scale.events:,} events on {backend} in {time.perf_counter() - started:.0f} s"
        console.print(generated)
        notes += [f"This run first {generated}.", _common.load_note("after generating")]
    return db, datagen.describe(db.engine, scale)


def _discard_database(backend: str, scale: str) -> None:
    """Remove the benchmark database of ``scale`` (the next open creates it empty)."""
    if backend == "sqlite":
        for suffix in ("", "-wal", "-shm", "-journal"):
            (RESULTS_DIR / f"bench-{scale}.db{suffix}").unlink(missing_ok=True)
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{_pg_database_name(scale)}" WITH (FORCE)'))
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=sorted(datagen.SCALES), default="small")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated subset of " + ", ".join(BENCHMARKS))
    parser.add_argument("--search-repeats", type=int, default=None,
                        help="searches per case (default: 30 at small scale, 100 at full)")
    parser.add_argument("--output", type=Path, default=None, help="JSON file (default benchmarks/results/<scale>.json)")
    args = parser.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 150)
    scale = datagen.SCALES[args.scale]
    settings = dict(SETTINGS[args.scale])
    if args.search_repeats is not None:
        settings["search_repeats"] = args.search_repeats
    notes = [_common.load_note("at the start of the run")]
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")
    backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    results: list[_common.Result] = []
    memory: dict[str, float] = {}

    if "search" in chosen:
        from benchmarks import search

        for backend in backends:
            db, data = _open_populated(backend, scale, console, notes)
            console.print(f"search on {backend} …")
            results += search.run(db, data, backend, settings["search_repeats"])
            memory[f"search ({backend}, in-process)"] = _common.peak_rss_mb()
            db.close()
    if "activity" in chosen:
        from benchmarks import activity

        for backend in backends:
            db, data = _open_populated(backend, scale, console, notes)
            console.print(f"activity on {backend} …")
            results += activity.run(db, data, backend, max(5, settings["search_repeats"] // 3))
            db.close()
    if "ingest" in chosen:
        from benchmarks import ingest

        console.print("ingest on sqlite …")
        results += ingest.run(settings["ingest_events"])
    if "http" in chosen:
        from benchmarks import http_search

        for backend in backends:
            console.print(f"http under gunicorn on {backend} …")
            for row in http_search.run(settings["http_seconds"], backend=backend):
                if row["case"] == "memory":
                    memory[f"http server ({backend}): {row['server']}"] = row["figure"]
                else:
                    results.append(_common.Result("http", f"{row['case']}: {row['server']}", backend,
                                                  row["figure"], row["reference"], row["unit"], row["note"]))
    if "replication" in chosen:
        from benchmarks import replication

        console.print("replication …")
        replication_results, replication_memory = replication.run(settings["replication_events"])
        results += replication_results
        memory.update(replication_memory)

    if "registration" in chosen:
        from benchmarks import registration

        console.print("registration against the durable-batch floor on sqlite …")
        results += registration.run(settings["registration_events"])

    if "logins" in chosen:
        from benchmarks import bad_logins

        console.print("bad logins against gunicorn on sqlite, login guard on and off …")
        results += bad_logins.run()

    if "object_store" in chosen:
        from benchmarks import object_store

        console.print("object store: bucket (S3 protocol) against directory …")
        results += object_store.run(rounds=3)

    _print(console, results, memory, scale)
    output = args.output or RESULTS_DIR / f"{scale.name}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    notes.append(_common.load_note("at the end of the run"))
    output.write_text(json.dumps({
        "scale": scale.name,
        "command": " ".join(["python", "-m", "benchmarks", *map(shlex.quote, sys.argv[1:] if argv is None else argv)]),
        "notes": notes,
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": _common.machine_info(),
        "results": [result.as_dict() for result in results],
        "peak_rss_mb": memory,
    }, indent=2))
    console.print(f"wrote {output}")
    return 0


def _print(console: Console, results, memory, scale) -> None:
    table = Table(title=f"MeteorPi benchmarks ({scale.name}: {scale.events:,} events, {scale.cameras} cameras)")
    for column in ("benchmark", "case", "backend", "MeteorPi", "reference", "unit", "ratio"):
        table.add_column(column, justify="right" if column in ("MeteorPi", "reference", "ratio") else "left",
                         overflow="fold")  # wrapped, never cut
    for result in results:
        # escape(): rich would take "[p50]" and "[p99]" for markup and drop them.
        table.add_row(result.benchmark, escape(result.case), result.backend, f"{result.figure:,.2f}",
                      "" if result.reference is None else f"{result.reference:,.2f}", result.unit,
                      "" if result.ratio is None else f"{result.ratio:.2f}")
    console.print(table)
    if memory:
        memory_table = Table(title="Peak RSS (MB)")
        memory_table.add_column("during")
        memory_table.add_column("MB", justify="right")
        for name, value in memory.items():
            memory_table.add_row(name, "" if value is None else f"{value:,.0f}")
        console.print(memory_table)


if __name__ == "__main__":
    sys.exit(main())
