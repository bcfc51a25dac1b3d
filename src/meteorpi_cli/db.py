"""``meteorpi db``: schema upgrades and what a node holds."""

from __future__ import annotations

import os
from typing import Any

import click
from rich.table import Table

import meteorpi_model as model
from meteorpi_cli._common import console, data_options, emit_json, json_option, settings
from meteorpi_cli.prune import housekeeping_policy


def _count(db, search) -> int:
    search.limit = 1
    found = db.search_events(search) if isinstance(search, model.EventSearch) else db.search_files(search)
    return found["count"]


def _database_bytes(db) -> int | None:
    """Size of an embedded SQLite database (with its WAL), None for a database server."""
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    return sum(os.path.getsize(p) for p in (url.database, url.database + "-wal") if os.path.exists(p))


def permission_warnings(db) -> list[str]:
    """Secrets at rest that other users can read: the SQLite files and the file store."""
    from meteorpi_fdb.permissions import permission_problems, sqlite_files

    url = db.engine.url
    files = sqlite_files(url.database) if url.get_backend_name() == "sqlite" and url.database else []
    return permission_problems(files, [db.file_store.root] if db.file_store.root else [])


def node_info(db) -> dict[str, Any]:
    """Counts and sizes of everything the node holds."""
    from meteorpi_fdb import migrate

    cameras = db.get_cameras()
    exports = db.export_status()
    per_camera = {camera: {
        "status_blocks": len(db.get_camera_status_history(camera)),
        "events": _count(db, model.EventSearch(camera_ids=[camera])),
        "files": _count(db, model.FileRecordSearch(camera_ids=[camera])),
    } for camera in cameras}
    events = _count(db, model.EventSearch())
    files = _count(db, model.FileRecordSearch())
    return {
        "backend": db.backend,
        "database": db.engine.url.render_as_string(hide_password=True),
        "schema_revision": migrate.current_revision(db.engine),
        "file_store": db.file_store_path,
        "cameras": len(cameras),
        "status_blocks": sum(c["status_blocks"] for c in per_camera.values()),
        "events": events,
        "files": files,
        "imported_events": events - _count(db, model.EventSearch(exclude_imported=True)),
        "imported_files": files - _count(db, model.FileRecordSearch(exclude_imported=True)),
        "users": len(db.get_users()),
        "export_configs": len(exports),
        "pending_exports": sum(e["pending"] for e in exports),
        "content_bytes": db.file_store.used_bytes(),
        "database_bytes": _database_bytes(db),
        "per_camera": per_camera,
        "permission_warnings": permission_warnings(db),
        "storage": db.storage_report(housekeeping_policy()),
    }


@click.group("db")
def db() -> None:
    """The node's database: schema upgrades and statistics."""


@db.command("upgrade")
@data_options
def upgrade() -> None:
    """Bring the database schema to the newest version (a new database is created)."""
    from meteorpi_fdb import migrate
    from meteorpi_fdb.engine import create_engine_for

    config = settings()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_engine_for(config.db_path)
    try:
        before = migrate.current_revision(engine)
        migrate.upgrade(engine)
        after = migrate.current_revision(engine)
    finally:
        engine.dispose()
    if before == after:
        click.echo(f"Schema already at revision {after}")
    else:
        click.echo(f"Schema upgraded from {before or 'empty'} to revision {after}")


@db.command("info")
@data_options
@json_option
def info() -> None:
    """Show counts (cameras, events, files, users, exports), sizes, and disk usage by semantic
    type and by night (the last 31) with the time until the disk is full."""
    config = settings()
    details = node_info(config.open_db())
    if config.json:
        emit_json(details)
        return
    out = console()
    table = Table(show_header=False, box=None)
    for key, value in details.items():
        if key in ("per_camera", "permission_warnings", "storage"):
            continue
        if key.endswith("_bytes") and value is not None:
            value = f"{value:,} bytes"
        table.add_row(f"[bold]{key.replace('_', ' ')}[/bold]", "-" if value is None else str(value))
    out.print(table)
    if details["per_camera"]:
        cameras = Table("camera", "status blocks", "events", "files", box=None, header_style="bold")
        for camera, counts in details["per_camera"].items():
            cameras.add_row(camera, str(counts["status_blocks"]), str(counts["events"]), str(counts["files"]))
        out.print(cameras)
    _print_storage(out, details["storage"])
    for warning in details["permission_warnings"]:
        click.secho(f"warning: {warning}", fg="yellow", err=True)


def _print_storage(out, storage: dict[str, Any]) -> None:
    """Disk usage by semantic type and by night, and how long until the disk is full."""
    disk = storage["disk"]
    out.print(f"[bold]storage[/bold] {disk['used']:,} of {disk['capacity']:,} bytes used, "
              f"{disk['free']:,} free ({disk['source']} {disk['path']})")
    days = storage["seconds_until_full"]
    rate = f"{storage['bytes_per_day']:,} bytes a day over the last week"
    out.print(f"  full in {days / 86400:.1f} days at {rate}" if days is not None else f"  {rate}")
    for title, key in (("semantic type", "by_semantic_type"), ("night", "by_night")):
        if storage[key]:
            table = Table(title, "files", "bytes", "pruned files", box=None, header_style="bold")
            for name, entry in storage[key].items():
                table.add_row(name, str(entry["files"]), f"{entry['bytes']:,}", str(entry["pruned_files"]))
            out.print(table)
