"""Each event's wire JSON, kept ready by the write path so that a search page reads text.

An event's ``as_dict()`` JSON is made of six tables (the event, its metadata, its links to
files, the files, their metadata, their camera statuses). Building it for every page of every
search costs far more than reading it (the one-statement SQL floor of issue 13 is exactly that
building). So ``t_eventwire`` holds each event's compact JSON text, and:

- triggers on those six tables (revision 0009, SQLite and PostgreSQL) delete an affected
  event's text and mark the event in ``t_eventwirestale``, inside the writing transaction, so
  no write path (present or future, through this package or raw SQL) leaves stale text behind;
- :func:`refresh_stale`, called by :meth:`MeteorDatabase.transaction` at the end of every
  write transaction, rebuilds the text of the marked events in that same transaction, so the
  data and its text commit together;
- a search page takes the text where it exists and builds the JSON inline where it does not
  (an event marked by a writer that bypassed ``transaction``), so correctness never depends on
  the text being there, only speed does.

The text is UTF-8 (non-ASCII unescaped): the page escapes it as ``jsonify`` does, as a whole.
A release that changes the wire format must mark every event stale in its migration, as 0009
does. Firebird has the tables but no triggers, and its pages are built as before.
"""

from __future__ import annotations

import orjson
from sqlalchemy import Connection

from meteorpi_fdb import _wire, _wire_sqlite

_STALE = "t_eventwirestale"

_SQLITE_REFRESH = (
    "INSERT OR REPLACE INTO t_eventwire (eventid, body) "
    f"SELECT p.iid, {_wire_sqlite.EVENT_OBJECT} FROM (SELECT {_wire_sqlite.PAGE_COLUMNS['events']} "
    "FROM t_event e JOIN t_camerastatus s ON s.internalid = e.statusid "
    f"WHERE e.internalid IN (SELECT eventid FROM {_STALE})) p")

#: Stale events taken per round on PostgreSQL (their rows pass through Python).
POSTGRESQL_CHUNK = 2_000
_POSTGRESQL_TAKE_STALE = (f"DELETE FROM {_STALE} WHERE eventid IN (SELECT eventid FROM {_STALE} "
                          f"LIMIT {POSTGRESQL_CHUNK}) RETURNING eventid")
_POSTGRESQL_ROWS = (
    f"SELECT p.*, NULL, {_wire.relations_sql(_wire.EVENTS)} FROM (SELECT {_wire.EVENTS.columns} "
    "FROM t_event e JOIN t_camerastatus s ON s.internalid = e.statusid "
    "WHERE e.internalid = ANY(%s)) p")
_POSTGRESQL_STORE = ("INSERT INTO t_eventwire (eventid, body) VALUES (%s, %s) "
                     "ON CONFLICT (eventid) DO UPDATE SET body = excluded.body")


def refresh_stale(connection: Connection) -> int:
    """Rebuild the wire JSON of every event marked stale, inside the caller's write transaction;
    return how many events were rebuilt. A no-op on Firebird (no triggers mark anything)."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        if connection.exec_driver_sql(f"SELECT 1 FROM {_STALE} LIMIT 1").first() is None:
            return 0
        _wire.sqlite_functions(connection)
        rebuilt = connection.exec_driver_sql(_SQLITE_REFRESH).rowcount
        connection.exec_driver_sql(f"DELETE FROM {_STALE}")
        return rebuilt
    rebuilt = 0
    while dialect == "postgresql":
        stale = [row[0] for row in connection.exec_driver_sql(_POSTGRESQL_TAKE_STALE)]
        if not stale:
            break
        rows = connection.exec_driver_sql(_POSTGRESQL_ROWS, (stale,)).all()
        items, _ = _wire.items_from_aggregated_rows(_wire.EVENTS, rows)
        if rows:
            connection.exec_driver_sql(_POSTGRESQL_STORE, [(row[0], orjson.dumps(item).decode("utf-8"))
                                                           for row, item in zip(rows, items)])
        rebuilt += len(rows)
    return rebuilt


def mark_all_stale(connection: Connection) -> None:
    """Mark every event stale (after a bulk load that bypassed the triggers, or a change of the
    wire format); the caller's write transaction then rebuilds them all."""
    connection.exec_driver_sql(f"DELETE FROM {_STALE}")
    connection.exec_driver_sql(f"INSERT INTO {_STALE} (eventid) SELECT internalid FROM t_event")
