"""A search page on SQLite as one statement that writes the page's JSON (see ``_wire``).

SQLite's JSON functions build every item: the event or file objects in the wire format's key
order, absent ``file_name`` / ``md5`` left out, metadata typed as ``Meta.as_dict()`` types it,
NSStrings as ``str(NSString)`` renders them. Floats are the one thing SQLite would write
differently (15 significant digits): ``mpi_float_text`` writes Python's ``repr``, which is what
``json`` writes for a finite float (metadata floats are finite), and ``json()`` embeds that text
as a number unchanged. The same statement counts the result set and finds the page's last
position (for the cursor), so a page costs one statement on a raw read connection (``_raw``).
Python only joins the pieces and escapes non-ASCII characters as ``jsonify`` does. An event's
JSON is usually read ready-made from ``t_eventwire`` (``_event_wire`` keeps it, built by
:data:`EVENT_OBJECT`, this module's own expression) and the page joins the items' texts.

Rows are aggregated in the order of their ordered subqueries, which is how SQLite evaluates an
aggregate over an ordered subquery (the JSON tests check the order on every run).
"""

from __future__ import annotations

import functools
from typing import Any

from meteorpi_fdb import schema

_MD5 = schema.t_file.c.md5hex.name


def _ns(column: str) -> str:
    """``str(NSString.from_string(column))``: no ``:`` means the default namespace."""
    return f"CASE WHEN instr({column}, ':') > 0 THEN {column} ELSE 'meteorpi:' || {column} END"


def _array(item: str, source: str) -> str:
    """JSON text of the array of ``item`` (a JSON value) over the rows of ``source`` in order."""
    return f"(SELECT json_group_array(json(item)) FROM (SELECT {item} AS item {source}))"


def _float(column: str) -> str:
    """JSON text of a float as Python writes it. Whole numbers below 1e15 (other than zero, which
    may be -0.0) are exact as integers, and ``repr`` writes them ``<integer>.0``; others need
    ``mpi_float_text``."""
    return (f"CASE WHEN {column} <> 0 AND abs({column}) < 1e15 AND {column} = CAST({column} AS INTEGER) "
            f"THEN CAST(CAST({column} AS INTEGER) AS TEXT) || '.0' ELSE mpi_float_text({column}) END")


def _metas(table: str, owner: str, owner_ref: str) -> str:
    key = _ns("m.metakey")
    item = (f"CASE WHEN m.datevalue IS NOT NULL THEN json_object('type', 'date', 'key', {key}, "
            f"'value', m.datevalue) WHEN m.floatvalue IS NOT NULL THEN json_object('type', 'number', "
            f"'key', {key}, 'value', json({_float('m.floatvalue')})) ELSE json_object('type', "
            f"'string', 'key', {key}, 'value', COALESCE(m.stringvalue, '')) END")
    return _array(item, f"FROM {table} m WHERE m.{owner} = {owner_ref} ORDER BY m.metaindex")


def _file_object(f: str, status_id: str, internal_id: str) -> str:
    """``FileRecord.as_dict()`` of the file row ``f`` (its status UUID column ``status_id``):
    one of four objects, as ``file_name`` and ``md5`` are present or not (absent keys are left
    out, not null)."""
    meta = _metas("t_filemeta", "fileid", internal_id)
    name = f"'file_name', {f}.filename, "
    md5 = f"'md5', {f}.{_MD5}, "

    def variant(with_name: bool, with_md5: bool) -> str:
        return (f"json_object('file_id', {f}.fileid, 'camera_id', {f}.cameraid, 'mime_type', {f}.mimetype, "
                f"{name if with_name else ''}'semantic_type', {_ns(f + '.semantictype')}, "
                f"'file_time', {f}.filetime, 'file_size', {f}.filesize, 'status_id', {status_id}, "
                f"{md5 if with_md5 else ''}'meta', json({meta}))")

    return (f"CASE WHEN {f}.filename IS NOT NULL AND {f}.{_MD5} IS NOT NULL THEN {variant(True, True)} "
            f"WHEN {f}.filename IS NOT NULL THEN {variant(True, False)} "
            f"WHEN {f}.{_MD5} IS NOT NULL THEN {variant(False, True)} ELSE {variant(False, False)} END")


def _event_object() -> str:
    files = _array(_file_object("f", "fs.statusid", "f.internalid"),
                   "FROM t_event_to_file l JOIN t_file f ON f.internalid = l.fileid "
                   "JOIN t_camerastatus fs ON fs.internalid = f.statusid WHERE l.eventid = p.iid "
                   "ORDER BY l.sequencenumber")
    return (f"json_object('event_id', p.eventid, 'camera_id', p.cameraid, 'event_time', p.t, "
            f"'event_type', {_ns('p.eventtype')}, 'status_id', p.statusid, 'files', json({files}), "
            f"'meta', json({_metas('t_eventmeta', 'eventid', 'p.iid')}))")


#: The page's columns, per kind: internal id and time (for order and cursor), then the entity's.
PAGE_COLUMNS = {
    "events": "e.internalid AS iid, e.eventtime AS t, e.eventid, e.cameraid, e.eventtype, s.statusid",
    "files": (f"f.internalid AS iid, f.filetime AS t, f.fileid, f.cameraid, f.mimetype, f.semantictype, "
              f"f.filetime, f.filesize, f.filename, s.statusid, f.{_MD5}"),
}
#: An event's JSON from a row ``p`` of the events' ``PAGE_COLUMNS`` (``_event_wire`` stores it).
EVENT_OBJECT = _event_object()
#: A page item: an event's stored JSON where ``_event_wire`` has it, else built here
#: (``COALESCE`` evaluates its second argument only when the first is NULL).
_ITEMS = {"events": ("COALESCE((SELECT w.body FROM t_eventwire w WHERE w.eventid = p.iid), "
                     f"{EVENT_OBJECT})"),
          "files": _file_object("p", "p.statusid", "p.iid")}


def _page_array(item: str) -> str:
    """The page's JSON array: the items' texts joined as they are (not re-parsed), in order."""
    return (f"'[' || COALESCE((SELECT group_concat(item, ',') FROM (SELECT {item} AS item FROM p "
            "ORDER BY p.t DESC, p.iid DESC)), '') || ']'")


@functools.lru_cache(maxsize=256)
def page_statement(key: str, count_sql: str, page_sql: str) -> str:
    """One statement for (count, items JSON, rows in the page, last position ``"<t>.<iid>"``);
    its arguments are the page's, then the count's."""
    return (f"WITH p AS ({page_sql}) SELECT ({count_sql}), {_page_array(_ITEMS[key])}, "
            "(SELECT COUNT(*) FROM p), (SELECT p.t || '.' || p.iid FROM p ORDER BY p.t, p.iid LIMIT 1)")


def _float_text(value: Any) -> str | None:
    return None if value is None else repr(float(value))


def register_functions(driver_connection: Any) -> None:
    """Register ``mpi_float_text`` on a pysqlite connection."""
    driver_connection.create_function("mpi_float_text", 1, _float_text, deterministic=True)


def register(pooled_connection: Any) -> None:
    """Register ``mpi_float_text`` on a pooled pysqlite connection, once per connection."""
    info = pooled_connection.info
    if not info.get("mpi_float_text"):
        register_functions(pooled_connection.driver_connection)
        info["mpi_float_text"] = True
