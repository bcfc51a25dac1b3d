"""Creating and dropping throw-away test databases on each supported backend."""

from __future__ import annotations

import functools
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
    """The backends to test on: MPI_TEST_BACKENDS, or every supported one (those this machine
    cannot run are skipped locally and fail the run in CI: see :func:`must_run`)."""
    chosen = os.environ.get("MPI_TEST_BACKENDS")
    if chosen:
        names = [name.strip() for name in chosen.split(",") if name.strip()]
        unknown = set(names) - set(ALL_BACKENDS)
        if unknown:
            raise ValueError(f"unknown backends in MPI_TEST_BACKENDS: {sorted(unknown)}")
        return names
    return list(ALL_BACKENDS)


def in_ci() -> bool:
    """True when the CI environment variable says so (CI=true, as every CI service sets)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def must_run(backend: str) -> bool:
    """A backend that must not be skipped: in CI every backend, locally those named explicitly
    in MPI_TEST_BACKENDS."""
    return in_ci() or bool(os.environ.get("MPI_TEST_BACKENDS"))


@functools.cache
def unavailable_reason(backend: str) -> str | None:
    """Why this machine cannot run ``backend``'s tests, or None if it can."""
    if backend == "postgresql":
        return _postgresql_problem()
    if backend == "firebird":
        return _firebird_problem()
    return None


def _postgresql_problem() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 5})
    except ImportError as error:
        return f"{error} (pip install 'meteorpi[postgresql]')"
    try:
        with engine.connect():
            return None
    except Exception as error:  # noqa: BLE001 - any failure to connect means "not available"
        return f"cannot connect to {make_url(PG_ADMIN_URL).render_as_string()}: {str(error).splitlines()[0]}"
    finally:
        engine.dispose()


def _firebird_problem() -> str | None:
    try:
        import firebird.driver  # noqa: F401
        import sqlalchemy_firebird  # noqa: F401

        from meteorpi_fdb.firebird import firebird_embedded_available, firebird_server_available
        from tests.firebird_backend import PASSWORD, PORT
    except ImportError as error:
        return f"{error} (pip install 'meteorpi[firebird]')"
    mode = os.environ.get("MPI_FIREBIRD_MODE", "auto")
    if mode != "embedded" and firebird_server_available(port=PORT, password=PASSWORD):
        return None
    if mode != "server" and firebird_embedded_available():
        return None
    where = {"server": "no server", "embedded": "the embedded engine does not work"}.get(
        mode, "no server, and the embedded engine does not work")
    return f"{where} (MPI_FIREBIRD_MODE={mode}; server probed on 127.0.0.1:{PORT}; see docs/firebird.md)"


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
