"""The change counter: a stamp that changes whenever any process or host commits a write.

Search results cached by the HTTP query API are keyed by this stamp, so they are known stale as
soon as anything is written, wherever it was written. :meth:`MeteorDatabase.transaction` calls
:func:`bump_in_transaction` at the end of every write transaction and :func:`bump_after_commit`
after it commits; readers call :func:`read_stamp` *before* they read the data they cache.

- SQLite and PostgreSQL: the one row of ``t_changecounter`` is updated inside the write's own
  transaction, as its last statement, so the data and the new stamp become visible together
  (on PostgreSQL the row lock is held only while the commit runs).
- Firebird reports concurrent updates of one row as update conflicts instead of waiting, so
  there the stamp is a sequence bumped right after the commit (sequences are not transactional
  and never conflict). A reader that sees the old stamp read the stamp before the bump, so it
  caches under a stamp that the bump retires; the one gap is a process killed between its
  commit and the bump, whose write then shows in cached searches only after the next write.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from sqlalchemy import Connection, Engine, select, text, update

from meteorpi_fdb import schema

_COUNTER = schema.t_changecounter
_BUMP = update(_COUNTER).values(counter=_COUNTER.c.counter + 1)
_READ = select(_COUNTER.c.epoch, _COUNTER.c.counter)
#: Created by migration 0008 on Firebird only.
FIREBIRD_SEQUENCE = "g_changecounter"


def bump_in_transaction(connection: Connection) -> None:
    """Advance the counter inside the caller's write transaction (not on Firebird)."""
    if connection.dialect.name != "firebird":
        connection.execute(_BUMP)


def bump_after_commit(connection: Connection) -> None:
    """Advance the Firebird sequence once the caller's write has committed (a no-op elsewhere)."""
    if connection.dialect.name == "firebird":
        # Fetched: Firebird evaluates a SELECT's expressions only as its rows are fetched.
        connection.execute(text(f"SELECT GEN_ID({FIREBIRD_SEQUENCE}, 1) FROM RDB$DATABASE")).scalar_one()
        connection.commit()


#: The stamp's statement as plain SQL, for DB-API cursors (StampReader).
_RAW_READ = f"SELECT {_COUNTER.c.epoch.name}, {_COUNTER.c.counter.name} FROM {_COUNTER.name}"


class StampReader:
    """:func:`read_stamp` for SQLite and PostgreSQL, made as cheap as a statement can be: the
    query API reads the stamp on every search request. Each thread keeps its own DB-API
    connection (taken out of the engine's pool, so configured like the others; autocommit on
    PostgreSQL) that only ever runs this one statement, outside a transaction (one statement
    is its own snapshot), without SQLAlchemy's pool and result machinery. A connection that
    fails is dropped and the read repeated once on a new one; a forked child opens its own."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[Any] = []

    def read(self) -> str:
        try:
            return self._read()
        except self.engine.dialect.loaded_dbapi.Error:
            self._local.connection = None
            return self._read()

    def _read(self) -> str:
        local = self._local
        connection = getattr(local, "connection", None)
        if connection is None or local.pid != os.getpid():
            connection = local.connection = self._open()
            local.pid = os.getpid()
        cursor = connection.cursor()
        try:
            cursor.execute(_RAW_READ)
            (epoch, counter), = cursor.fetchall()  # read to the end: no open read snapshot
        finally:
            cursor.close()
        return f"{epoch}-{counter}"

    def _open(self) -> Any:
        pooled = self.engine.raw_connection()
        driver = pooled.driver_connection
        pooled.detach()  # ours until closed; the pool opens another in its place
        if self.engine.dialect.name == "postgresql":
            driver.autocommit = True
        with self._lock:
            self._opened.append((os.getpid(), driver))
        return driver

    def close(self) -> None:
        """Close this process's connections (the others' belong to them)."""
        with self._lock:
            opened, self._opened = self._opened, []
        self._local = threading.local()
        for pid, driver in opened:
            if pid == os.getpid():
                try:
                    driver.close()
                except Exception:  # already broken: nothing left to release
                    pass


def read_stamp(connection: Connection) -> str:
    """``<epoch>-<counter>``: equal stamps mean no write was committed in between."""
    epoch, counter = connection.execute(_READ).one()
    if connection.dialect.name == "firebird":
        counter = connection.execute(text(f"SELECT GEN_ID({FIREBIRD_SEQUENCE}, 0) FROM RDB$DATABASE")).scalar_one()
    return f"{epoch}-{counter}"
