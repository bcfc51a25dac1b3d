"""Throw-away Firebird test databases: on the local server when one answers, else embedded.

Server-mode files live in a directory the server (user ``firebird``) can write, which pytest's
``tmp_path`` is not: ``MPI_FIREBIRD_TEST_DIR`` (default
``/var/lib/firebird/3.0/data/meteorpi-tests``, made by ``.ci/firebird-setup.sh``). Databases are
created with forced writes off (schema creation: 0.1-0.3 s instead of 3-5 s); copies keep that.
"""

from __future__ import annotations

import os
import shutil
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


def _use_server() -> bool:
    mode = os.environ.get("MPI_FIREBIRD_MODE", "auto")  # auto | server | embedded
    if mode == "auto":
        return firebird_server_available(password=PASSWORD) and SERVER_DIR.is_dir()
    return mode == "server"


def _new_url(path: Path) -> str:
    location = f"127.0.0.1:{path}" if _use_server() else str(path)
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
