"""Fixtures and helpers for tests of the HTTP server: real servers on loopback, real databases.

Import the fixtures into a test module (``from tests.server_helpers import server, ...``).
``server`` is a started :class:`MeteorServer` on an ephemeral port over this test's database
(``db_url``, so it runs on every backend); write test data through ``server.db``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator
from urllib.parse import quote_plus

import pytest
import requests
from werkzeug.serving import make_server as make_wsgi_server

from meteorpi_server import MeteorApp, MeteorServer
from tests.conftest import INSTALLATION_ID

ADMIN = ("admin", "admin-password")
USER = ("viewer", "viewer-password")
IMPORTER = ("importer", "importer-password")


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Minimal argon2 cost for tests (the users module reads this variable on every hash)."""
    monkeypatch.setenv("MPI_ARGON2_PROFILE", "test")


class Client:
    """``requests`` bound to one server's base URL."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()

    def url(self, path: str) -> str:
        return self.base_url + path

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, self.url(path), **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def close(self) -> None:
        self.session.close()


@pytest.fixture
def make_server(db_url: str, store_location: str) -> Iterator[Callable[..., MeteorServer]]:
    """Start MeteorServers on this test's database and file store (``store_location``); each is
    stopped (port freed) afterwards."""
    started: list[tuple[MeteorServer, Callable[[], None]]] = []

    def make(settings: dict[str, Any] | None = None, add_routes: bool = True,
             extra_routes: Callable[[MeteorApp], None] | None = None,
             **kwargs: Any) -> MeteorServer:
        meteor_server = MeteorServer(db_url, store_location, 0, add_routes=add_routes,
                                     installation_id=INSTALLATION_ID, settings=settings, **kwargs)
        if extra_routes is not None:
            extra_routes(meteor_server.meteor_app)
        started.append((meteor_server, meteor_server.start_non_blocking()))
        return meteor_server

    yield make
    for meteor_server, stop in started:
        stop()
        meteor_server.db.close()


@pytest.fixture
def server(make_server: Callable[..., MeteorServer]) -> MeteorServer:
    """A started MeteorServer with every route set, on a fresh database."""
    return make_server()


@pytest.fixture
def client(server: MeteorServer) -> Iterator[Client]:
    """A Client for ``server``."""
    http = Client(server.base_url())
    yield http
    http.close()


@pytest.fixture
def admin(server: MeteorServer, client: Client) -> Client:
    """``client`` logged in as ADMIN, with the three standard users added."""
    add_users(server.db)
    client.session.auth = ADMIN
    return client


def add_users(db: Any) -> None:
    """The three standard users: ADMIN (user + camera_admin), USER (user), IMPORTER (import)."""
    db.create_or_update_user(*ADMIN, ["user", "camera_admin"])
    db.create_or_update_user(*USER, ["user"])
    db.create_or_update_user(*IMPORTER, ["import"])


def encode_search(search: Any, times: int = 2) -> str:
    """A search (model object or dict) as the path segment the 2015 client sends."""
    text = json.dumps(search if isinstance(search, dict) else search.as_dict(),
                      separators=(",", ":"))
    for _ in range(times):
        text = quote_plus(text)
    return text


@contextmanager
def serving(app) -> Iterator[Client]:
    """Serve a WSGI app on a loopback port from a thread (Werkzeug's threaded server)."""
    server = make_wsgi_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    http = Client(f"http://127.0.0.1:{server.server_port}")
    try:
        yield http
    finally:
        http.close()
        server.shutdown()
        server.server_close()
        app.extensions["meteorpi"].db.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 30, process: subprocess.Popen | None = None) -> None:
    """Poll ``url`` until it answers 200 (or fail, showing the process's output)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}: "
                                 f"{process.stdout.read() if process.stdout else ''}")
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def start_gunicorn(env: dict[str, str], port: int, workers: int = 2,
                   target: str = "meteorpi_server.wsgi:create_app()") -> subprocess.Popen:
    """gunicorn serving ``target`` on 127.0.0.1:``port`` (caller terminates it)."""
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads", "4",
               "--bind", f"127.0.0.1:{port}", "--log-level", "warning", target]
    return subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def stop_process(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()


def assert_schema(instance: Any, component: str) -> None:
    """Check ``instance`` against a schema of the served OpenAPI document's components."""
    import jsonschema_rs  # installed with schemathesis

    from meteorpi_server.openapi import DOCUMENT

    schema = {"$ref": f"#/components/schemas/{component}", "components": DOCUMENT["components"]}
    jsonschema_rs.Draft7Validator(schema).validate(instance)
