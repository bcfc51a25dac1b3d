"""Object storage: import and download throughput of the bucket store against the directory store.

    python -m benchmarks.object_store [--rounds 5] [--files 8] [--file-mb 4] [--seconds 3]

Import: ``register_file`` of ``files`` files of ``file-mb`` MiB each into a SQLite node (content
hashed, uploaded or linked, verified, then the row committed), once onto a bucket store and once
onto a directory store per round, interleaved (A B A B ...); MB/s is the median of the rounds.
Download: ``GET /files/content/<id>`` of one of those files under wrk from the embedded server
on each store, interleaved, medians (the bucket store streams through the app; the directory
store uses sendfile). The bucket is moto's S3 server on loopback unless ``MPI_S3_ENDPOINT_URL``
names another S3-compatible endpoint (with its credentials in the environment): moto keeps
objects in memory in one Python process, so its figures are a floor for a real object store.
Writes benchmarks/results/object_store.json (``--output``); ``python -m benchmarks.report
benchmarks/results/object_store.json`` renders it as its own section of docs/benchmark-results.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from benchmarks import _common, _wrk

BUCKET = "meteorpi-bench"
RESULTS = Path(__file__).parent / "results" / "object_store.json"


@contextmanager
def s3_endpoint() -> Iterator[str]:
    """``MPI_S3_ENDPOINT_URL`` if set, else a moto S3 server on a free loopback port."""
    given = os.environ.get("MPI_S3_ENDPOINT_URL")
    if given:
        yield given
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    saved = dict(os.environ)
    os.environ.update(MPI_S3_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_ACCESS_KEY_ID="bench",
                      AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    try:
        import requests

        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}", timeout=2)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise RuntimeError("moto's S3 server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.environ.clear()
        os.environ.update(saved)
        process.terminate()
        process.wait(10)


def _node(workdir: Path, store: str, name: str):
    from meteorpi_fdb import MeteorDatabase

    return MeteorDatabase(str(workdir / f"{name}.db"), store, installation_id="b0000000000f")


def _status(db) -> None:
    import meteorpi_model as model

    status = model.CameraStatus(lens="Computar 4mm", sensor="IMX291", inst_url="https://example.org",
                                inst_name="bench", orientation=model.Orientation(60, 180),
                                location=model.Location(52.2, 0.1, True, 5.0), camera_id=db.installation_id)
    db.update_camera_status(status, time=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc))


def _import_round(db, incoming: Path, files: int, file_bytes: int, first_minute: int) -> tuple[float, list]:
    """MB/s registering ``files`` new files; the records."""
    import meteorpi_model as model

    paths = []
    for index in range(files):
        path = incoming / f"{uuid.uuid4().hex}.bin"
        path.write_bytes(os.urandom(file_bytes))
        paths.append(path)
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    started = time.perf_counter()
    records = [db.register_file(str(path), "application/octet-stream", model.NSString("raw"),
                                start + datetime.timedelta(minutes=first_minute + index), [])
               for index, path in enumerate(paths)]
    elapsed = time.perf_counter() - started
    return files * file_bytes / 1e6 / elapsed, records


def run(rounds: int = 5, files: int = 8, file_bytes: int = 4 << 20, seconds: float = 3) -> list[_common.Result]:
    """Import and download MB/s, bucket (figure) against directory (reference)."""
    from meteorpi_server import MeteorServer

    with s3_endpoint(), tempfile.TemporaryDirectory(prefix="mpi-object-store-") as work:
        workdir = Path(work)
        from meteorpi_fdb.stores.bucket import BucketStore

        client = BucketStore.from_location(f"s3://{BUCKET}/").client
        try:
            client.create_bucket(Bucket=BUCKET)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass
        stores = {"bucket": f"s3://{BUCKET}/bench-{uuid.uuid4().hex[:8]}", "directory": str(workdir / "files")}
        nodes = {kind: _node(workdir, location, kind) for kind, location in stores.items()}
        incoming = {kind: workdir / f"in-{kind}" for kind in stores}
        for kind, db in nodes.items():
            _status(db)
            incoming[kind].mkdir()
        imports: dict[str, list[float]] = {"bucket": [], "directory": []}
        records: dict[str, list] = {"bucket": [], "directory": []}
        for number in range(rounds):
            order = ("bucket", "directory") if number % 2 == 0 else ("directory", "bucket")
            for kind in order:
                rate, made = _import_round(nodes[kind], incoming[kind], files, file_bytes, 1 + number * files)
                imports[kind].append(rate)
                records[kind] += made
        for db in nodes.values():
            db.close()
        servers = {kind: MeteorServer(str(workdir / f"{kind}.db"), location, 0, installation_id="b0000000000f")
                   for kind, location in stores.items()}
        stops = [server.start_non_blocking() for server in servers.values()]
        try:
            urls = {kind: f"http://127.0.0.1:{server.port}/files/content/{records[kind][0].file_id.hex}"
                    for kind, server in servers.items()}
            bucket, directory = _wrk.interleaved((urls["bucket"], {}), (urls["directory"], {}), seconds, rounds)
        finally:
            for stop in stops:
                stop()
            for server in servers.values():
                server.db.close()
    size = f"{files} files x {file_bytes / (1 << 20):g} MiB"
    note = "ratio = bucket / directory; medians of interleaved rounds"
    return [
        _common.Result("object store", f"import (register_file), {size}", "sqlite",
                       statistics.median(imports["bucket"]), statistics.median(imports["directory"]), "MB/s", note),
        _common.Result("object store", f"download, one {file_bytes / (1 << 20):g} MiB file under wrk", "sqlite",
                       bucket["mb_per_s"], directory["mb_per_s"], "MB/s", note),
        _common.Result("object store", f"download, one {file_bytes / (1 << 20):g} MiB file under wrk", "sqlite",
                       bucket["requests_per_s"], directory["requests_per_s"], "requests/s", note),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.object_store", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--file-mb", type=float, default=4)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    endpoint_given = bool(os.environ.get("MPI_S3_ENDPOINT_URL"))
    results = run(args.rounds, args.files, int(args.file_mb * (1 << 20)), args.seconds)
    for result in results:
        print(f"{result.case}: bucket {result.figure:,.1f} {result.unit}, directory "
              f"{result.reference:,.1f} {result.unit}, ratio {result.ratio:.2f}")
    written = _common.write_document(
        "object_store", "Object storage: bucket store against directory store", "benchmarks.object_store",
        sys.argv[1:] if argv is None else argv, results, path=args.output,
        notes=["MeteorPi = the bucket store (S3 protocol, "
               f"{'the given endpoint' if endpoint_given else 'moto on loopback'}), "
               "reference = the directory store, same node, same files; medians of interleaved rounds.",
               "moto keeps objects in memory in one Python process: a floor for a real object store."])
    print(f"wrote {written} (render it with python -m benchmarks.report {written})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
