"""``meteorpi export``: export configurations (replication to other nodes) and export runs."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.table import Table

import meteorpi_model as model
from meteorpi_cli._common import (console, data_options, emit_json, format_time, json_option,
                                  settings, yes_option)
from meteorpi_cli._secrets import password_options
from meteorpi_cli.search import build_search, search_filters

#: environment variable holding the target password for ``export add``
PASSWORD_ENV = "METEORPI_EXPORT_PASSWORD"


def find_config(db, key: str) -> model.ExportConfiguration:
    """A configuration by id, unique id prefix (4+ hex digits) or exact name."""
    configs = db.get_export_configurations()
    matches = [c for c in configs if c.config_id.hex == key.lower().replace("-", "")]
    if not matches and len(key) >= 4:
        matches = [c for c in configs if c.config_id.hex.startswith(key.lower())]
    if not matches:
        matches = [c for c in configs if c.name == key]
    if not matches:
        raise click.ClickException(f"no export configuration {key!r}")
    if len(matches) > 1:
        raise click.ClickException(f"{key!r} matches {len(matches)} export configurations; "
                                   "give more of the id")
    return matches[0]


def _search_text(search: model.EventSearch | model.FileRecordSearch) -> str:
    """The search's wire fields, its times written as every CLI time is."""
    fields = {k: v for k, v in search.as_dict().items() if k not in ("limit", "skip")}
    for key in ("after", "before"):
        if key in fields:
            fields[key] = _time_text(fields[key])
    for constraint in fields.get("meta", []):
        if constraint["type"] in ("before", "after"):
            constraint["value"] = _time_text(constraint["value"])
    return json.dumps(fields, separators=(",", ":")) if fields else "everything"


def _time_text(milliseconds: int) -> str:
    return format_time(model.milliseconds_to_utc_datetime(milliseconds))


@click.group()
def export() -> None:
    """Export configurations: push matching events or files to another node."""


@export.group("add")
def add() -> None:
    """Add an export configuration for events or for files."""


def _add_command(kind: str):
    @data_options
    @json_option
    @click.argument("name")
    @click.option("--target-url", required=True, help="The target's import URL, e.g. http://central:8080/import.")
    @click.option("--user", "user_id", required=True, help="User on the target (needs the import role).")
    @password_options(prompt="Target password", confirm=False, env_var=PASSWORD_ENV)
    @click.option("--description", default="", help="Free text.")
    @click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False),
                  help="CA certificates to trust for an https target.")
    @click.option("--enable", is_flag=True, help="Enable it at once (default: disabled).")
    @search_filters(kind)
    def command(name: str, target_url: str, user_id: str, password: str, description: str,
                ca_bundle: str | None, enable: bool, **filters: Any) -> None:
        config = settings()
        search = build_search(kind, filters, limit=0)
        stored = config.open_db(create=True).create_or_update_export_configuration(
            model.ExportConfiguration(target_url, user_id, password, search, name, description,
                                      enabled=enable, ca_bundle=ca_bundle))
        if config.json:
            emit_json({"config": stored.as_dict(include_password=False)})
        else:
            click.echo(f"Added {kind} export {stored.name} ({stored.config_id.hex}), "
                       f"{'enabled' if stored.enabled else 'disabled'}")

    command.__doc__ = (f"Add a configuration exporting {kind}s that match the filters.\n\n"
                       f"The target password comes from --password-file, {PASSWORD_ENV}, a "
                       "hidden prompt on a terminal, or else the first line of standard input.")
    return command


add.command("events")(_add_command("event"))
add.command("files")(_add_command("file"))


@export.command("list")
@data_options
@json_option
def list_configs() -> None:
    """List the export configurations."""
    config = settings()
    configs = config.open_db().get_export_configurations()
    if config.json:
        emit_json({"configs": [c.as_dict(include_password=False) for c in configs]})
        return
    table = Table("id", "name", "type", "enabled", "target", "user", "search", box=None,
                  header_style="bold")
    for c in configs:
        table.add_row(c.config_id.hex, c.name, c.type, "yes" if c.enabled else "no", c.target_url,
                      c.user_id, _search_text(c.search))
    console().print(table)


def _set_enabled(key: str, enabled: bool) -> None:
    db = settings().open_db()
    found = find_config(db, key)
    db.set_export_configuration_enabled(found.config_id, enabled)
    click.echo(f"{'Enabled' if enabled else 'Disabled'} export {found.name} ({found.config_id.hex})")


@export.command("enable")
@data_options
@click.argument("config")
def enable(config: str) -> None:
    """Enable CONFIG (an id, id prefix or name)."""
    _set_enabled(config, True)


@export.command("disable")
@data_options
@click.argument("config")
def disable(config: str) -> None:
    """Disable CONFIG (an id, id prefix or name)."""
    _set_enabled(config, False)


@export.command("delete")
@data_options
@yes_option
@click.argument("config")
def delete(config: str, yes: bool) -> None:
    """Delete CONFIG and its export queue."""
    db = settings().open_db()
    found = find_config(db, config)
    if not yes:
        click.confirm(f"Delete export {found.name} ({found.config_id.hex})?", abort=True)
    db.delete_export_configuration(found.config_id)
    click.echo(f"Deleted export {found.name}")


@export.command("status")
@data_options
@json_option
def status() -> None:
    """Per configuration: pending and completed tasks, failures, next export time."""
    config = settings()
    rows = config.open_db().export_status()
    if config.json:
        emit_json({"exports": rows})
        return
    table = Table("id", "name", "type", "enabled", "pending", "completed", "failures", "next",
                  box=None, header_style="bold")
    for row in rows:
        table.add_row(row["config_id"].hex, row["name"], row["type"], "yes" if row["enabled"] else "no",
                      str(row["pending"]), str(row["completed"]), str(row["failure_count"]),
                      format_time(row["next_export_time"]))
    console().print(table)


def _add_run_command() -> None:
    from meteorpi_cli.export_run import run

    export.add_command(run)


_add_run_command()


def _register_v2() -> None:
    from meteorpi_cli import export_v2

    export_v2.register(export, find_config)


_register_v2()
