"""MeteorServer: ephemeral ports, stopping frees the port, blocking start, concurrent requests."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from meteorpi_server import MeteorApp, MeteorServer, query_api, service_api
from tests.conftest import INSTALLATION_ID
from tests.helpers import make_file, make_status, utc
from tests.server_helpers import (Client, cheap_password_hashing, encode_search, free_port,  # noqa: F401
                                  make_server, wait_for)


def _refused(url: str) -> bool:
    try:
        requests.get(url, timeout=2)
    except requests.ConnectionError:
        return True
    return False


def test_port_zero_picks_a_free_port_and_stop_frees_it(db_url: str, tmp_path: Path) -> None:
    meteor_server = MeteorServer(db_url, str(tmp_path / "files"), 0, installation_id=INSTALLATION_ID)
    try:
        assert meteor_server.port == 0  # constructing does not bind (2015: "does not start the server")
        stop = meteor_server.start_non_blocking()
        assert meteor_server.port > 0
        assert meteor_server.base_url() == f"http://127.0.0.1:{meteor_server.port}/"
        assert requests.get(meteor_server.base_url() + "cameras", timeout=5).json() == {"cameras": []}
        stop()
        stop()  # idempotent
        assert _refused(meteor_server.base_url() + "cameras")
        with socket.socket() as s:  # the port is really free again
            s.bind(("127.0.0.1", meteor_server.port))
        # ...and the same server can serve again on it.
        stop = meteor_server.start_non_blocking()
        assert requests.get(meteor_server.base_url() + "health", timeout=5).json()["status"] == "ok"
        stop()
    finally:
        meteor_server.db.close()


def test_constructing_does_not_bind_the_port(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    first = MeteorServer(db_url, str(tmp_path / "one"), port, installation_id=INSTALLATION_ID)
    second = MeteorServer(db_url, str(tmp_path / "two"), port, installation_id=INSTALLATION_ID)
    try:
        with socket.socket() as s:  # nobody holds the port yet
            s.bind(("127.0.0.1", port))
        stop = second.start_non_blocking()
        try:
            assert requests.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
        finally:
            stop()
    finally:
        first.db.close()
        second.db.close()


def test_bind_reserves_the_port_before_serving(db_url: str, tmp_path: Path) -> None:
    meteor_server = MeteorServer(db_url, str(tmp_path / "files"), 0, installation_id=INSTALLATION_ID)
    try:
        meteor_server.bind()
        port = meteor_server.port
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
            with pytest.raises(OSError):
                s.bind(("127.0.0.1", port))
        stop = meteor_server.start_non_blocking()
        assert meteor_server.port == port
        assert requests.get(meteor_server.base_url() + "health", timeout=5).status_code == 200
        stop()
    finally:
        meteor_server.db.close()


def test_explicit_port(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    meteor_server = MeteorServer(db_url, str(tmp_path / "files"), port, installation_id=INSTALLATION_ID)
    stop = meteor_server.start_non_blocking()
    try:
        assert meteor_server.port == port
        assert requests.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
    finally:
        stop()
        meteor_server.db.close()


def test_routes_can_be_mounted_under_a_prefix(db_url: str, tmp_path: Path) -> None:
    meteor_server = MeteorServer(db_url, str(tmp_path / "files"), 0, add_routes=False,
                                 installation_id=INSTALLATION_ID)
    app: MeteorApp = meteor_server.meteor_app
    query_api.add_routes(app, url_path="/api")
    service_api.add_routes(app, url_path="/api")
    stop = meteor_server.start_non_blocking()
    try:
        http = Client(meteor_server.base_url())
        assert http.get("/api/cameras").json() == {"cameras": []}
        assert http.get("/cameras").status_code == 404
        document = http.get("/api/openapi.json").json()
        assert document["servers"] == [{"url": "/api"}]
        assert "/cameras" in document["paths"] and "/users" not in document["paths"]
    finally:
        stop()
        meteor_server.db.close()


def test_blocking_start_serves_until_interrupted(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    code = ("import sys; from meteorpi_server import MeteorServer; "
            "MeteorServer(sys.argv[1], sys.argv[2], int(sys.argv[3])).start()")
    process = subprocess.Popen([sys.executable, "-c", code, db_url, str(tmp_path / "files"), str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(f"http://127.0.0.1:{port}/health", process=process)
        assert requests.get(f"http://127.0.0.1:{port}/cameras", timeout=5).json() == {"cameras": []}
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
        assert _refused(f"http://127.0.0.1:{port}/health")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()


def test_a_slow_download_does_not_stall_searches(make_server, tmp_path: Path) -> None:
    # One worker thread: the download must not hold it while the client is slow to read.
    meteor_server = make_server(threads=1)
    db = meteor_server.db
    make_status(db, INSTALLATION_ID, utc(2015, 1, 1))
    content = os.urandom(32 * 1024 * 1024)
    record = make_file(db, tmp_path / "in", utc(2015, 1, 2), content=content)
    http = Client(meteor_server.base_url())
    download = requests.get(http.url(f"/files/content/{record.file_id.hex}"), stream=True, timeout=30)
    try:
        chunks = download.iter_content(64 * 1024)
        received = [next(chunks)]  # the transfer has started, and we stop reading for a while
        started = time.monotonic()
        for _ in range(5):
            response = http.get("/files/" + encode_search({"limit": 10}), timeout=5)
            assert response.json()["count"] == 1
        assert time.monotonic() - started < 5
        received.extend(chunks)
    finally:
        download.close()
    assert hashlib.md5(b"".join(received)).hexdigest() == record.md5


def test_requests_are_served_concurrently(make_server) -> None:
    meteor_server = make_server()
    make_status(meteor_server.db, INSTALLATION_ID, utc(2015, 1, 1))
    http = Client(meteor_server.base_url())

    def search(_: int) -> int:
        return requests.get(http.url("/events/" + encode_search({})), timeout=30).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(search, range(40))) == {200}
