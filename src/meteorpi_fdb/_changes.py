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

from sqlalchemy import Connection, Engine, select, text, update

from meteorpi_fdb import schema
from meteorpi_fdb._raw import ThreadConnections

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


#: The stamp's statement as plain SQL, for DB-API cursors.
_RAW_READ = f"SELECT {_COUNTER.c.epoch.name}, {_COUNTER.c.counter.name} FROM {_COUNTER.name}"


def read_stamp_raw(connections: ThreadConnections) -> str:
    """:func:`read_stamp` for SQLite and PostgreSQL on this thread's raw read connection (the
    query API reads the stamp on every search request)."""
    (epoch, counter), = connections.fetch(_RAW_READ, ())
    return f"{epoch}-{counter}"


def read_stamp(connection: Connection) -> str:
    """``<epoch>-<counter>``: equal stamps mean no write was committed in between."""
    epoch, counter = connection.execute(_READ).one()
    if connection.dialect.name == "firebird":
        counter = connection.execute(text(f"SELECT GEN_ID({FIREBIRD_SEQUENCE}, 0) FROM RDB$DATABASE")).scalar_one()
    return f"{epoch}-{counter}"
