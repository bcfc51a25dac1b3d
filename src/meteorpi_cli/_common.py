"""What every command shares: where the node's data lives, output, times and errors.

Shared options are decorators (``@data_options``, ``@json_option``) that may be given either
before the command name (``meteorpi --data-dir d search events``) or after it
(``meteorpi search events --data-dir d``); both land in the context's :class:`Settings`.
"""

from __future__ import annotations

import json
import os
import re
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import click
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn)

import meteorpi_model as model

DB_FILE_NAME = "meteorpi.db"
FILES_DIR_NAME = "files"
DEFAULT_DATA_DIR = "data"


@dataclass
class Settings:
    """Options shared by every command; filled by the group and each command's decorators."""

    data_dir: Path = Path(DEFAULT_DATA_DIR)
    db_url: str | None = None
    file_store: str | None = None
    json: bool = False

    @property
    def db_path(self) -> str:
        """The database URL, or the embedded SQLite file inside the data directory."""
        return self.db_url or str(self.data_dir / DB_FILE_NAME)

    @property
    def file_store_path(self) -> str:
        """The file store: --file-store (a directory or s3://bucket/prefix), else DATA_DIR/files."""
        return self.file_store or str(self.data_dir / FILES_DIR_NAME)

    def has_database(self) -> bool:
        """Whether there is a database to open (a --db URL always counts)."""
        return self.db_url is not None or (self.data_dir / DB_FILE_NAME).exists()

    def open_db(self, create: bool = False):
        """Open the node's MeteorDatabase, closed when the command ends.

        Without ``create``, a missing embedded database is an error rather than a new,
        empty one.
        """
        from meteorpi_fdb import MeteorDatabase

        if not create and not self.has_database():
            raise click.ClickException(
                f"no database at {self.data_dir / DB_FILE_NAME} (use --data-dir or --db)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        db = MeteorDatabase(self.db_path, str(self.file_store_path))
        return click.get_current_context().with_resource(db)


def settings() -> Settings:
    """The current command's settings."""
    return click.get_current_context().ensure_object(Settings)


def _store(attribute: str, convert: Callable[[Any], Any] = lambda v: v):
    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
        if value is not None and value is not False:
            setattr(ctx.ensure_object(Settings), attribute, convert(value))

    return callback


def data_options(command: Callable) -> Callable:
    """``--data-dir``, ``--db`` and ``--file-store``: where the node keeps its database and files."""
    command = click.option(
        "--file-store", "file_store", metavar="LOCATION", envvar="METEORPI_FILE_STORE", expose_value=False,
        callback=_store("file_store"),
        help="File store: a directory or s3://bucket/prefix (docs/object-storage.md); "
             f"default: DATA_DIR/{FILES_DIR_NAME}.")(command)
    command = click.option(
        "--db", "db_url", metavar="URL", envvar="METEORPI_DB", expose_value=False,
        callback=_store("db_url"),
        help="Database URL (sqlite:///…, postgresql://…); default: DATA_DIR/meteorpi.db.")(command)
    return click.option(
        "--data-dir", type=click.Path(file_okay=False, path_type=Path), envvar="METEORPI_DATA_DIR",
        expose_value=False, callback=_store("data_dir"),
        help=f"Directory holding {DB_FILE_NAME} and {FILES_DIR_NAME}/ [default: ./data].")(command)


def json_option(command: Callable) -> Callable:
    """``--json``: machine-readable output on stdout."""
    return click.option("--json", "json_output", is_flag=True, default=None, expose_value=False,
                        callback=_store("json"), help="Print JSON instead of text.")(command)


def yes_option(command: Callable) -> Callable:
    """``--yes``: skip the confirmation prompt of a destructive command."""
    return click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")(command)


# -- output ---------------------------------------------------------------------------------

#: line width for tables when stdout is not a terminal (a pipe or a file): don't wrap at 80
PIPE_WIDTH = 240


def console() -> Console:
    """Rich console on stdout for tables and summaries."""
    width = None if sys.stdout.isatty() else PIPE_WIDTH
    return Console(highlight=False, soft_wrap=True, width=width)


def err_console() -> Console:
    """Rich console on stderr (progress bars, so stdout stays clean for --json)."""
    return Console(stderr=True, highlight=False)


def progress(transient: bool = True) -> Progress:
    """A progress bar on stderr; silent when stderr is not a terminal (scripts, logs)."""
    stderr = err_console()
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=stderr, transient=transient,
                    disable=not stderr.is_terminal)


def to_jsonable(value: Any) -> Any:
    """Model objects, datetimes and UUIDs in their wire forms, for ``--json`` output."""
    if hasattr(value, "as_dict"):
        return value.as_dict()
    if isinstance(value, datetime):
        return model.utc_datetime_to_milliseconds(value)
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, model.NSString):
        return str(value)
    return value


def emit_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout."""
    click.echo(json.dumps(to_jsonable(value), indent=2, sort_keys=False))


def format_time(value: datetime | None) -> str:
    """The one time format of every CLI message: ISO 8601 in UTC to the millisecond,
    ``2024-08-12T01:23:45.678Z`` (the stored precision), or ``-``."""
    if value is None:
        return "-"
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


_LIBRARY_TIME = re.compile(r"\b(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?(?:\+00:00|Z)")


def normalise_times(text: str) -> str:
    """``text`` with UTC times written by other layers (``datetime.isoformat()``:
    ``2024-08-12T01:00:00+00:00``) in the CLI's format (``2024-08-12T01:00:00.000Z``)."""
    return _LIBRARY_TIME.sub(lambda m: f"{m[1]}T{m[2]}.{(m[3] or '').ljust(3, '0')[:3]}Z", text)


def format_location(latitude: float, longitude: float, digits: int = 3) -> str:
    """``53.237° N, 2.308° W``: the browse page's form of a camera position."""
    return f"{_hemisphere(latitude, 'N', 'S', digits)}, {_hemisphere(longitude, 'E', 'W', digits)}"


def _hemisphere(value: float, positive: str, negative: str, digits: int) -> str:
    return f"{abs(value):.{digits}f}° {negative if value < 0 else positive}"


# -- parsing --------------------------------------------------------------------------------

_EPOCH_MS = re.compile(r"^-?\d+$")


def parse_time(text: str | datetime) -> datetime:
    """ISO 8601 (a time without zone is UTC), integer epoch milliseconds, or ``now``."""
    if isinstance(text, datetime):
        return model.to_utc(text)
    value = text.strip()
    if value.lower() == "now":
        return model.now()
    if _EPOCH_MS.match(value):
        return model.milliseconds_to_utc_datetime(int(value))
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 time or epoch milliseconds") from None
    return model.to_utc(parsed)


class TimeType(click.ParamType):
    """A command-line time: ISO 8601 (naive = UTC), epoch milliseconds, or ``now``."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        try:
            return parse_time(value)
        except ValueError as e:
            self.fail(str(e), param, ctx)


TIME = TimeType()


def read_structured_file(path: str | os.PathLike) -> Any:
    """Parse a JSON or YAML file (YAML is a superset, but JSON errors read better as JSON)."""
    import yaml

    text = Path(path).read_text(encoding="utf-8")
    if str(path).lower().endswith(".json"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: invalid JSON: {e}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: invalid YAML: {str(e).splitlines()[0]}") from None
