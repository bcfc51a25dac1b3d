"""A real S3-protocol server on loopback for the suite (moto's standalone server, the one s3fs's
own suite uses), and the ``store_location`` fixture that runs a test on both file stores.

The server is one process per test process (session scope), started on a free port; its
endpoint and dummy credentials go into ``os.environ`` (``MPI_S3_ENDPOINT_URL``,
``AWS_ACCESS_KEY_ID``, ...), so that server processes the tests start find it too. Each test
gets its own prefix in one bucket.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

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


@pytest.fixture(params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store_location(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Where this test's file store is: a directory, or a fresh prefix in the moto bucket."""
    if store_kind == "bucket":
        request.getfixturevalue("s3_endpoint")
        return bucket_location()
    return str(tmp_path / "files")
