"""Turn a ``db_path`` into a configured SQLAlchemy engine for SQLite, PostgreSQL or Firebird.

``db_path`` is either a SQLAlchemy URL or, as in 2015, a location string:

- ``sqlite:///path``, ``postgresql+psycopg://…``, ``firebird+firebird://…``: used as given
  (a bare ``postgresql://`` gets the psycopg 3 driver);
- ``host:/path/db.fdb`` or ``host/port:/path/db.fdb``: a Firebird server (the seed's form),
  with ``db_user`` / ``db_password``;
- a path ending in ``.fdb``: an embedded Firebird database;
- any other plain path: a SQLite database file (the embedded default).
"""

from __future__ import annotations

import os
import re

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

from meteorpi_fdb.extras import require
from meteorpi_fdb.permissions import create_private_file

SQLITE_BUSY_TIMEOUT_MS = 30_000
_FIREBIRD_SERVER_LOCATION = re.compile(r"^[\w.\-]+(/\d+)?:.+")


def database_url(db_path: str, db_user: str = "meteorpi", db_password: str = "meteorpi") -> URL:
    """Parse ``db_path`` into a SQLAlchemy URL (see the module docstring for the forms)."""
    if not isinstance(db_path, (str, os.PathLike)) or not str(db_path):
        raise ValueError("db_path must be a non-empty database URL or file path")
    location = os.fspath(db_path)
    if "://" in location:
        url = make_url(location)
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        return url
    if location.lower().endswith(".fdb") or _FIREBIRD_SERVER_LOCATION.match(location):
        from meteorpi_fdb.firebird import firebird_url

        return firebird_url(location, db_user, db_password)
    return URL.create("sqlite", database=os.path.abspath(location))


def create_engine_for(db_path: str, db_user: str = "meteorpi", db_password: str = "meteorpi") -> Engine:
    """Create an engine for ``db_path``, configured for safe concurrent use on its backend."""
    url = database_url(db_path, db_user, db_password)
    backend = url.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url)
    if backend == "postgresql":
        require("psycopg", "PostgreSQL", "postgresql")
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    if backend == "firebird":
        from meteorpi_fdb.firebird import ensure_firebird_database, engine_kwargs_for_firebird

        ensure_firebird_database(url)
        return create_engine(url, **engine_kwargs_for_firebird(url))
    raise ValueError(f"unsupported database backend {backend!r} in db_path")


def _sqlite_engine(url: URL) -> Engine:
    """SQLite in WAL mode with foreign keys on.

    pysqlite's own transaction handling is switched off so that we emit ``BEGIN`` ourselves:
    write transactions (``db.transaction()``) start with ``BEGIN IMMEDIATE`` so that two
    writers queue on the busy timeout instead of failing with 'database is locked' when a
    deferred transaction tries to upgrade its lock.
    """
    if url.database and url.database != ":memory:":
        os.makedirs(os.path.dirname(os.path.abspath(url.database)), exist_ok=True)
        create_private_file(url.database)  # it will hold password hashes and export passwords
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine
