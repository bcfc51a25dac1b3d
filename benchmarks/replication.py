"""Replication between two local nodes, beside ``rsync -a`` of the same files, in one run.

    python -m benchmarks.replication [--events 1000] [--files-per-event 3] [--file-kb 50]
                                     [--workers 2] [--target-db URL] [--json out.json]

The source is a SQLite node holding ``--events`` events with ``--files-per-event`` files of
``--file-kb`` KB each (random bytes, so nothing compresses). The target is a second node served
by gunicorn (``meteorpi_server.wsgi:create_app()``, ``--workers`` processes x 4 threads) on
its own SQLite database (or ``--target-db``). ``MeteorExporter.run_once()`` on the source
replicates every event with its files and camera status, and the wall-clock time is compared
with ``rsync -a`` copying the same content files between two directories on the same machine:
rsync moves only the bytes, while replication also checks credentials, verifies every file's
MD5 on arrival, flushes content to disk before committing rows, and imports the events' rows,
metadata and links in transactions.

Also reported: the number of HTTP requests against the protocol's minimum (one request per
entity, plus one upload and one re-send per file, plus two per camera status block), which
shows the cost of entity-cache misses across worker processes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests

import meteorpi_model as model
from benchmarks._common import Result, peak_rss_mb, process_peak_rss_mb
from meteorpi_fdb import MeteorDatabase
from meteorpi_fdb.exporter import MeteorExporter

SOURCE_ID = "b00000000a01"
TARGET_ID = "b00000000a02"
USER, PASSWORD = "bench-importer", "bench-import-secret"
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _populate(db: MeteorDatabase, incoming: Path, events: int, files_per_event: int, file_bytes: int) -> None:
    rng = random.Random(42)
    incoming.mkdir(parents=True, exist_ok=True)
    status = model.CameraStatus(
        lens="Computar 4mm", sensor="IMX291", inst_url="https://example.org", inst_name="bench",
        orientation=model.Orientation(60, 180), location=model.Location(52.2, 0.1, True, 5.0),
        camera_id=db.installation_id)
    db.update_camera_status(status, time=START)
    for index in range(events):
        when = START + timedelta(minutes=index + 1)
        records = []
        for n in range(files_per_event):
            path = incoming / f"{index}-{n}.png"
            path.write_bytes(rng.randbytes(file_bytes))
            records.append(db.register_file(
                str(path), "image/png", model.NSString("meteor_image"), when + timedelta(seconds=n),
                [model.Meta(model.NSString("exposure"), 0.04), model.Meta(model.NSString("gain"), 12)],
                file_name=f"{n}.png"))
        db.register_event(db.installation_id, when, model.NSString("meteor"), records,
                          [model.Meta(model.NSString("duration"), 1.2), model.Meta(model.NSString("class"), "meteor")])


def _start_target(workdir: Path, db_url: str, workers: int) -> tuple[subprocess.Popen, str, str]:
    store = str(workdir / "target-files")
    target = MeteorDatabase(db_url, store, installation_id=TARGET_ID)
    target.create_or_update_user(USER, PASSWORD, ["import"])
    target.grant_camera(USER, SOURCE_ID)
    target.close()
    port = _free_port()
    env = dict(os.environ, MPI_DB=db_url, MPI_FILE_STORE=store, MPI_INSTALLATION_ID=TARGET_ID,
               MPI_LOG_LEVEL="WARNING")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads", "4",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--no-control-socket",
         "meteorpi_server.wsgi:create_app()"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            if requests.get(f"{url}/health", timeout=2).status_code == 200:
                return process, url, store
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the target did not start")
        time.sleep(0.2)


def _worker_pids(parent: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == parent:
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


def _rsync_seconds(source_store: str, destination: Path) -> float:
    if shutil.which("rsync") is None:
        raise RuntimeError("rsync is not installed (apt-get install rsync)")
    started = time.perf_counter()
    subprocess.run(["rsync", "-a", f"{source_store}/", f"{destination}/"], check=True)
    return time.perf_counter() - started


def measure(events: int = 1000, files_per_event: int = 3, file_kb: int = 50, workers: int = 2,
            target_db: str | None = None) -> dict:
    """Run the whole comparison; return every figure as a dict."""
    with tempfile.TemporaryDirectory(prefix="mpi-replication-") as directory:
        workdir = Path(directory)
        source = MeteorDatabase(str(workdir / "source.db"), str(workdir / "source-files"),
                                installation_id=SOURCE_ID)
        started = time.perf_counter()
        _populate(source, workdir / "incoming", events, files_per_event, file_kb * 1000)
        populate_seconds = time.perf_counter() - started
        target_url = target_db or f"sqlite:///{workdir / 'target.db'}"
        process, base_url, target_store = _start_target(workdir, target_url, workers)
        try:
            source.create_or_update_export_configuration(model.ExportConfiguration(
                f"{base_url}/import", USER, PASSWORD, model.EventSearch(), "bench", "benchmark",
                enabled=True))
            exporter = MeteorExporter(source)
            started = time.perf_counter()
            summary = exporter.run_once()
            replication_seconds = time.perf_counter() - started
            worker_rss = [process_peak_rss_mb(pid) for pid in _worker_pids(process.pid)]
        finally:
            process.terminate()
            process.wait(30)
        exporter.close()
        target = MeteorDatabase(target_url, target_store, installation_id=TARGET_ID)
        replicated = target.search_events(model.EventSearch(limit=1))["count"]
        replicated_files = target.search_files(model.FileRecordSearch(limit=1))["count"]
        target.close()
        rsync_seconds = _rsync_seconds(source.file_store_path, workdir / "rsync-copy")
        source.close()
    if (summary.complete, replicated, replicated_files) != (events, events, events * files_per_event):
        raise RuntimeError(f"replication incomplete: {summary}, {replicated} events on the target")
    minimum_requests = events * (1 + 2 * files_per_event) + 2
    megabytes = events * files_per_event * file_kb / 1000
    return {
        "events": events, "files": events * files_per_event, "file_kb": file_kb, "workers": workers,
        "populate_seconds": populate_seconds,
        "replication_seconds": replication_seconds,
        "rsync_seconds": rsync_seconds,
        "ratio": replication_seconds / rsync_seconds,
        "events_per_second": events / replication_seconds,
        "megabytes_per_second": megabytes / replication_seconds,
        "requests": summary.requests,
        "minimum_requests": minimum_requests,
        "requests_per_event": summary.requests / events,
        "bytes_uploaded": summary.bytes_sent,
        "exporter_peak_rss_mb": peak_rss_mb(),
        "target_worker_peak_rss_mb": max((rss for rss in worker_rss if rss is not None), default=None),
    }


def run(events: int) -> tuple[list[Result], dict[str, float | None]]:
    """For ``python -m benchmarks``: the replication figures as Results, and peak memory."""
    figures = measure(events)
    case = f"{events} events x 3 files x 50 KB, gunicorn target ({figures['workers']} workers)"
    results = [
        Result("replication", case, "sqlite", figures["replication_seconds"], figures["rsync_seconds"], "s",
               note="reference: rsync -a of the same content files on the same machine"),
        Result("replication", f"{case}: HTTP requests", "sqlite", figures["requests"],
               figures["minimum_requests"], "requests",
               note="reference: the protocol's minimum (no entity-cache misses)"),
    ]
    memory = {"replication exporter (in-process)": figures["exporter_peak_rss_mb"],
              "replication target (one gunicorn worker)": figures["target_worker_peak_rss_mb"]}
    return results, memory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.replication", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--files-per-event", type=int, default=3)
    parser.add_argument("--file-kb", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--target-db", default=None, help="target database URL (default: SQLite)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    figures = measure(args.events, args.files_per_event, args.file_kb, args.workers, args.target_db)
    print(f"replicated {figures['events']:,} events with {figures['files']:,} files of "
          f"{figures['file_kb']} KB to a gunicorn target ({figures['workers']} workers)")
    print(f"  MeteorExporter.run_once: {figures['replication_seconds']:8.2f} s  "
          f"({figures['events_per_second']:.0f} events/s, {figures['megabytes_per_second']:.1f} MB/s)")
    print(f"  rsync -a (same files):   {figures['rsync_seconds']:8.2f} s")
    print(f"  ratio:                   {figures['ratio']:8.1f} x rsync")
    print(f"  HTTP requests:           {figures['requests']:8,d}  "
          f"({figures['requests_per_event']:.2f} per event; protocol minimum {figures['minimum_requests']:,})")
    print(f"  peak RSS: exporter {figures['exporter_peak_rss_mb']:.0f} MB, target worker "
          f"{figures['target_worker_peak_rss_mb'] or 0:.0f} MB")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
