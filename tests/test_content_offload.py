"""MPI_CONTENT_OFFLOAD: the app checks and sets headers, the web server sends the bytes.

``x-accel-redirect`` is tested behind a real nginx (Debian's package, installed by
scripts/services), started by the test on a free loopback port with a configuration written
into the test's directory, and stopped afterwards.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest
from flask import request

from benchmarks._nginx import nginx_command, nginx_config
from meteorpi_server.settings import resolve
from tests.conftest import INSTALLATION_ID
from tests.helpers import make_file, make_status, utc
from tests.server_helpers import (Client, cheap_password_hashing, free_port,  # noqa: F401
                                  make_server, stop_process, wait_for)

CONTENT = os.urandom(50_000) + b"tail"
PREFIX = "/_meteorpi_content/"  # the setting's default, as in the documented example


@pytest.fixture
def app_requests() -> list[str]:
    """The paths of the requests that reached the app (filled by ``behind_nginx``)."""
    return []


@pytest.fixture
def behind_nginx(make_server, tmp_path: Path, app_requests: list[str]) -> Iterator[tuple[object, Client]]:
    def record_requests(meteor_app) -> None:
        meteor_app.app.before_request(lambda: app_requests.append(request.full_path.rstrip("?")))

    meteor_server = make_server(settings={"MPI_CONTENT_OFFLOAD": "x-accel-redirect",
                                          "MPI_CONTENT_OFFLOAD_PREFIX": PREFIX},
                                extra_routes=record_requests)
    port = free_port()
    config = nginx_config(tmp_path / "nginx", port, meteor_server.port, meteor_server.db.file_store_path)
    process = subprocess.Popen(nginx_command(tmp_path / "nginx", config),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(f"http://127.0.0.1:{port}/cameras", process=process)
        http = Client(f"http://127.0.0.1:{port}")
        yield meteor_server, http
        http.close()
    finally:
        stop_process(process)


def stored(db, tmp_path: Path, file_name: str | None = "caf\u00e9 photo.png"):
    make_status(db, INSTALLATION_ID, utc(2015, 1, 1))
    return make_file(db, tmp_path / "incoming", utc(2015, 1, 2), content=CONTENT, mime_type="image/png",
                     file_name=file_name)


def test_nginx_sends_the_bytes_with_the_apps_headers(behind_nginx, tmp_path: Path) -> None:
    meteor_server, http = behind_nginx
    record = stored(meteor_server.db, tmp_path)
    response = http.get(f"/files/content/{record.file_id.hex}")
    assert response.status_code == 200
    assert response.content == CONTENT
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["ETag"] == f'"{hashlib.md5(CONTENT).hexdigest()}"'
    assert response.headers["Content-Disposition"] == \
        "inline; filename=\"cafe photo.png\"; filename*=UTF-8''caf%C3%A9%20photo.png"
    assert response.headers["Content-Security-Policy"] == "sandbox"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "X-Accel-Redirect" not in response.headers
    named = http.get(f"/files/content/{record.file_id.hex}/anything.png")
    assert named.content == CONTENT


def test_nginx_asks_the_app_once_per_url_then_serves_alone(behind_nginx, app_requests, tmp_path: Path) -> None:
    meteor_server, http = behind_nginx
    record = stored(meteor_server.db, tmp_path)
    path = f"/files/content/{record.file_id.hex}"
    first, second = http.get(path), http.get(path)
    assert first.content == second.content == CONTENT
    for header in ("Content-Type", "ETag", "Content-Disposition", "Content-Security-Policy",
                   "X-Content-Type-Options", "Content-Length"):
        assert first.headers[header] == second.headers[header], header
    assert app_requests.count(path) == 1
    assert http.get(path, headers={"Range": "bytes=0-3"}).content == CONTENT[:4]
    assert app_requests.count(path) == 1  # ranges too come from nginx alone
    assert http.get(path, headers={"If-None-Match": f'"{record.md5}"'}).status_code == 304
    assert app_requests.count(path) == 2  # conditional requests: the app decides


def test_content_removed_after_nginx_cached_the_answer_is_the_apps_404(behind_nginx, tmp_path: Path) -> None:
    meteor_server, http = behind_nginx
    record = stored(meteor_server.db, tmp_path)
    path = f"/files/content/{record.file_id.hex}"
    assert http.get(path).content == CONTENT
    os.remove(meteor_server.db.file_path_for_id(record.file_id))
    missing = http.get(path)
    assert missing.status_code == 404 and missing.json()["message"] == "No content for this file"


def test_ranges_and_conditional_requests_behind_nginx(behind_nginx, tmp_path: Path) -> None:
    meteor_server, http = behind_nginx
    record = stored(meteor_server.db, tmp_path, file_name=None)
    path = f"/files/content/{record.file_id.hex}"
    part = http.get(path, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == CONTENT[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(CONTENT)}"
    assert "Content-Disposition" not in http.get(path).headers
    etag = f'"{record.md5}"'
    not_modified = http.get(path, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert http.get(path, headers={"If-None-Match": '"other"'}).status_code == 200


def test_missing_content_and_the_internal_location_are_not_served(behind_nginx, tmp_path: Path) -> None:
    meteor_server, http = behind_nginx
    record = stored(meteor_server.db, tmp_path)
    assert http.get(f"{PREFIX}{record.file_id.hex}").status_code == 404  # internal only
    os.remove(meteor_server.db.file_path_for_id(record.file_id))
    missing = http.get(f"/files/content/{record.file_id.hex}")
    assert missing.status_code == 404 and missing.json()["message"] == "No content for this file"
    unknown = http.get(f"/files/content/{'0' * 32}")
    assert unknown.status_code == 404 and unknown.json()["message"] == "No such file"


def test_x_sendfile_names_the_stored_file(make_server, tmp_path: Path) -> None:
    meteor_server = make_server(settings={"MPI_CONTENT_OFFLOAD": "x-sendfile"})
    record = stored(meteor_server.db, tmp_path)
    http = Client(meteor_server.base_url())
    response = http.get(f"/files/content/{record.file_id.hex}")
    assert response.status_code == 200 and response.content == b""
    assert response.headers["X-Sendfile"] == meteor_server.db.file_path_for_id(record.file_id)
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["ETag"] == f'"{record.md5}"'
    http.close()


def test_an_unknown_offload_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="MPI_CONTENT_OFFLOAD"):
        resolve({"MPI_CONTENT_OFFLOAD": "x-magic"})


