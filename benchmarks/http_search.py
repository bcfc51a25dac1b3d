"""HTTP throughput under gunicorn (2 workers): MeteorPi beside minimal servers, in one run.

    python -m benchmarks.http_search [--seconds 5] [--backend sqlite|postgresql] [--json out.json]

Measured, each for ``--seconds`` with the same load generator (client processes x threads,
keep-alive sessions):

- search: ``GET /events/<search>`` (a page of events with their files and metadata) on MeteorPi,
  beside a minimal Flask endpoint under the same gunicorn settings returning a pre-built JSON
  document of the same size: the ratio is what the database round trips and model
  materialisation cost on top of the bare framework;
- download: ``GET /files/content/<id>`` of a large file on MeteorPi, beside the same bytes from the
  minimal Flask app (``send_file``) and from ``python -m http.server``.

Figures depend on the machine (the client shares its CPUs); compare ratios, not absolutes.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import quote_plus

import requests

from benchmarks._common import tree_peak_rss_mb

PG_ADMIN_URL = os.environ.get("MPI_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
INSTALLATION_ID = "b0000000abcd"
GUNICORN = ["--workers", "2", "--threads", "4", "--log-level", "warning"]

MINIMAL_APP = textwrap.dedent('''
    import os
    from flask import Flask, Response, send_file

    app = Flask(__name__)
    with open(os.environ["BENCH_DOCUMENT"], "rb") as f:
        DOCUMENT = f.read()
    FILE = os.environ["BENCH_FILE"]

    @app.get("/document")
    def document():
        return Response(DOCUMENT, mimetype="application/json")

    @app.get("/file")
    def file():
        return send_file(FILE, mimetype="application/octet-stream", conditional=True)
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


def _client(args: tuple[str, float, int, bool]) -> tuple[int, int]:
    """One client process: ``threads`` keep-alive sessions fetching ``url`` until the deadline.
    Returns (requests, bytes)."""
    url, deadline, threads, stream = args
    totals = [0, 0]
    lock = threading.Lock()

    def loop() -> None:
        session = requests.Session()
        count = size = 0
        while time.time() < deadline:
            if stream:
                with session.get(url, stream=True, timeout=60) as response:
                    response.raise_for_status()
                    for chunk in response.iter_content(1 << 20):
                        size += len(chunk)
            else:
                response = session.get(url, timeout=60)
                response.raise_for_status()
                size += len(response.content)
            count += 1
        session.close()
        with lock:
            totals[0] += count
            totals[1] += size

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return totals[0], totals[1]


def measure(url: str, seconds: float, processes: int, threads: int, stream: bool = False) -> dict:
    """Requests/s and MB/s of ``processes`` x ``threads`` clients hammering ``url``."""
    requests.get(url, timeout=60).raise_for_status()  # warm up
    started = time.time()
    deadline = started + seconds
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.map(_client, [(url, deadline, threads, stream)] * processes)
    elapsed = time.time() - started
    count = sum(r[0] for r in results)
    size = sum(r[1] for r in results)
    return {"requests_per_s": count / elapsed, "mb_per_s": size / elapsed / 1e6, "requests": count}


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


def populate(db_url: str, store: Path, work: Path, events: int, file_mb: int) -> tuple[str, Path]:
    """Events with two files and metadata each, plus one large file; returns its id and a copy."""
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
        big.write_bytes(os.urandom(file_mb * 1024 * 1024))
        reference_copy = work / "static" / "big.bin"
        reference_copy.parent.mkdir()
        shutil.copyfile(big, reference_copy)
        when = model.milliseconds_to_utc_datetime(1_420_070_400_000 + (events + 1) * 60_000)
        record = db.register_file(str(big), "application/octet-stream", model.NSString("video"),
                                  when, [], camera_id=INSTALLATION_ID, file_name="big.bin")
        return record.file_id.hex, reference_copy
    finally:
        db.close()


def run(seconds: float = 5, backend: str = "sqlite", events: int = 300, page: int = 50,
        file_mb: int = 64, processes: int = 2, threads: int = 4) -> list[dict]:
    """Run every measurement; return rows of {case, server, figure, unit, reference, ratio}."""
    work = Path(tempfile.mkdtemp(prefix="mpi-http-bench-"))
    db_url, pg_name = _database_url(backend, work)
    rows: list[dict] = []
    try:
        store = work / "files"
        file_id, static_file = populate(db_url, store, work, events, file_mb)
        search = quote_plus(quote_plus(json.dumps({"limit": page}, separators=(",", ":"))))
        meteorpi_port, minimal_port, static_port = _free_port(), _free_port(), _free_port()
        meteorpi = f"http://127.0.0.1:{meteorpi_port}"
        minimal = f"http://127.0.0.1:{minimal_port}"
        document = requests.Session()
        env = {"MPI_DB": db_url, "MPI_FILE_STORE": str(store), "MPI_INSTALLATION_ID": INSTALLATION_ID,
               "MPI_LOG_LEVEL": "WARNING"}
        with _serve([sys.executable, "-m", "gunicorn", *GUNICORN, "--bind", f"127.0.0.1:{meteorpi_port}",
                     "meteorpi_server.wsgi:create_app()"], env, f"{meteorpi}/health") as server:
            body = document.get(f"{meteorpi}/events/{search}", timeout=60).content
            (work / "document.json").write_bytes(body)
            (work / "minimal_app.py").write_text(MINIMAL_APP)
            search_figures = measure(f"{meteorpi}/events/{search}", seconds, processes, threads)
            download_figures = measure(f"{meteorpi}/files/content/{file_id}", seconds, processes, threads,
                                       stream=True)
            peak_rss_mb = tree_peak_rss_mb(server.pid)
        with _serve([sys.executable, "-m", "gunicorn", *GUNICORN, "--bind", f"127.0.0.1:{minimal_port}",
                     "minimal_app:app"],
                    {"BENCH_DOCUMENT": str(work / "document.json"), "BENCH_FILE": str(static_file)},
                    f"{minimal}/document", cwd=str(work)):
            minimal_search = measure(f"{minimal}/document", seconds, processes, threads)
            minimal_download = measure(f"{minimal}/file", seconds, processes, threads, stream=True)
        with _serve([sys.executable, "-m", "http.server", str(static_port), "--bind", "127.0.0.1",
                     "--directory", str(static_file.parent)], {}, f"http://127.0.0.1:{static_port}/big.bin"):
            static_download = measure(f"http://127.0.0.1:{static_port}/big.bin", seconds, processes,
                                      threads, stream=True)
        size_note = f"{len(body):,} B document, {page} events"
        rows.append(_row("search", "MeteorPi /events", search_figures["requests_per_s"], "req/s",
                         minimal_search["requests_per_s"], f"vs minimal Flask, {size_note}"))
        rows.append(_row("search", "minimal Flask, same document", minimal_search["requests_per_s"],
                         "req/s", None, size_note))
        rows.append(_row("download", "MeteorPi /files/content", download_figures["mb_per_s"], "MB/s",
                         minimal_download["mb_per_s"], f"vs Flask send_file, {file_mb} MiB file"))
        rows.append(_row("download", "minimal Flask send_file", minimal_download["mb_per_s"], "MB/s",
                         static_download["mb_per_s"], "vs python -m http.server"))
        rows.append(_row("download", "python -m http.server", static_download["mb_per_s"], "MB/s",
                         None, ""))
        rows.append(_row("download", "MeteorPi vs http.server", download_figures["mb_per_s"], "MB/s",
                         static_download["mb_per_s"], "ratio against the static server"))
        rows.append(_row("memory", "MeteorPi gunicorn master + 2 workers", peak_rss_mb, "MB", None,
                         "summed peak RSS after the search and download runs"))
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
    parser.add_argument("--seconds", type=float, default=5, help="duration of each measurement")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--events", type=int, default=300, help="events in the database")
    parser.add_argument("--page", type=int, default=50, help="events per search page")
    parser.add_argument("--file-mb", type=int, default=64, help="size of the downloaded file")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--threads", type=int, default=4, help="client threads per process")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    rows = run(args.seconds, args.backend, args.events, args.page, args.file_mb, args.processes,
               args.threads)
    print(f"HTTP benchmark: gunicorn {' '.join(GUNICORN[:4])}, backend {args.backend}, "
          f"{args.processes}x{args.threads} clients, {args.seconds:g} s each, {os.cpu_count()} CPUs")
    print(f"{'case':<9} {'server':<30} {'figure':>10} {'unit':<6} {'reference':>10} {'ratio':>6}  note")
    for row in rows:
        reference = "" if row["reference"] is None else f"{row['reference']:,.1f}"
        ratio = "" if row["ratio"] is None else f"{row['ratio']:.2f}"
        print(f"{row['case']:<9} {row['server']:<30} {row['figure']:>10,.1f} {row['unit']:<6} "
              f"{reference:>10} {ratio:>6}  {row['note']}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
