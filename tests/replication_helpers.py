"""Helpers for the replication tests: real nodes (MeteorServer on a free port, each with its own
database), deterministic data, export configurations and source/target comparisons.

The fixtures defined here are imported by the ``test_replication*.py`` modules.
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

import pytest
import requests

import meteorpi_model as model
from meteorpi_fdb import MeteorDatabase
from meteorpi_fdb.exporter import MeteorExporter
from meteorpi_server import MeteorServer
from tests import backends

IMPORT_USER = "importer"
IMPORT_PASSWORD = "import-secret-1"
SOURCE_ID = "a0a0a0a0a0a0"
TARGET_ID = "b0b0b0b0b0b0"
START = datetime(2020, 3, 1, 20, 0, tzinfo=timezone.utc)
REPO_ROOT = Path(__file__).resolve().parent.parent


# --- nodes -------------------------------------------------------------------------------


@dataclass
class Node:
    """One MeteorPi node: a MeteorServer (on its own database and file store) serving HTTP."""

    db_url: str
    file_store: str
    installation_id: str
    settings: dict = field(default_factory=dict)
    port: int = 0
    server: MeteorServer | None = None
    _stop: Callable[[], None] | None = None

    def start(self) -> "Node":
        """Serve (again) on ``port``; 0 picks a free port the first time, then keeps it."""
        self.server = MeteorServer(self.db_url, self.file_store, self.port,
                                   installation_id=self.installation_id, settings=self.settings)
        self._stop = self.server.start_non_blocking()
        self.port = self.server.port
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None
            self.server.db.close()

    def restart(self) -> None:
        """Stop and start a new server process-state (fresh app, fresh caches) on the same port."""
        self.stop()
        self.start()

    @property
    def db(self) -> MeteorDatabase:
        return self.server.db

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def import_url(self) -> str:
        return f"{self.base_url}/import"


@pytest.fixture
def target_db_url(backend: str, backend_template: str, tmp_path: Path) -> Iterator[str]:
    """A second empty database on the same backend as ``db_url`` (the target node's)."""
    url = backends.copy_template(backend, backend_template, tmp_path / "target.db")
    yield url
    backends.drop_copy(backend, url)


@pytest.fixture
def start_node(make_store_location: Callable[[str], str]) -> Iterator[Callable[..., Node]]:
    """Start nodes on given database URLs, each on its own file store of this test's kind
    unless given; every node is stopped at the end of the test."""
    nodes: list[Node] = []

    def start(db_url: str, installation_id: str, settings: dict | None = None,
              file_store: str | None = None) -> Node:
        store = file_store or make_store_location(f"files-{installation_id}-{len(nodes)}")
        node = Node(db_url, store, installation_id, dict(settings or {})).start()
        nodes.append(node)
        return node

    yield start
    for node in nodes:
        node.stop()


@pytest.fixture
def source(db_url: str, start_node) -> Node:
    """The exporting node, on the parametrised backend."""
    return start_node(db_url, SOURCE_ID)


@pytest.fixture
def target(target_db_url: str, start_node) -> Node:
    """The importing node (same backend as the source) with an ``import`` user."""
    node = start_node(target_db_url, TARGET_ID)
    add_import_user(node.db)
    return node


def add_import_user(db: MeteorDatabase, user_id: str = IMPORT_USER,
                    password: str = IMPORT_PASSWORD, roles: list[str] | None = None,
                    cameras: tuple[str, ...] = (SOURCE_ID,)) -> None:
    """An import user on the target, bound to ``cameras`` (by default the source's camera)."""
    db.create_or_update_user(user_id, password, roles or ["import"])
    for camera_id in cameras:
        db.grant_camera(user_id, camera_id)


# --- data --------------------------------------------------------------------------------


@dataclass
class Dataset:
    """What :func:`populate` registered on a node."""

    statuses: list[model.CameraStatus] = field(default_factory=list)
    events: list[model.Event] = field(default_factory=list)
    loose_files: list[model.FileRecord] = field(default_factory=list)
    last_time: datetime = START


def _status(camera_id: str, name: str, latitude: float) -> model.CameraStatus:
    return model.CameraStatus(
        lens="Fujinon 2.8mm", sensor="Watec 902H2", inst_url="https://example.org/obs",
        inst_name=name, camera_id=camera_id,
        orientation=model.Orientation(altitude=62.5, azimuth=181.0, error=0.5, rotation=1.5,
                                      width_of_field=88.0),
        location=model.Location(latitude=latitude, longitude=-1.25, gps=True, error=4.0),
        regions=[[{"x": 0, "y": 0}, {"x": 719, "y": 0}, {"x": 719, "y": 575}, {"x": 0, "y": 575}]],
    )


def _register_file(db: MeteorDatabase, directory: Path, rng: random.Random, when: datetime,
                   size: int, index: int, semantic_type: str) -> model.FileRecord:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"incoming-{uuid.UUID(int=rng.getrandbits(128)).hex}.bin"
    path.write_bytes(rng.randbytes(size))
    metas = [model.Meta(model.NSString("exposure"), rng.choice([0.04, 0.1, 2.5])),
             model.Meta(model.NSString("camera", "sky"), f"frame {index}"),
             model.Meta(model.NSString("taken"), when + timedelta(milliseconds=index))]
    return db.register_file(str(path), "image/png", model.NSString(semantic_type), when, metas,
                            file_name=f"frame-{index}.png")


def populate(db: MeteorDatabase, directory: Path, *, events: int = 4, files_per_event: int = 3,
             loose_files: int = 3, file_size: int = 4096, seed: int = 42,
             after: Dataset | None = None, new_status: bool = True) -> Dataset:
    """Register deterministic data on ``db``: a camera status block (unless ``new_status`` is
    False), then ``events`` events with ``files_per_event`` files each and ``loose_files`` files
    belonging to no event, each a minute apart, after ``after``'s data when given."""
    rng = random.Random(seed)
    data = Dataset(last_time=after.last_time if after else START)
    when = data.last_time + timedelta(minutes=1)
    if new_status:
        latitude = 51.5 + rng.random()
        data.statuses.append(db.update_camera_status(_status(db.installation_id, f"obs {seed}", latitude),
                                                     time=when))
    for number in range(events):
        when += timedelta(minutes=1)
        files = [_register_file(db, directory, rng, when + timedelta(seconds=n), file_size, n,
                                "meteor_image") for n in range(files_per_event)]
        metas = [model.Meta(model.NSString("duration"), round(rng.uniform(0.2, 3.0), 3)),
                 model.Meta(model.NSString("class"), rng.choice(["meteor", "plane", "satellite"])),
                 model.Meta(model.NSString("peak"), when + timedelta(milliseconds=250))]
        data.events.append(db.register_event(db.installation_id, when, model.NSString("meteor"),
                                             files, metas))
    for number in range(loose_files):
        when += timedelta(minutes=1)
        data.loose_files.append(_register_file(db, directory, rng, when, file_size, number, "sky_image"))
    data.last_time = when
    return data


# --- export ------------------------------------------------------------------------------


def configure_export(db: MeteorDatabase, target_url: str, search: Any, *, name: str = "to target",
                     user_id: str = IMPORT_USER, password: str = IMPORT_PASSWORD,
                     enabled: bool = True, ca_bundle: str | None = None) -> model.ExportConfiguration:
    """Store and return an export configuration on the source."""
    config = model.ExportConfiguration(target_url, user_id, password, search, name,
                                       "replication test", enabled=enabled, ca_bundle=ca_bundle)
    return db.create_or_update_export_configuration(config)


def exporter_for(db: MeteorDatabase, **kwargs: Any) -> MeteorExporter:
    """A MeteorExporter with short timeouts (its scheduler is not started), speaking the 2015
    protocol unless ``protocol`` says otherwise (so the 2015 tests pin 2015 exactly)."""
    kwargs.setdefault("timeout", (5.0, 30.0))
    kwargs.setdefault("protocol", "2015")
    return MeteorExporter(db, **kwargs)


@pytest.fixture(params=["2015", "v2"])
def protocol(request) -> str:
    """Each replication scenario over both protocols."""
    return request.param


def all_events(db: MeteorDatabase, **search: Any) -> list[model.Event]:
    return db.search_events(model.EventSearch(limit=0, **search))["events"]


def all_files(db: MeteorDatabase, **search: Any) -> list[model.FileRecord]:
    return db.search_files(model.FileRecordSearch(limit=0, **search))["files"]


def _status_dict(db: MeteorDatabase, status_id: uuid.UUID) -> dict:
    status = db.get_camera_status_by_id(status_id)
    assert status is not None, f"status {status_id.hex} missing on {db!r}"
    d = status.as_dict()
    d.pop("valid_to", None)  # derived from the node's other blocks
    return d


def assert_same_content(source_db: MeteorDatabase, target_db: MeteorDatabase,
                        records: list[model.FileRecord]) -> None:
    """Every record's stored content is byte-identical on both nodes (read through each node's
    store, whichever kind it is)."""
    for record in records:
        with source_db.file_store.open(record.file_id) as a, target_db.file_store.open(record.file_id) as b:
            assert a.read() == b.read(), f"content of {record.file_id.hex} differs"


def assert_events_replicated(source_db: MeteorDatabase, target_db: MeteorDatabase,
                             expected_count: int | None = None) -> list[model.Event]:
    """Source and target answer the same event search identically (events, their files, meta,
    status blocks) and every file's content is byte-identical."""
    events = all_events(source_db)
    if expected_count is not None:
        assert len(events) == expected_count
    replicated = all_events(target_db)
    assert [e.as_dict() for e in replicated] == [e.as_dict() for e in events]
    records = [record for event in events for record in event.file_records]
    assert_same_content(source_db, target_db, records)
    for status_id in {e.status_id for e in events} | {r.status_id for r in records}:
        assert _status_dict(target_db, status_id) == _status_dict(source_db, status_id)
    return events


def assert_files_replicated(source_db: MeteorDatabase, target_db: MeteorDatabase,
                            expected_count: int | None = None, **search: Any) -> list[model.FileRecord]:
    """Source and target answer the same file search identically, with identical content."""
    files = all_files(source_db, **search)
    if expected_count is not None:
        assert len(files) == expected_count
    assert [f.as_dict() for f in all_files(target_db, **search)] == [f.as_dict() for f in files]
    assert_same_content(source_db, target_db, files)
    for status_id in {f.status_id for f in files}:
        assert _status_dict(target_db, status_id) == _status_dict(source_db, status_id)
    return files


def drain_together(exporters: list[MeteorExporter],
                   next_states: Callable[[MeteorExporter], list | None]) -> list[list[tuple]]:
    """Drain with every exporter at once, one thread each, started together: each calls
    ``next_states(exporter)`` until it returns None. Per exporter, the (config id, entity id,
    state) of every task it handled."""
    handled: list[list[tuple]] = [[] for _ in exporters]
    barrier = threading.Barrier(len(exporters))

    def drain(index: int) -> None:
        barrier.wait()
        while (states := next_states(exporters[index])) is not None:
            handled[index] += [(s.config_id, s.entity_id, s.state) for s in states]

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(len(exporters))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return handled


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
    """Poll ``condition`` until it returns something true; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def record_answers(exporter: MeteorExporter, url: str) -> list[str]:
    """Record the ``state`` of every answer the exporter gets from ``url``'s host (this thread)."""
    states: list[str] = []

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        try:
            states.append(response.json().get("state", f"HTTP {response.status_code}"))
        except ValueError:
            states.append(f"HTTP {response.status_code}")

    exporter._session(url).hooks["response"].append(hook)
    return states


class RoundRobin(requests.adapters.HTTPAdapter):
    """Sends each request to the next of ``ports`` in turn, like a load balancer in front of
    several server processes."""

    def __init__(self, ports: list[int]) -> None:
        super().__init__()
        self._ports = itertools.cycle(ports)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        parts = urlsplit(request.url)
        request.url = parts._replace(netloc=f"{parts.hostname}:{next(self._ports)}").geturl()
        return super().send(request, **kwargs)


def config_status(db: MeteorDatabase, config_id: uuid.UUID) -> dict:
    """The ``export_status()`` entry of one configuration."""
    return next(entry for entry in db.export_status() if entry["config_id"] == config_id)


# --- gunicorn ----------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(db_url: str, file_store: str, *, workers: int = 2, max_requests: int = 0,
                   log_path: Path | None = None) -> tuple[subprocess.Popen, str]:
    """A gunicorn target (``meteorpi_server.wsgi:create_app()``) with ``workers`` processes.

    Returns the process and its base URL once every worker has loaded the app
    (``tests/gunicorn_ready.py``) and ``/health`` answers; a fresh worker needs 2-3 s on
    Firebird. If it never gets there, the process is stopped before the error is raised.
    """
    port = free_port()
    ready_dir = Path(tempfile.mkdtemp(prefix="meteorpi-gunicorn-ready-"))
    env = dict(os.environ, MPI_DB=db_url, MPI_FILE_STORE=file_store, MPI_INSTALLATION_ID=TARGET_ID,
               MPI_AUTH_CACHE_SECONDS="60", MPI_TEST_READY_DIR=str(ready_dir))
    command = [sys.executable, "-m", "gunicorn", "--config", str(Path(__file__).with_name("gunicorn_ready.py")),
               "--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "2",
               "--timeout", "60", "--no-control-socket"]
    if max_requests:
        command += ["--max-requests", str(max_requests), "--max-requests-jitter", "0"]
    command.append("meteorpi_server.wsgi:create_app()")
    if log_path is None:
        process = subprocess.Popen(command, env=env, cwd=str(REPO_ROOT),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        with open(log_path, "wb") as log:
            process = subprocess.Popen(command, env=env, cwd=str(REPO_ROOT), stdout=log, stderr=log)
    base_url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited with {process.returncode} (log: {log_path})")
        if len([pid for pid in os.listdir(ready_dir) if _alive(int(pid))]) < workers:
            return False
        try:
            return requests.get(f"{base_url}/health", timeout=10).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_for(ready, timeout=60, interval=0.1)
    except BaseException:
        stop_process(process)
        raise
    finally:
        shutil.rmtree(ready_dir, ignore_errors=True)
    return process, base_url


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
