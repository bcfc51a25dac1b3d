"""The ``meteorpi`` command: run, fill, inspect and administer a MeteorPi node.

Every command works on a node's data directory (``--data-dir``, default ``./data``, holding
``meteorpi.db`` and ``files/``) or a database URL (``--db``). Commands are thin: open the
database, call one library method, print the result (a table, or JSON with ``--json``).
Known errors become one-line messages; exit codes are 0 (ok), 1 (errors or problems found)
and 2 (usage). See docs/cli.md.
"""

from __future__ import annotations

import logging
import time

import click
from sqlalchemy.exc import SQLAlchemyError

from meteorpi_cli._common import (TIME, Settings, data_options, json_option, normalise_times,
                                  parse_time, settings, yes_option)
from meteorpi_client import MeteorClientError
from meteorpi_fdb.extras import MissingExtra

__all__ = ["TIME", "Settings", "data_options", "json_option", "main", "parse_time", "settings",
           "yes_option"]


class MeteorGroup(click.Group):
    """A group that turns expected failures into one-line errors (exit code 1)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (ValueError, MeteorClientError, MissingExtra) as e:
            raise click.ClickException(normalise_times(str(e))) from e
        except OSError as e:
            raise click.ClickException(_os_error(e)) from e
        except SQLAlchemyError as e:
            raise click.ClickException(f"database error: {_first_line(e)}") from e


def _os_error(error: OSError) -> str:
    if error.filename:
        return f"{error.strerror or error}: {error.filename}"
    return str(error)


def _first_line(error: SQLAlchemyError) -> str:
    original = getattr(error, "orig", None)
    text = str(original if original is not None else error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@click.group(cls=MeteorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@data_options
@json_option
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug).")
@click.version_option(package_name="meteorpi", prog_name="meteorpi")
@click.pass_context
def main(ctx: click.Context, verbose: int) -> None:
    """Run, fill, inspect and administer a MeteorPi node."""
    ctx.ensure_object(Settings)
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler()
    handler.setFormatter(_utc_formatter())
    logging.basicConfig(level=level, handlers=[handler])
    logging.getLogger("meteorpi").setLevel(level)


class _UtcFormatter(logging.Formatter):
    """Also writes times inside messages (from other layers) in the CLI's format."""

    def format(self, record: logging.LogRecord) -> str:
        return normalise_times(super().format(record))


def _utc_formatter() -> logging.Formatter:
    """Log lines stamped like every other CLI time: ISO 8601, UTC, ``Z``."""
    formatter = _UtcFormatter("%(asctime)s.%(msecs)03dZ %(name)s %(levelname)s %(message)s",
                              "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    return formatter


def _register_commands() -> None:
    from meteorpi_cli import (cameras, coincidences, db, demo, export, fsck, hwm, prune, register,
                              search, serve, store, users)

    for command in (serve.serve, demo.demo, users.user, cameras.camera, hwm.hwm,
                    register.register, search.search, export.export, db.db, fsck.fsck,
                    prune.prune, coincidences.coincidences, store.store):
        main.add_command(command)


_register_commands()
