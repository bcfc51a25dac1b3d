"""``meteorpi hwm``: a camera's high water mark ("everything up to here is final")."""

from __future__ import annotations

from datetime import datetime

import click

from meteorpi_cli._common import (TIME, data_options, emit_json, format_time, json_option,
                                  settings, yes_option)


def confirm_rollback(db, camera_id: str, time: datetime, yes: bool) -> None:
    """Ask before a change that moves ``camera_id``'s mark back to ``time`` deletes data.

    Counts what would go (events, files and status blocks later than ``time``) and asks for
    confirmation unless ``yes``; nothing is asked when nothing would be deleted.
    """
    preview = db.rollback_preview(camera_id, time)
    if preview is None:
        return
    message = (f"Rolling camera {camera_id} back from {format_time(preview['mark'])} to "
               f"{format_time(time)} deletes {preview['events']} events, {preview['files']} files "
               f"and {preview['statuses']} status blocks. Continue?")
    if not yes:
        click.confirm(message, abort=True, err=True)


@click.group()
def hwm() -> None:
    """Show or move a camera's high water mark."""


@hwm.command("get")
@data_options
@json_option
@click.argument("camera_id", required=False)
def get(camera_id: str | None) -> None:
    """Show the high water mark of CAMERA_ID (default: every camera)."""
    config = settings()
    db = config.open_db()
    cameras = [camera_id] if camera_id else db.get_cameras()
    marks = {camera: db.get_high_water_mark(camera) for camera in cameras}
    if config.json:
        emit_json({"high_water_marks": marks})
        return
    for camera, mark in marks.items():
        click.echo(f"{camera}  {format_time(mark)}")


@hwm.command("set")
@data_options
@yes_option
@click.argument("camera_id")
@click.argument("time", type=TIME)
@click.option("--no-rollback", is_flag=True, help="Refuse to move the mark backwards.")
def set_mark(camera_id: str, time: datetime, no_rollback: bool, yes: bool) -> None:
    """Move CAMERA_ID's high water mark to TIME.

    Moving it backwards deletes that camera's events, files and status blocks later than TIME
    (after a confirmation, or at once with --yes).
    """
    db = settings().open_db()
    mark = db.get_high_water_mark(camera_id)
    if no_rollback and mark is not None and time < mark:
        raise click.ClickException(f"{format_time(time)} is before the mark {format_time(mark)} "
                                   "and --no-rollback was given")
    confirm_rollback(db, camera_id, time, yes)
    db.set_high_water_mark(time, camera_id, allow_rollback=not no_rollback)
    click.echo(f"High water mark of {camera_id}: {format_time(db.get_high_water_mark(camera_id))}")
