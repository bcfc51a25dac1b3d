"""Creating and dropping throw-away test databases on each supported backend."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from meteorpi_fdb import migrate
from meteorpi_fdb.engine import create_engine_for

ALL_BACKENDS = ("sqlite", "postgresql", "firebird")
PG_ADMIN_URL = os.environ.get("MPI_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def selected() -> list[str]:
    """The backends to test on: MPI_TEST_BACKENDS, or every one this machine can run."""
    chosen = os.environ.get("MPI_TEST_BACKENDS")
    if chosen:
        names = [name.strip() for name in chosen.split(",") if name.strip()]
        unknown = set(names) - set(ALL_BACKENDS)
        if unknown:
            raise ValueError(f"unknown backends in MPI_TEST_BACKENDS: {sorted(unknown)}")
        return names
    names = ["sqlite", "postgresql"]
    if _firebird_available():
        names.append("firebird")
    return names


def _firebird_available() -> bool:
    try:
        from meteorpi_fdb.firebird import is_firebird_available
    except ImportError:
        return False
    return is_firebird_available()


def _unique_name(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


def _pg_admin_execute(statement: str) -> None:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


def create_template(backend: str, directory: Path) -> str:
    """Create and migrate a template database; return its URL."""
    if backend == "sqlite":
        url = f"sqlite:///{directory / 'template.db'}"
    elif backend == "postgresql":
        name = _unique_name("mpi_tpl")
        _pg_admin_execute(f'CREATE DATABASE "{name}"')
        url = str(make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False))
    elif backend == "firebird":
        from tests.firebird_backend import template_url

        url = template_url(directory)
    else:
        raise ValueError(f"unknown backend {backend}")
    engine = create_engine_for(url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    return url


def copy_template(backend: str, template_url: str, target: Path) -> str:
    """A new database with the template's contents; return its URL."""
    if backend == "sqlite":
        shutil.copyfile(make_url(template_url).database, target)
        return f"sqlite:///{target}"
    if backend == "postgresql":
        name = _unique_name("mpi_test")
        template_name = make_url(template_url).database
        _pg_admin_execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
        return str(make_url(template_url).set(database=name).render_as_string(hide_password=False))
    if backend == "firebird":
        from tests.firebird_backend import copy_url

        return copy_url(template_url, target)
    raise ValueError(f"unknown backend {backend}")


def drop_copy(backend: str, url: str) -> None:
    """Drop a database made by copy_template (SQLite files go with the temporary directory)."""
    if backend == "postgresql":
        _pg_admin_execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
    elif backend == "firebird":
        from tests.firebird_backend import drop_url

        drop_url(url)


def drop_template(backend: str, url: str) -> None:
    drop_copy(backend, url)
