"""Build search SQL from fragments, as the 2015 code did, portably across backends.

Fragments use ``?`` placeholders and the 2015 mixed-case names (``e.eventTime``); both work on
every backend because the schema's identifiers are declared case-insensitively (see
``schema``) and :func:`to_text` turns ``?`` into named binds for SQLAlchemy.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any, Iterable, Sequence

from sqlalchemy import TextClause, text

import meteorpi_model as model

_NO_LIMIT = 2**63 - 1  # the largest LIMIT SQLite and PostgreSQL accept
_META_OWNERS = {"t_eventmeta": ("e", "eventID"), "t_filemeta": ("f", "fileID")}
_META_CONDITIONS = {
    "string_equals": "stringValue = ?",
    "number_equals": "floatValue = ?",
    "less": "floatValue <= ?",
    "greater": "floatValue >= ?",
    "before": "dateValue <= ?",
    "after": "dateValue >= ?",
}


def to_text(sql: str, args: Sequence[Any] = ()) -> tuple[TextClause, dict[str, Any]]:
    """Turn ``?``-style SQL and positional args into a ``text()`` clause with named binds.

    ``?`` inside single-quoted literals is left alone. Raises ValueError if the number of
    placeholders and arguments differ.
    """
    parts: list[str] = []
    params: dict[str, Any] = {}
    in_literal = False
    for character in sql:
        if character == "'":
            in_literal = not in_literal
        if character == "?" and not in_literal:
            name = f"p{len(params)}"
            if len(params) >= len(args):
                raise ValueError("more ? placeholders in the SQL than arguments")
            params[name] = args[len(params)]
            parts.append(f":{name}")
        elif character == ":":
            # Escaped inside literals too: text() would read ':name' there as a bind.
            parts.append("\\:")
        else:
            parts.append(character)
    if len(params) != len(args):
        raise ValueError("more arguments than ? placeholders in the SQL")
    return text("".join(parts)), params


class SQLBuilder:
    """Accumulates WHERE clauses and their arguments, then renders SELECT and COUNT queries.

    :ivar tables: the FROM fragment, e.g. ``'t_file f, t_cameraStatus s'``
    :ivar where_clauses: SQL fragments joined with AND (without the word WHERE)
    :ivar sql_args: the values bound to the fragments' ``?`` placeholders, in order
    :ivar dialect: the backend name the paging clause is written for ('firebird' uses
        ``OFFSET … ROWS FETCH NEXT … ROWS ONLY``; the others ``LIMIT … OFFSET …``)
    """

    def __init__(self, tables: str, where_clauses: Iterable[str] | None = None, dialect: str | None = None) -> None:
        self.tables = tables
        self.where_clauses: list[str] = list(where_clauses or [])
        self.sql_args: list[Any] = []
        self.dialect = dialect

    @staticmethod
    def map_value(value: Any) -> Any:
        """NSString → ``'ns:value'``, datetime → epoch milliseconds, UUID → hex; else unchanged."""
        if isinstance(value, model.NSString):
            return str(value)
        if isinstance(value, datetime.datetime):
            return model.utc_datetime_to_milliseconds(value)
        if isinstance(value, uuid.UUID):
            return value.hex
        return value

    def add_sql(self, value: Any, clause: str) -> None:
        """Add ``clause`` with ``value`` bound to its ``?``; does nothing when value is None."""
        if value is not None:
            self.sql_args.append(SQLBuilder.map_value(value))
            self.where_clauses.append(clause)

    def add_set_membership(self, values: Any, column_name: str) -> None:
        """Add ``column_name IN (?, …)``; a single string is a one-element list; None or empty adds nothing."""
        if values is None:
            return
        if isinstance(values, (str, model.NSString)):
            values = [values]
        values = list(values)
        if values:
            self.sql_args.extend(SQLBuilder.map_value(value) for value in values)
            self.where_clauses.append(f"{column_name} IN ({', '.join('?' for _ in values)})")

    def add_metadata_query_properties(self, meta_constraints: Iterable[model.MetaConstraint] | None, meta_table_name: str) -> None:
        """Add one clause per MetaConstraint: some metadata row with that key satisfies it."""
        owner = _META_OWNERS.get(meta_table_name.lower())
        if owner is None:
            raise ValueError(f"unknown metadata table {meta_table_name!r}")
        alias, owner_column = owner
        for constraint in meta_constraints or ():
            condition = _META_CONDITIONS.get(constraint.constraint_type)
            if condition is None:
                raise ValueError(f"unknown meta constraint type {constraint.constraint_type!r}")
            self.sql_args.extend([str(constraint.key), SQLBuilder.map_value(constraint.value)])
            self.where_clauses.append(
                f"{alias}.internalID IN (SELECT {owner_column} FROM {meta_table_name} "
                f"WHERE metaKey = ? AND {condition})"
            )

    def _where(self) -> str:
        return f" WHERE {' AND '.join(self.where_clauses)}" if self.where_clauses else ""

    def get_select_sql(self, columns: str, order: str | None = None, limit: int = 0, skip: int = 0) -> str:
        """A SELECT of ``columns`` with this builder's constraints, ordering and paging."""
        sql = f"SELECT {columns} FROM {self.tables}{self._where()}"
        if order:
            sql += f" ORDER BY {order}"
        limit, skip = int(limit or 0), int(skip or 0)
        if limit < 0 or skip < 0:
            raise ValueError("limit and skip must not be negative")
        if self.dialect == "firebird":
            if skip:
                sql += f" OFFSET {skip} ROWS"
            if limit:
                sql += f" FETCH NEXT {limit} ROWS ONLY"
        elif limit:
            sql += f" LIMIT {limit}" + (f" OFFSET {skip}" if skip else "")
        elif skip and self.dialect in ("sqlite", None):
            # SQLite needs a LIMIT before OFFSET; this one also suits PostgreSQL (no dialect given).
            sql += f" LIMIT {_NO_LIMIT} OFFSET {skip}"
        elif skip:
            sql += f" OFFSET {skip}"
        return sql

    def get_count_sql(self) -> str:
        """A SELECT of the number of rows an unlimited query would return."""
        return f"SELECT COUNT(*) FROM {self.tables}{self._where()}"


def search_events_sql_builder(search: model.EventSearch, dialect: str | None = None) -> SQLBuilder:
    """A SQLBuilder over ``t_event e, t_cameraStatus s`` holding every constraint of ``search``."""
    builder = SQLBuilder("t_event e, t_cameraStatus s", ["e.statusID = s.internalID"], dialect)
    _add_common_constraints(builder, search, "e", "event")
    builder.add_sql(search.event_type, "e.eventType = ?")
    builder.add_metadata_query_properties(search.meta_constraints, "t_eventMeta")
    # Exclusions are NOT EXISTS anti-joins: PostgreSQL runs NOT IN (subquery) as a scan of the
    # subquery per row once its result outgrows work_mem, which is quadratic at a million rows.
    if search.exclude_imported:
        builder.where_clauses.append("NOT EXISTS (SELECT 1 FROM t_eventImport i WHERE i.eventID = e.internalID)")
    builder.add_sql(
        search.exclude_export_to,
        "NOT EXISTS (SELECT 1 FROM t_eventExport x, t_exportConfig c WHERE x.eventID = e.internalID "
        "AND x.exportConfig = c.internalID AND c.exportConfigID = ?)",
    )
    return builder


def search_files_sql_builder(search: model.FileRecordSearch, dialect: str | None = None) -> SQLBuilder:
    """A SQLBuilder over ``t_file f, t_cameraStatus s`` holding every constraint of ``search``."""
    builder = SQLBuilder("t_file f, t_cameraStatus s", ["f.statusID = s.internalID"], dialect)
    _add_common_constraints(builder, search, "f", "file")
    builder.add_sql(search.mime_type, "f.mimeType = ?")
    builder.add_sql(search.semantic_type, "f.semanticType = ?")
    builder.add_metadata_query_properties(search.meta_constraints, "t_fileMeta")
    if search.exclude_events:
        builder.where_clauses.append("NOT EXISTS (SELECT 1 FROM t_event_to_file l WHERE l.fileID = f.internalID)")
    if search.exclude_imported:
        builder.where_clauses.append("NOT EXISTS (SELECT 1 FROM t_fileImport i WHERE i.fileID = f.internalID)")
    builder.add_sql(
        search.exclude_export_to,
        "NOT EXISTS (SELECT 1 FROM t_fileExport x, t_exportConfig c WHERE x.fileID = f.internalID "
        "AND x.exportConfig = c.internalID AND c.exportConfigID = ?)",
    )
    return builder


def _add_common_constraints(builder: SQLBuilder, search: Any, alias: str, entity: str) -> None:
    """Camera, location box, time and time-of-night constraints shared by both searches."""
    builder.add_set_membership(search.camera_ids, f"{alias}.cameraID")
    builder.add_sql(search.lat_min, "s.locationLatitude >= ?")
    builder.add_sql(search.lat_max, "s.locationLatitude <= ?")
    builder.add_sql(search.long_min, "s.locationLongitude >= ?")
    builder.add_sql(search.long_max, "s.locationLongitude <= ?")
    builder.add_sql(search.after, f"{alias}.{entity}Time > ?")
    builder.add_sql(search.before, f"{alias}.{entity}Time < ?")
    builder.add_sql(search.after_offset, f"{alias}.{entity}Offset > ?")
    builder.add_sql(search.before_offset, f"{alias}.{entity}Offset < ?")
