"""A real S3-protocol server on loopback for the suite (moto's standalone server, the one s3fs's
own suite uses), and the fixtures that run a test on both file stores: mark it ``both_stores``
(or name ``store_location`` in its signature) and every store it makes through ``make_db``,
``make_server``, ``start_node`` or ``make_store_location`` is a directory in one run and a
bucket prefix in the other.

The server is one process per test process (session scope), started on a free port; its
endpoint and dummy credentials go into ``os.environ`` (``MPI_S3_ENDPOINT_URL``,
``AWS_ACCESS_KEY_ID``, ...), so that server processes the tests start find it too. Each test
gets its own prefix in one bucket.
"""

from __future__ import annotations

import os
import subprocess
import sys
import inspect
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest
import requests

from tests.replication_helpers import free_port, stop_process, wait_for

BUCKET = "meteorpi-test"
STORES = ("directory", "bucket")


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The endpoint URL of a moto S3 server on 127.0.0.1 with the test bucket created."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=output, stderr=output)
    endpoint = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"moto exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            return requests.get(endpoint, timeout=2).status_code < 500
        except requests.RequestException:
            return False

    saved = {name: os.environ.get(name) for name in _ENVIRONMENT}
    try:
        wait_for(up, timeout=30, interval=0.1)
        os.environ.update(_ENVIRONMENT, MPI_S3_ENDPOINT_URL=endpoint)
        from meteorpi_fdb.stores.bucket import BucketStore

        BucketStore.from_location(f"s3://{BUCKET}/").client.create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        stop_process(process)


_ENVIRONMENT = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1", "MPI_S3_ENDPOINT_URL": ""}


def bucket_location(name: str = "") -> str:
    """A fresh prefix in the test bucket."""
    return f"s3://{BUCKET}/{name or 'store'}-{uuid.uuid4().hex[:12]}"


#: The mark that runs a test (or, as ``pytestmark``, a module) on both stores.
BOTH_STORES = "both_stores"
#: The mark that keeps a test of a ``both_stores`` module on the directory store, with the
#: reason as its argument (the test is about the directory itself: fsync, inodes, links).
DIRECTORY_STORE = "directory_store"
#: Fixtures that, named in a test's own signature, run it on both stores too.
_STORE_FIXTURES = {"store_kind", "store_location"}


def parametrise_stores(metafunc: pytest.Metafunc) -> None:
    """The one place that decides which store a test runs on (called from conftest's
    ``pytest_generate_tests``): both stores when the test is marked ``both_stores`` (itself or
    by its module) or names ``store_location`` / ``store_kind`` itself, unless it is marked
    ``directory_store``; otherwise the directory store alone (``store_kind``'s default), so an
    unmarked test costs what it did."""
    if "store_kind" not in metafunc.fixturenames:
        return
    pinned = metafunc.definition.get_closest_marker(DIRECTORY_STORE)
    if pinned is not None:
        if not pinned.args:
            raise ValueError(f"{metafunc.definition.nodeid}: say why it is directory-only: "
                             "@pytest.mark.directory_store('reason')")
        return
    named = set(inspect.signature(metafunc.function).parameters) & _STORE_FIXTURES
    if metafunc.definition.get_closest_marker(BOTH_STORES) or named:
        metafunc.parametrize("store_kind", [pytest.param(kind, id=kind) for kind in STORES], indirect=True)


@pytest.fixture
def store_kind(request: pytest.FixtureRequest) -> str:
    """``directory`` or ``bucket``: as parametrised by :func:`parametrise_stores`, else ``directory``."""
    return getattr(request, "param", "directory")


@pytest.fixture
def make_store_location(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Make a fresh store location of this test's kind, named ``name``: ``tmp_path/name``, or a
    fresh prefix in the moto bucket (the server is started on first use)."""

    def make(name: str) -> str:
        if store_kind == "bucket":
            request.getfixturevalue("s3_endpoint")
            return bucket_location(name)
        return str(tmp_path / name)

    return make


@pytest.fixture
def store_location(make_store_location: Callable[[str], str]) -> str:
    """Where this test's file store is (what ``make_db`` and ``make_server`` use by default): a
    directory, or a fresh prefix in the moto bucket."""
    return make_store_location("files")
