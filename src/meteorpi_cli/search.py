"""``meteorpi search``: search a node's events and files, locally or over HTTP (``--url``).

The filter options are shared with ``meteorpi export add`` (:func:`search_filters`,
:func:`build_search`).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Any, Callable

import click
from rich.table import Table

import meteorpi_model as model
from meteorpi_cli._common import (TIME, console, data_options, emit_json, format_time,
                                  json_option, parse_time, settings)

#: --meta operators: canonical constraint types (the wire's, all inclusive) plus short aliases
META_OPERATORS = {
    "string_equals": "string_equals", "number_equals": "number_equals", "less": "less",
    "greater": "greater", "before": "before", "after": "after",
    "=": None, "==": None, "eq": None, "<=": "less", "le": "less", ">=": "greater", "ge": "greater",
    "<": "less", "lt": "less", ">": "greater", "gt": "greater",
}
#: operators that exclude their bound; the rest include it
STRICT_OPERATORS = {"<", "lt", ">", "gt"}
#: comparisons that also take a time as VALUE (then compared with dates)
_COMPARISONS = {"<", "lt", "<=", "le", ">", "gt", ">=", "ge"}
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def parse_meta_constraint(key: str, operator: str, value: str) -> model.MetaConstraint:
    """``--meta KEY OP VALUE``: OP a constraint type or alias; VALUE a number, text or time.

    ``=`` (``==``, ``eq``) compares numbers when VALUE is a number, else text. ``<`` and ``>``
    are strict, every other comparison includes its bound; the comparisons compare dates when
    VALUE is an ISO 8601 time. The wire's constraint types are all inclusive (SPEC section 3,
    understood by 2015 servers), so a strict bound is sent as the next representable value:
    ``> x`` as ``greater`` than the next double after ``x``, ``> t`` as ``after`` ``t`` + 1 ms.
    """
    if operator not in META_OPERATORS:
        raise ValueError(f"unknown --meta operator {operator!r}; use one of "
                         + ", ".join(META_OPERATORS))
    kind = META_OPERATORS[operator]
    number = _number(value)
    if kind is None:
        kind = "string_equals" if number is None else "number_equals"
    elif operator in _COMPARISONS and number is None and _is_time(value):
        kind = "after" if kind == "greater" else "before"
    strict = operator in STRICT_OPERATORS
    if kind in ("before", "after"):
        return model.MetaConstraint(kind, key, _time_bound(kind, parse_time(value), strict))
    if kind in ("number_equals", "less", "greater"):
        if number is None:
            raise ValueError(f"--meta {key} {operator}: {value!r} is not a number"
                             + (" or a time" if operator in _COMPARISONS else ""))
        if strict:
            number = _strict_number_bound(kind, number, f"--meta {key} {operator} {value}")
        return model.MetaConstraint(kind, key, number)
    return model.MetaConstraint(kind, key, value)


def _strict_number_bound(kind: str, number: int | float, where: str) -> float:
    """The inclusive bound equal to a strict one: numbers are stored as IEEE doubles, so
    ``> x`` is ``>= nextafter(x, +inf)`` and ``< x`` is ``<= nextafter(x, -inf)``."""
    bound = math.nextafter(float(number), math.inf if kind == "greater" else -math.inf)
    if math.isinf(bound):
        raise ValueError(f"{where}: no number is beyond {number}")
    return bound


def _time_bound(kind: str, time: datetime, strict: bool) -> datetime:
    """Dates are whole milliseconds (times are truncated to them when parsed): ``> t`` is
    ``>= t + 1 ms`` and ``< t`` is ``<= t - 1 ms``."""
    if not strict:
        return time
    return time + timedelta(milliseconds=1 if kind == "after" else -1)


def _is_time(text: str) -> bool:
    try:
        parse_time(text)
    except ValueError:
        return False
    return True


def parse_offset(text: str) -> int:
    """Seconds since the previous noon (UTC): an integer, or a clock time such as ``02:30``."""
    if text.strip().isdigit():
        return int(text)
    match = _CLOCK.match(text.strip())
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"{text!r} is not seconds since noon or a UTC clock time HH:MM[:SS]")
    seconds = int(match.group(1)) * 3600 + int(match.group(2)) * 60 + int(match.group(3) or 0)
    return (seconds - 12 * 3600) % 86400


def _number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None


class OffsetType(click.ParamType):
    name = "OFFSET"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_offset(value)
        except ValueError as e:
            self.fail(str(e), param, ctx)


def search_filters(kind: str) -> Callable[[Callable], Callable]:
    """The filter options of an ``"event"`` or ``"file"`` search, as one decorator."""
    options = [
        click.option("--camera", "camera_ids", multiple=True, help="Camera id; repeat for several."),
        click.option("--after", type=TIME, help="Only after this time (ISO 8601 or epoch ms)."),
        click.option("--before", type=TIME, help="Only before this time."),
        click.option("--after-offset", type=OffsetType(),
                     help="Only after this time of night: seconds since noon or HH:MM UTC."),
        click.option("--before-offset", type=OffsetType(), help="Only before this time of night."),
        click.option("--lat-min", type=float, help="Camera latitude at least this."),
        click.option("--lat-max", type=float, help="Camera latitude at most this."),
        click.option("--long-min", type=float, help="Camera longitude at least this."),
        click.option("--long-max", type=float, help="Camera longitude at most this."),
        click.option("--meta", "meta", multiple=True, nargs=3, metavar="KEY OP VALUE",
                     help="Metadata constraint, e.g. --meta meteorpi:duration '>' 1.5; OP is = < <= > >= "
                          "(< and > strict, the rest inclusive) or string_equals number_equals "
                          "less greater before after (inclusive)."),
        click.option("--exclude-imported", is_flag=True, help="Leave out rows imported from other nodes."),
    ]
    if kind == "event":
        options.append(click.option("--type", "event_type", help="Event type, e.g. meteorpi:meteor."))
    else:
        options += [
            click.option("--semantic-type", help="Semantic type, e.g. meteorpi:sky_clarity."),
            click.option("--mime-type", help="MIME type, e.g. image/png."),
            click.option("--exclude-events", is_flag=True, help="Only files not linked to an event."),
        ]

    def decorate(command: Callable) -> Callable:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def build_search(kind: str, options: dict[str, Any], limit: int = 100,
                 skip: int = 0) -> model.EventSearch | model.FileRecordSearch:
    """The search described by :func:`search_filters`' options (consumed from ``options``)."""
    fields = {name: options.pop(name) for name in
              ("after", "before", "after_offset", "before_offset", "lat_min", "lat_max",
               "long_min", "long_max")}
    camera_ids = list(options.pop("camera_ids")) or None
    constraints = [parse_meta_constraint(*triple) for triple in options.pop("meta")]
    common = dict(camera_ids=camera_ids, meta_constraints=constraints, limit=limit, skip=skip,
                  exclude_imported=options.pop("exclude_imported"), **fields)
    if kind == "event":
        return model.EventSearch(event_type=options.pop("event_type"), **common)
    return model.FileRecordSearch(semantic_type=options.pop("semantic_type"),
                                  mime_type=options.pop("mime_type"),
                                  exclude_events=options.pop("exclude_events"), **common)


def _paging(command: Callable) -> Callable:
    command = click.option("--skip", default=0, show_default=True, type=click.IntRange(0),
                           help="Results to skip (paging).")(command)
    command = click.option("--limit", default=20, show_default=True, type=click.IntRange(0),
                           help="Most results to show (0: all).")(command)
    return click.option("--url", metavar="URL", help="Search this node over HTTP instead of the "
                                                     "local database.")(command)


def _run(kind: str, url: str | None, search) -> dict[str, Any]:
    key = "events" if kind == "event" else "files"
    if url is None:
        db = settings().open_db()
        return db.search_events(search) if kind == "event" else db.search_files(search)
    from meteorpi_client import MeteorClient

    with MeteorClient(url) as client:
        if search.limit:
            return client.search_events(search) if kind == "event" else client.search_files(search)
        # limit 0 means everything; the server caps pages, so walk through all of them.
        rows = list(client.iter_events(search) if kind == "event" else client.iter_files(search))
        return {"count": search.skip + len(rows), key: rows}


def _meta_text(meta: list[model.Meta], most: int = 4) -> str:
    shown = []
    for item in meta[:most]:
        value = item.value
        if isinstance(value, datetime):
            value = format_time(value)
        elif isinstance(value, float):
            value = f"{value:g}"
        shown.append(f"{item.key.s}={value}")
    return " ".join(shown) + (" …" if len(meta) > most else "")


def _print_page(kind: str, result: dict[str, Any], skip: int) -> None:
    rows = result["events" if kind == "event" else "files"]
    out = console()
    if kind == "event":
        table = Table("time", "camera", "type", "files", "meta", "event id", box=None,
                      header_style="bold")
        for event in rows:
            table.add_row(format_time(event.event_time), event.camera_id, str(event.event_type),
                          str(len(event.file_records)), _meta_text(event.meta), event.event_id.hex)
    else:
        table = Table("time", "camera", "semantic type", "mime type", "bytes", "name", "file id",
                      box=None, header_style="bold")
        for record in rows:
            table.add_row(format_time(record.file_time), record.camera_id, str(record.semantic_type),
                          record.mime_type, str(record.file_size), record.file_name or "-",
                          record.file_id.hex)
    out.print(table)
    shown = f"{skip + 1}-{skip + len(rows)}" if rows else "none"
    out.print(f"{shown} of {result['count']} {'events' if kind == 'event' else 'files'}")


def _search_command(kind: str) -> Callable:
    def command(url: str | None, limit: int, skip: int, **options: Any) -> None:
        search = build_search(kind, options, limit=limit, skip=skip)
        result = _run(kind, url, search)
        if settings().json:
            emit_json(result)
        else:
            _print_page(kind, result, skip)

    return command


@click.group()
def search() -> None:
    """Search events or files (a table, or the API's JSON with --json)."""


@search.command("events", help="Search events, newest first.")
@data_options
@json_option
@_paging
@search_filters("event")
def search_events(**options: Any) -> None:
    _search_command("event")(**options)


@search.command("files", help="Search files, newest first.")
@data_options
@json_option
@_paging
@search_filters("file")
def search_files(**options: Any) -> None:
    _search_command("file")(**options)
