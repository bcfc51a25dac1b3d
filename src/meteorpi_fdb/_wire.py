"""Search pages straight from rows to the JSON wire format (a mixin of ``MeteorDatabase``).

``search_events`` / ``search_files`` return model objects (the seed's contract); the HTTP query
API needs only their JSON. Here rows become the exact dicts ``Event.as_dict()`` and
``FileRecord.as_dict()`` give (SPEC section 3: key order, omitted ``None`` fields, floats for
numeric metadata, milliseconds for times) without building or validating objects (the rows
were validated when written), and orjson writes the bytes Flask's ``jsonify`` would have
written: compact, ASCII only (``\\uXXXX`` escapes), floats as Python's ``repr``, a final newline.

On PostgreSQL a page is one statement: the count, the page, and each event's stored JSON
(``_event_wire``) or, where there is none, each row's files and metadata as JSON aggregates.
On SQLite it is one statement that writes the page's JSON itself (``_wire_sqlite``). Both run on the thread's raw read connection (``_raw``). Firebird reads the
count, the page and each relation with one statement apiece, as ``generators`` does.

A page may also start after a *cursor*: the position (time, internal id) of the last row of
the previous page, returned with each full page. Unlike ``skip``, it costs the same however
deep the page is.
"""

from __future__ import annotations

import functools
import json
import math
import re
from typing import Any, Callable, Sequence

import orjson
from sqlalchemy import Connection

import meteorpi_model as model
from meteorpi_fdb import _wire_sqlite, schema
from meteorpi_fdb.generators import _in_chunks
from meteorpi_fdb.sql_builder import SQLBuilder, search_events_sql_builder, search_files_sql_builder, to_text

_MD5 = schema.t_file.c.md5hex.name
_FILE_COLUMNS = (f"f.fileid, f.cameraid, f.mimetype, f.semantictype, f.filetime, f.filesize, "
                 f"f.filename, s.statusid, f.{_MD5}")
_EVENT_COLUMNS = "e.eventid, e.cameraid, e.eventtime, e.eventtype, s.statusid"
_META_COLUMNS = "metakey, stringvalue, floatvalue, datevalue"
_CURSOR = re.compile(r"(-?\d{1,19})\.(\d{1,19})")
_NON_ASCII = re.compile("[\x7f-\U0010ffff]")


class _Kind:
    """What differs between the event and the file search."""

    def __init__(self, key: str, alias: str, time_column: str, columns: str,
                 builder: Callable[..., SQLBuilder], search_class: type) -> None:
        self.key, self.alias, self.search_class, self.builder = key, alias, search_class, builder
        self.time = f"{alias}.{time_column}"
        self.columns = f"{alias}.internalid, {self.time}, {columns}"
        self.order = f"{self.time} DESC, {alias}.internalid DESC"


EVENTS = _Kind("events", "e", "eventtime", _EVENT_COLUMNS, search_events_sql_builder, model.EventSearch)
FILES = _Kind("files", "f", "filetime", _FILE_COLUMNS, search_files_sql_builder, model.FileRecordSearch)


class WireMixin:
    """Search pages as the bytes of the HTTP query API's answer."""

    def search_events_wire(self, search: model.EventSearch, cursor: str | None = None) -> bytes:
        """``{"events": [...], "count": N}`` (plus ``"cursor"`` after a full page) as JSON bytes:
        exactly what ``jsonify`` made of :meth:`search_events`' objects' ``as_dict()``."""
        return self._wire_page(EVENTS, search, cursor)

    def search_files_wire(self, search: model.FileRecordSearch, cursor: str | None = None) -> bytes:
        """``{"files": [...], "count": N}`` (plus ``"cursor"`` after a full page) as JSON bytes."""
        return self._wire_page(FILES, search, cursor)

    def _wire_page(self, kind: _Kind, search: Any, cursor: str | None) -> bytes:
        if not isinstance(search, kind.search_class):
            raise ValueError(f"search must be a {kind.search_class.__name__}, not {type(search).__name__}")
        position = parse_cursor(cursor)
        if self.backend == "sqlite":
            return self._sqlite_wire_page(kind, search, position)
        counter, page, page_sql = _builders(kind, search, position, self.backend)
        if self.backend == "postgresql":
            sql, args = _postgresql_statement(kind, counter, page, page_sql)
            rows = self._raw_reads.fetch(_format_style(sql), args)
            items, last = items_from_aggregated_rows(kind, [row[1:] for row in rows if row[1] is not None])
            return _document(kind, search, rows[0][0], items, last)
        with self.connection() as connection:
            count, items, last = _batched_page(connection, kind, counter, page, page_sql)
        return _document(kind, search, count, items, last)

    def _sqlite_wire_page(self, kind: _Kind, search: Any, position: tuple[int, int] | None) -> bytes:
        """One statement on this thread's raw read connection (see ``_wire_sqlite``, ``_raw``)."""
        (count, items, rows, last), = self._raw_reads.fetch(*_sqlite_statement(kind, search, position))
        text = f'{{"{kind.key}":{items},"count":{count}'
        if search.limit and rows == search.limit:
            text += f',"cursor":"{last}"'
        return ascii_json(text + "}\n")


def _document(kind: _Kind, search: Any, count: int, items: list[Any],
              last: tuple[int, int] | None) -> bytes:
    document: dict[str, Any] = {kind.key: items, "count": count}
    if last is not None and search.limit and len(items) == search.limit:
        document["cursor"] = f"{last[0]}.{last[1]}"
    return dumps(document)


def search_statements(search: model.EventSearch | model.FileRecordSearch, cursor: str | None,
                      dialect: str) -> list[tuple[str, list[Any]]]:
    """The statements (``?`` SQL and arguments) a page of ``search`` runs on ``dialect``:
    PostgreSQL's single statement, or the count and the page (with its relations on SQLite;
    Firebird loads them with further statements). For checks of their query plans."""
    kind = EVENTS if isinstance(search, model.EventSearch) else FILES
    counter, page, page_sql = _builders(kind, search, parse_cursor(cursor), dialect)
    if dialect == "postgresql":
        return [_postgresql_statement(kind, counter, page, page_sql)]
    if dialect == "sqlite":
        return [_sqlite_statement(kind, search, parse_cursor(cursor))]
    return [(counter.get_count_sql(), counter.sql_args), (page_sql, page.sql_args)]


def _sqlite_statement(kind: _Kind, search: Any, position: tuple[int, int] | None) -> tuple[str, list[Any]]:
    builder = kind.builder(search, dialect="sqlite")
    page = _after(builder, kind, position)
    counter = _count_builder(builder, search, kind.alias)
    page_sql = page.get_select_sql(columns=_wire_sqlite.PAGE_COLUMNS[kind.key], order=kind.order,
                                   limit=search.limit, skip=search.skip)
    return (_wire_sqlite.page_statement(kind.key, counter.get_count_sql(), page_sql),
            [*page.sql_args, *counter.sql_args])


def _builders(kind: _Kind, search: Any, position: tuple[int, int] | None,
              dialect: str) -> tuple[SQLBuilder, SQLBuilder, str]:
    builder = kind.builder(search, dialect=dialect)
    page = _after(builder, kind, position)
    page_sql = page.get_select_sql(columns=kind.columns, order=kind.order, limit=search.limit,
                                   skip=search.skip)
    return _count_builder(builder, search, kind.alias), page, page_sql


def parse_cursor(cursor: str | None) -> tuple[int, int] | None:
    """``(time, internal id)`` from a cursor string ``"<ms>.<id>"``; ValueError if malformed."""
    if cursor is None:
        return None
    match = _CURSOR.fullmatch(cursor) if isinstance(cursor, str) else None
    if match is None:
        raise ValueError("cursor must be the 'cursor' string of a previous page of this search")
    return int(match.group(1)), int(match.group(2))


def dumps(document: Any) -> bytes:
    """``document`` as compact ASCII JSON plus a newline, byte for byte what Flask's ``jsonify``
    writes (orjson writes UTF-8; escape what Python's ``ensure_ascii`` escapes)."""
    out = orjson.dumps(document, option=orjson.OPT_APPEND_NEWLINE)
    if out.isascii() and b"\x7f" not in out:
        return out
    return _NON_ASCII.sub(_escape, out.decode("utf-8")).encode("ascii")


def ascii_json(text: str) -> bytes:
    """Compact JSON text as the bytes ``jsonify`` writes: non-ASCII (and DEL) as ``\\uXXXX``."""
    if text.isascii() and "\x7f" not in text:
        return text.encode("ascii")
    return _NON_ASCII.sub(_escape, text).encode("ascii")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}"


def _number(value: Any) -> Any:
    """A float as Python's ``json`` writes it: orjson agrees except below 1e-4 (``1e-05`` vs
    ``0.00001``) and for non-finite values, which are passed through as JSON fragments."""
    value = float(value)
    if value == 0 or (1e-4 <= abs(value) and math.isfinite(value)):
        return value
    return orjson.Fragment(json.dumps(value).encode("ascii"))


@functools.lru_cache(maxsize=4096)
def _ns(text: str) -> str:
    """A stored NSString as ``str(NSString.from_string(text))`` renders it (keys repeat a lot)."""
    return str(model.NSString.from_string(text))


def _meta(key: str, string_value: Any, float_value: Any, date_value: Any) -> dict[str, Any]:
    """``Meta.as_dict()`` of a metadata row (exactly one value column is set)."""
    if date_value is not None:
        return {"type": "date", "key": _ns(key), "value": int(date_value)}
    if float_value is not None:
        return {"type": "number", "key": _ns(key), "value": _number(float_value)}
    return {"type": "string", "key": _ns(key), "value": "" if string_value is None else string_value}


def _file(row: Sequence[Any], meta: list[dict]) -> dict[str, Any]:
    """``FileRecord.as_dict()`` from (file id, camera, mime type, semantic type, time, size,
    name, status id, md5)."""
    file_id, camera_id, mime_type, semantic_type, file_time, file_size, file_name, status_id, md5 = row
    record: dict[str, Any] = {"file_id": file_id, "camera_id": camera_id, "mime_type": mime_type}
    if file_name is not None:
        record["file_name"] = file_name
    record["semantic_type"] = _ns(semantic_type)
    record["file_time"] = int(file_time)
    record["file_size"] = int(file_size)
    record["status_id"] = status_id
    if md5 is not None:
        record["md5"] = md5
    record["meta"] = meta
    return record


def _event(row: Sequence[Any], files: list[dict], meta: list[dict]) -> dict[str, Any]:
    """``Event.as_dict()`` from (event id, camera, time, type, status id)."""
    event_id, camera_id, event_time, event_type, status_id = row
    return {"event_id": event_id, "camera_id": camera_id, "event_time": int(event_time),
            "event_type": _ns(event_type), "status_id": status_id, "files": files, "meta": meta}


def _copy(builder: SQLBuilder) -> SQLBuilder:
    copy = SQLBuilder(builder.tables, builder.where_clauses, builder.dialect)
    copy.sql_args = list(builder.sql_args)
    return copy


def _count_builder(builder: SQLBuilder, search: Any, alias: str) -> SQLBuilder:
    """The count's builder: without the join to the status table when no location bound needs
    it (every row has exactly one status), so the count can be read from an index alone."""
    counter = _copy(builder)
    join = f"{alias}.statusID = s.internalID"
    bounds = (search.lat_min, search.lat_max, search.long_min, search.long_max)
    if all(bound is None for bound in bounds) and counter.where_clauses[:1] == [join]:
        counter.tables = counter.tables.split(",")[0]
        counter.where_clauses = counter.where_clauses[1:]
    return counter


def _after(builder: SQLBuilder, kind: _Kind, position: tuple[int, int] | None) -> SQLBuilder:
    """The page's builder: rows strictly after ``position`` in the search's order. The plain
    upper bound on time lets every backend start a range scan of the (time, id) index there."""
    page = _copy(builder)
    if position is not None:
        time, internal_id = position
        page.where_clauses.append(
            f"{kind.time} <= ? AND ({kind.time} < ? OR {kind.alias}.internalid < ?)")
        page.sql_args.extend([time, time, internal_id])
    return page


def _batched_page(connection: Connection, kind: _Kind, counter: SQLBuilder, page: SQLBuilder,
                  page_sql: str) -> tuple[int, list[dict], tuple[int, int] | None]:
    """Count, page and relations with one statement each."""
    count = connection.execute(*_text(counter.get_count_sql(), counter.sql_args)).scalar_one()
    rows = connection.execute(*_text(page_sql, page.sql_args)).all()
    ids = [row[0] for row in rows]
    last = (rows[-1][1], rows[-1][0]) if rows else None
    if kind is FILES:
        metas = _metas(connection, "t_filemeta", "fileid", ids)
        return count, [_file(row[2:], metas.get(row[0], [])) for row in rows], last
    metas = _metas(connection, "t_eventmeta", "eventid", ids)
    files = _event_files(connection, ids)
    return count, [_event(row[2:], files.get(row[0], []), metas.get(row[0], [])) for row in rows], last


def _metas(connection: Connection, table: str, owner: str, ids: Sequence[int]) -> dict[int, list[dict]]:
    sql = f"SELECT {owner}, {_META_COLUMNS} FROM {table} WHERE {owner} IN :ids ORDER BY {owner}, metaindex"
    metas: dict[int, list[dict]] = {}
    for owner_id, key, string_value, float_value, date_value in _in_chunks(connection, sql, ids):
        metas.setdefault(owner_id, []).append(_meta(key, string_value, float_value, date_value))
    return metas


def _event_files(connection: Connection, event_ids: Sequence[int]) -> dict[int, list[dict]]:
    sql = (f"SELECT l.eventid, f.internalid, {_FILE_COLUMNS} FROM t_event_to_file l "
           "JOIN t_file f ON f.internalid = l.fileid JOIN t_camerastatus s ON s.internalid = f.statusid "
           "WHERE l.eventid IN :ids ORDER BY l.eventid, l.sequencenumber")
    rows = list(_in_chunks(connection, sql, event_ids))
    metas = _metas(connection, "t_filemeta", "fileid", [row[1] for row in rows])
    files: dict[int, list[dict]] = {}
    for row in rows:
        files.setdefault(row[0], []).append(_file(row[2:], metas.get(row[1], [])))
    return files


def sqlite_functions(connection: Connection) -> None:
    """Register ``mpi_float_text`` on this pooled SQLite connection, once per connection."""
    _wire_sqlite.register(connection.connection)


# One statement for the page and its relations (PostgreSQL): each row carries its metadata, and
# an event its files with theirs, as JSON text built by the database. Each item starts with its
# sort key (metaindex, sequencenumber), so order never depends on the aggregate. Floats travel
# as text (JSON numbers would lose -0.0's sign), and Python writes them as ``repr`` does.
def _aggregate(items: str, source: str, order: str) -> str:
    """JSON text of an array holding ``items`` (a SQL list) for each row of ``source``."""
    return f"(SELECT json_agg(json_build_array({items}) ORDER BY {order}) {source})::text"


def _meta_aggregate(table: str, owner: str, owner_ref: str) -> str:
    items = "metaindex, metakey, stringvalue, floatvalue::text, datevalue"
    return _aggregate(items, f"FROM {table} WHERE {owner} = {owner_ref}", "metaindex")


def _files_aggregate() -> str:
    nested = _meta_aggregate("t_filemeta", "fileid", "f.internalid")
    items = (f"l.sequencenumber, f.fileid, f.cameraid, f.mimetype, f.semantictype, f.filetime, "
             f"f.filesize, f.filename, fs.statusid, f.{_MD5}, {nested}::json")
    source = ("FROM t_event_to_file l JOIN t_file f ON f.internalid = l.fileid "
              "JOIN t_camerastatus fs ON fs.internalid = f.statusid WHERE l.eventid = p.internalid")
    return _aggregate(items, source, "l.sequencenumber")


def relations_sql(kind: _Kind, unless: str | None = None) -> str:
    """Two columns for each row of a page ``p``: the JSON text of its metadata and files
    (NULL where the expression ``unless`` is not NULL). Computed outside the page's own query,
    so that rows skipped by OFFSET never compute them."""
    if kind is FILES:
        return f"{_meta_aggregate('t_filemeta', 'fileid', 'p.internalid')} AS metas, NULL AS files"
    metas, files = _meta_aggregate("t_eventmeta", "eventid", "p.internalid"), _files_aggregate()
    if unless is not None:
        metas, files = (f"CASE WHEN {unless} IS NULL THEN {metas} END",
                        f"CASE WHEN {unless} IS NULL THEN {files} END")
    return f"{metas} AS metas, {files} AS files"


def _postgresql_statement(kind: _Kind, counter: SQLBuilder, page: SQLBuilder,
                          page_sql: str) -> tuple[str, list[Any]]:
    """One statement: the count, joined laterally to the page, with each event's stored JSON
    (``_event_wire``) or, where there is none, the page's relations."""
    count_sql = counter.get_count_sql().replace("COUNT(*)", "COUNT(*) AS n", 1)
    if kind is FILES:
        columns, stored = f"NULL AS body, {relations_sql(kind)}", ""
    else:
        columns = f"w.body, {relations_sql(kind, unless='w.body')}"
        stored = "LEFT JOIN t_eventwire w ON w.eventid = p.internalid "
    sql = (f"SELECT counted.n, p.*, {columns} FROM ({count_sql}) counted "
           f"LEFT JOIN LATERAL ({page_sql}) p ON TRUE {stored}ORDER BY 3 DESC, 2 DESC")
    return sql, [*counter.sql_args, *page.sql_args]


@functools.lru_cache(maxsize=256)
def _clause(sql: str, arguments: int) -> tuple[Any, tuple[str, ...]]:
    """``to_text`` of ``sql`` once per distinct statement (it reads the SQL character by character)."""
    clause, params = to_text(sql, [None] * arguments)
    return clause, tuple(params)


def _text(sql: str, args: Sequence[Any]) -> tuple[Any, dict[str, Any]]:
    clause, names = _clause(sql, len(args))
    return clause, dict(zip(names, args))


def _first(values: Sequence[Any]) -> Any:
    return values[0]


def items_from_aggregated_rows(kind: _Kind, rows: Sequence[Any]) -> tuple[list[Any], tuple[int, int] | None]:
    """Wire items from rows of (internal id, time, columns..., stored JSON, metas JSON, files
    JSON): the stored JSON as it is where there is some, else a dict built from the rest."""
    items: list[Any] = []
    for row in rows:
        if row[-3] is not None:
            items.append(orjson.Fragment(row[-3]))
            continue
        metas = [_meta(*values[1:]) for values in sorted(orjson.loads(row[-2] or "[]"), key=_first)]
        if kind is FILES:
            items.append(_file(row[2:-3], metas))
        else:
            files = [_file(values[1:10], [_meta(*m[1:]) for m in sorted(values[10] or (), key=_first)])
                     for values in sorted(orjson.loads(row[-1] or "[]"), key=_first)]
            items.append(_event(row[2:-3], files, metas))
    return items, ((rows[-1][1], rows[-1][0]) if rows else None)


@functools.lru_cache(maxsize=256)
def _format_style(sql: str) -> str:
    """``?``-style SQL in the DB-API ``format`` style of psycopg (``%s``; ``%`` doubled), with
    ``?`` inside single-quoted literals left alone."""
    parts, in_literal = [], False
    for character in sql:
        if character == "'":
            in_literal = not in_literal
        if character == "?" and not in_literal:
            parts.append("%s")
        elif character == "%":
            parts.append("%%")
        else:
            parts.append(character)
    return "".join(parts)
