"""Shared fixtures: a fresh database per test, on every supported backend.

Backends come from ``MPI_TEST_BACKENDS`` (default: every backend this machine can run: SQLite,
PostgreSQL on 127.0.0.1:5432 as user ``postgres``, and Firebird when a server or the embedded
engine is available). Each backend gets one migrated template per test process; a test's
database is a cheap copy of it (a file copy for SQLite, ``CREATE DATABASE … TEMPLATE`` for
PostgreSQL), dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest

# Cheap argon2 parameters for the suite; production never sets this.
os.environ.setdefault("MPI_ARGON2_PROFILE", "test")

from meteorpi_fdb import MeteorDatabase  # noqa: E402
from tests import backends  # noqa: E402
from tests.object_store_helpers import (make_store_location, parametrise_stores, s3_endpoint,  # noqa: E402,F401
                                        store_kind, store_location)

INSTALLATION_ID = "aabbccddeeff"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses a database runs on every selected backend, or on those of them its
    module names in ``BACKENDS`` (for checks that only mean something on some backends); tests
    that touch stored content also run on each file store (``parametrise_stores``)."""
    if "backend" in metafunc.fixturenames:
        only = getattr(metafunc.module, "BACKENDS", None)
        names = [name for name in backends.selected() if only is None or name in only]
        metafunc.parametrize("backend", [_backend_param(name) for name in names], scope="session")
    parametrise_stores(metafunc)


def _backend_param(name: str):
    """A backend this machine cannot run is skipped with the reason, unless it must run (in CI,
    or named in MPI_TEST_BACKENDS): then its tests fail (see ``backend_template``)."""
    reason = backends.unavailable_reason(name)
    if reason is None or backends.must_run(name):
        return pytest.param(name, id=name)
    return pytest.param(name, id=name, marks=pytest.mark.skip(reason=f"{name} backend not available: {reason}"))


@pytest.fixture(scope="session")
def backend_template(backend: str, tmp_path_factory: pytest.TempPathFactory):
    """A migrated, empty database for ``backend`` that tests copy from."""
    reason = backends.unavailable_reason(backend)
    if reason is not None:
        why = "CI=true: every backend must run" if backends.in_ci() else "named in MPI_TEST_BACKENDS"
        pytest.fail(f"{backend} backend not available ({why}): {reason}", pytrace=False)
    template = backends.create_template(backend, tmp_path_factory.mktemp(f"template-{backend}"))
    yield template
    backends.drop_template(backend, template)


@pytest.fixture
def node_store(store_kind: str, make_store_location, data_dir: Path) -> str:
    """The file store of a CLI test's node (its module's ``data_dir``, see tests/test_cli.py):
    the CLI's default DATA_DIR/files, or a bucket prefix when the test runs on the bucket store."""
    return make_store_location("node") if store_kind == "bucket" else str(data_dir / "files")


@pytest.fixture
def db_url(backend: str, backend_template: str, tmp_path: Path):
    """The URL of a new, empty, migrated database for this test alone."""
    url = backends.copy_template(backend, backend_template, tmp_path / "meteorpi.db")
    yield url
    backends.drop_copy(backend, url)


@pytest.fixture
def make_db(db_url: str, store_location: str):
    """Open (and later close) MeteorDatabase instances on this test's database; the file store
    is ``store_location`` (a directory, or a bucket for tests marked ``both_stores``) unless given."""
    opened: list[MeteorDatabase] = []

    def make(file_store: str | os.PathLike | None = None, installation_id: str = INSTALLATION_ID) -> MeteorDatabase:
        store = file_store or store_location
        database = MeteorDatabase(db_url, str(store), installation_id=installation_id)
        opened.append(database)
        return database

    yield make
    for database in opened:
        database.close()


@pytest.fixture
def db(make_db) -> MeteorDatabase:
    """A fresh MeteorDatabase (its own database and file store) for one test."""
    return make_db()


@pytest.fixture
def make_content(tmp_path: Path):
    """Write a small file with the given bytes (random if omitted) and return its path."""
    directory = tmp_path / "incoming"
    directory.mkdir(exist_ok=True)

    def make(content: bytes | None = None, name: str | None = None) -> str:
        path = directory / (name or f"{uuid.uuid4().hex}.bin")
        path.write_bytes(content if content is not None else os.urandom(256))
        return str(path)

    return make


@pytest.fixture
def scratch_copy(tmp_path: Path):
    """Copy a file into the test's temporary directory (for tests that must not move originals)."""

    def copy(path: str) -> str:
        target = tmp_path / f"copy-{uuid.uuid4().hex}"
        shutil.copyfile(path, target)
        return str(target)

    return copy
