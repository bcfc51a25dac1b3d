"""HTTP throughput under gunicorn (2 workers x 4 threads), driven by wrk, each case interleaved
with its reference (A B A B, medians; see ``_wrk``).

    python -m benchmarks.http_search [--seconds 3] [--rounds 2] [--backend sqlite|postgresql]

Cases (MeteorPi vs reference):

- wrk saturation: nginx serving the search page as a static file vs the minimal Flask app
  serving the same bytes: wrk is not the bottleneck when nginx gets many times more;
- search: ``GET /events/<search>`` (50 events with files and metadata) with the answer cache
  off, vs the minimal Flask app returning the same bytes (the bare framework), and vs the
  minimal app running one hand-written SQL statement that builds the JSON (``_sql_floor``);
- repeated search: from the cache, and answered 304 to ``If-None-Match``, vs the bare framework;
- download of a small file: MeteorPi behind nginx with ``MPI_CONTENT_OFFLOAD=x-accel-redirect``
  vs nginx serving the file statically; and MeteorPi sending it itself vs Flask's ``send_file``.

Figures depend on the machine (wrk shares its CPUs); compare ratios, not absolutes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import quote_plus

import requests

from benchmarks import _nginx as _nginx_module
from benchmarks import _wrk
from benchmarks._common import tree_peak_rss_mb

PG_ADMIN_URL = os.environ.get("MPI_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
INSTALLATION_ID = "b0000000abcd"
GUNICORN = ["--workers", "2", "--threads", "4", "--log-level", "warning"]

MINIMAL_APP = textwrap.dedent('''
    import os
    from flask import Flask, Response, send_file
    from sqlalchemy import create_engine, text

    app = Flask(__name__)
    with open(os.environ["BENCH_DOCUMENT"], "rb") as f:
        DOCUMENT = f.read()
    FILE = os.environ["BENCH_FILE"]
    ENGINE = create_engine(os.environ["BENCH_DB"])
    with open(os.environ["BENCH_SQL"]) as f:
        SQL = text(f.read())

    @app.get("/document")
    def document():
        return Response(DOCUMENT, mimetype="application/json")

    @app.get("/file")
    def file():
        return send_file(FILE, mimetype="application/octet-stream", conditional=True)

    @app.get("/sqljson")
    def sqljson():
        with ENGINE.connect() as connection:
            return Response(connection.execute(SQL).scalar(), mimetype="application/json")
''')

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stdout.read() if process.stdout else ''}")
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


@contextmanager
def _serve(command: list[str], env: dict[str, str], probe: str, cwd: str | None = None) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=cwd, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait(probe, process)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


def _database_url(backend: str, directory: Path) -> tuple[str, str | None]:
    if backend == "sqlite":
        return f"sqlite:///{directory / 'bench.db'}", None
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"mpi_http_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False), name


def _drop_database(name: str | None) -> None:
    if name is None:
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def populate(db_url: str, store: Path, work: Path, events: int, file_kb: int) -> tuple[str, Path]:
    """Events with two files and metadata each, plus one file of ``file_kb`` KiB; returns its id
    and a copy of it in ``work``/static (for the static servers)."""
    import meteorpi_model as model
    from meteorpi_fdb import MeteorDatabase

    db = MeteorDatabase(db_url, str(store), installation_id=INSTALLATION_ID)
    try:
        start = model.milliseconds_to_utc_datetime(1_420_070_400_000)  # 2015-01-01
        status = model.CameraStatus("lens", "sensor", "https://example.org", "Bench",
                                    model.Orientation(90, 0), model.Location(52.2, 0.1),
                                    INSTALLATION_ID)
        db.update_camera_status(status, time=start, camera_id=INSTALLATION_ID)
        incoming = work / "incoming"
        incoming.mkdir()
        for i in range(events):
            when = model.milliseconds_to_utc_datetime(1_420_070_400_000 + (i + 1) * 60_000)
            metas = [model.Meta("meteorpi:brightness", float(i % 17)), model.Meta("meteorpi:note", f"event {i}")]
            records = []
            for kind in ("image", "video"):
                path = incoming / f"{i}-{kind}"
                path.write_bytes(os.urandom(64))
                records.append(db.register_file(str(path), "application/octet-stream",
                                                model.NSString(kind), when, metas,
                                                camera_id=INSTALLATION_ID, file_name=f"{i}.{kind}"))
            db.register_event(INSTALLATION_ID, when, model.NSString("meteor"), records, metas)
        big = incoming / "big.bin"
        big.write_bytes(os.urandom(file_kb * 1024))
        reference_copy = work / "static" / "big.bin"
        reference_copy.parent.mkdir()
        shutil.copyfile(big, reference_copy)
        when = model.milliseconds_to_utc_datetime(1_420_070_400_000 + (events + 1) * 60_000)
        record = db.register_file(str(big), "application/octet-stream", model.NSString("video"),
                                  when, [], camera_id=INSTALLATION_ID, file_name="big.bin")
        return record.file_id.hex, reference_copy
    finally:
        db.close()


def _nginx(work: Path, port: int, app_port: int, store: Path) -> list[str]:
    """The command line of an nginx (in the foreground) configured as docs/http-api.md
    documents, proxying to the MeteorPi server on ``app_port``, plus ``work``/static."""
    config = _nginx_module.nginx_config(work / "nginx", port, app_port, str(store),
                                        extra_locations=f"location /static/ {{ alias {work}/static/; }}")
    return _nginx_module.nginx_command(work / "nginx", config)


def run(seconds: float = 3, backend: str = "sqlite", events: int = 300, page: int = 50,
        file_kb: int = 50, rounds: int = 2) -> list[dict]:
    """Every case, each interleaved with its reference; rows of {case, server, figure, unit,
    reference, ratio, note}."""
    from benchmarks._sql_floor import page_sql

    work = Path(tempfile.mkdtemp(prefix="mpi-http-bench-"))
    db_url, pg_name = _database_url(backend, work)
    rows: list[dict] = []
    try:
        store = work / "files"
        file_id, static_file = populate(db_url, store, work, events, file_kb)
        search = quote_plus(quote_plus(json.dumps({"limit": page}, separators=(",", ":"))))
        ports = {name: _free_port() for name in ("uncached", "cached", "minimal", "nginx")}
        url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        base_env = {"MPI_DB": db_url, "MPI_FILE_STORE": str(store), "MPI_INSTALLATION_ID": INSTALLATION_ID,
                    "MPI_LOG_LEVEL": "WARNING"}
        gunicorn = [sys.executable, "-m", "gunicorn", *GUNICORN, "--bind"]
        target = "meteorpi_server.wsgi:create_app()"
        (work / "sql.txt").write_text(page_sql(backend, page))
        (work / "minimal_app.py").write_text(MINIMAL_APP)
        with contextlib.ExitStack() as stack:
            stack.enter_context(_serve(
                [*gunicorn, f"127.0.0.1:{ports['uncached']}", target],
                {**base_env, "MPI_SEARCH_CACHE_BYTES": "0", "MPI_CONTENT_OFFLOAD": "x-accel-redirect"},
                f"{url['uncached']}/health"))
            cached = stack.enter_context(_serve([*gunicorn, f"127.0.0.1:{ports['cached']}", target], base_env,
                                                f"{url['cached']}/health"))
            body = requests.get(f"{url['uncached']}/events/{search}", timeout=60).content
            (work / "static" / "document.json").write_bytes(body)
            stack.enter_context(_serve(
                [*gunicorn, f"127.0.0.1:{ports['minimal']}", "minimal_app:app"],
                {"BENCH_DOCUMENT": str(work / "static" / "document.json"), "BENCH_FILE": str(static_file),
                 "BENCH_DB": db_url, "BENCH_SQL": str(work / "sql.txt")},
                f"{url['minimal']}/document", cwd=str(work)))
            stack.enter_context(_serve(_nginx(work, ports["nginx"], ports["uncached"], store), {},
                                       f"{url['nginx']}/static/document.json"))
            etag = requests.get(f"{url['cached']}/events/{search}", timeout=60).headers["ETag"]
            note = f"{len(body):,} B, {page} events"
            none: dict[str, str] = {}
            cases = [
                ("wrk saturation", "nginx static, same document", (f"{url['nginx']}/static/document.json", none),
                 "minimal Flask, same document", (f"{url['minimal']}/document", none), "req/s",
                 "wrk gets far more from nginx than from any Python server: it is not the bottleneck"),
                ("search", "MeteorPi /events (no cache)", (f"{url['uncached']}/events/{search}", none),
                 "minimal Flask, same document", (f"{url['minimal']}/document", none), "req/s", note),
                ("search", "MeteorPi /events (no cache)", (f"{url['uncached']}/events/{search}", none),
                 "one SQL statement building the JSON", (f"{url['minimal']}/sqljson", none), "req/s", note),
                ("search", "MeteorPi /events, repeated (cache)", (f"{url['cached']}/events/{search}", none),
                 "minimal Flask, same document", (f"{url['minimal']}/document", none), "req/s", note),
                ("search", "MeteorPi /events, If-None-Match (304)",
                 (f"{url['cached']}/events/{search}", {"If-None-Match": etag}),
                 "minimal Flask, same document", (f"{url['minimal']}/document", none), "req/s", note),
                ("download", "MeteorPi via nginx, x-accel-redirect",
                 (f"{url['nginx']}/files/content/{file_id}", none),
                 "nginx static", (f"{url['nginx']}/static/{static_file.name}", none), "req/s", f"{file_kb} KB"),
                ("download", "MeteorPi /files/content (app sends)", (f"{url['cached']}/files/content/{file_id}", none),
                 "minimal Flask send_file", (f"{url['minimal']}/file", none), "req/s", f"{file_kb} KB"),
            ]
            for case, server, subject, reference_name, reference, unit, case_note in cases:
                ours, theirs = _wrk.interleaved(subject, reference, seconds, rounds)
                rows.append(_row(case, f"{server} vs {reference_name}", ours["requests_per_s"], unit,
                                 theirs["requests_per_s"], case_note))
            rows.append(_row("memory", "MeteorPi gunicorn master + 2 workers", tree_peak_rss_mb(cached.pid),
                             "MB", None, "summed peak RSS after the runs"))
    finally:
        _drop_database(pg_name)
        shutil.rmtree(work, ignore_errors=True)
    return rows


def _row(case: str, server: str, figure: float, unit: str, reference: float | None, note: str) -> dict:
    ratio = None if not reference else figure / reference
    return {"case": case, "server": server, "figure": figure, "unit": unit, "reference": reference,
            "ratio": ratio, "note": note}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.http_search", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3, help="duration of each wrk run")
    parser.add_argument("--rounds", type=int, default=2, help="A/B rounds per case (medians)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--events", type=int, default=300, help="events in the database")
    parser.add_argument("--page", type=int, default=50, help="events per search page")
    parser.add_argument("--file-kb", type=int, default=50, help="size of the downloaded file")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    rows = run(args.seconds, args.backend, args.events, args.page, args.file_kb, args.rounds)
    print(f"HTTP benchmark: gunicorn {' '.join(GUNICORN[:4])}, backend {args.backend}, wrk "
          f"-t{_wrk.THREADS} -c{_wrk.CONNECTIONS}, {args.rounds} x {args.seconds:g} s interleaved, "
          f"{os.cpu_count()} CPUs")
    for row in rows:
        reference = "" if row["reference"] is None else f"{row['reference']:,.1f}"
        ratio = "" if row["ratio"] is None else f"{row['ratio']:.2f}"
        print(f"{row['case']:<14} {row['server']:<75} {row['figure']:>10,.1f} {row['unit']:<6} "
              f"{reference:>10} {ratio:>6}  {row['note']}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
