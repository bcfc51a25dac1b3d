"""Throw-away Firebird test databases: on the local server when one answers, else embedded.

Server-mode files live in a directory the server (user ``firebird``) can write, which pytest's
``tmp_path`` is not: ``MPI_FIREBIRD_TEST_DIR`` (default
``/var/lib/firebird/3.0/data/meteorpi-tests``, made by ``.ci/firebird-setup.sh``). Databases are
created with forced writes off (schema creation: 0.1-0.3 s instead of 3-5 s); copies keep that.

``MPI_FIREBIRD_MODE`` chooses: ``server``, ``embedded``, or ``auto`` (the default): the server
wherever ``.ci/firebird-setup.sh`` has prepared that directory, else embedded. The choice is
made once per test process and never falls back silently: an embedded file can be opened by
one process only, so every test that shares a database with a subprocess (gunicorn workers, a
killed exporter, ``meteorpi serve``) would fail with "Database already opened with engine
instance, incompatible with current" if a server that is merely down turned the run embedded.
"""

from __future__ import annotations

import functools
import os
import shutil
import time
import uuid
from pathlib import Path

from sqlalchemy.engine import make_url

from meteorpi_fdb.firebird import (
    drop_firebird_database,
    ensure_firebird_database,
    firebird_server_available,
    firebird_url,
)

SERVER_DIR = Path(os.environ.get("MPI_FIREBIRD_TEST_DIR", "/var/lib/firebird/3.0/data/meteorpi-tests"))
USER, PASSWORD = "SYSDBA", os.environ.get("FIREBIRD_SYSDBA_PASSWORD", "masterkey")
PORT = int(os.environ.get("MPI_TEST_FIREBIRD_PORT", "3050"))
#: How long to wait for a server that does not answer yet (fbguard restarts a crashed one).
SERVER_WAIT_SECONDS = 15


@functools.cache
def _use_server() -> bool:
    """True for server-mode test databases; decided once per process (see the module doc)."""
    mode = os.environ.get("MPI_FIREBIRD_MODE", "auto")
    if mode not in ("auto", "server", "embedded"):
        raise ValueError(f"MPI_FIREBIRD_MODE must be auto, server or embedded, not {mode!r}")
    if mode == "embedded" or (mode == "auto" and not SERVER_DIR.is_dir()):
        return False
    deadline = time.monotonic() + SERVER_WAIT_SECONDS
    while not firebird_server_available(port=PORT, password=PASSWORD):
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"no Firebird server accepts SYSDBA on 127.0.0.1:{PORT}, but {SERVER_DIR} says this "
                "machine should have one: start it (scripts/services, or .ci/firebird-setup.sh as "
                "root), or set MPI_FIREBIRD_MODE=embedded, where tests that open one database from "
                "several processes cannot pass"
            )
        time.sleep(0.5)
    if not SERVER_DIR.is_dir():
        raise RuntimeError(f"MPI_FIREBIRD_MODE=server needs the directory {SERVER_DIR} (.ci/firebird-setup.sh)")
    return True


def _new_url(path: Path) -> str:
    location = f"127.0.0.1/{PORT}:{path}" if _use_server() else str(path)
    url = firebird_url(location, USER, PASSWORD)
    ensure_firebird_database(url, forced_writes=False)
    return url.render_as_string(hide_password=False)


def _server_path(prefix: str) -> Path:
    return SERVER_DIR / f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}.fdb"


def template_url(directory: Path) -> str:
    """An empty database (created, not migrated) for the template."""
    return _new_url(_server_path("tpl") if _use_server() else Path(directory) / "template.fdb")


def copy_url(template: str, target: Path) -> str:
    """A file copy of the template (whose engines are all disposed, so the file is quiescent)."""
    source = Path(make_url(template).database)
    destination = _server_path("test") if make_url(template).host else Path(target).with_suffix(".fdb")
    shutil.copyfile(source, destination)
    os.chmod(destination, 0o660)  # the server (group firebird, setgid directory) must write it
    url = make_url(template).set(database=str(destination))
    return url.render_as_string(hide_password=False)


def drop_url(url: str) -> None:
    drop_firebird_database(make_url(url), force=True)  # like PostgreSQL's DROP DATABASE ... WITH (FORCE)
