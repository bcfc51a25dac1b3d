"""``meteorpi camera``: cameras and their status history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click
from rich.table import Table

import meteorpi_model as model
from meteorpi_cli._common import (TIME, console, data_options, emit_json, format_location,
                                  format_time, json_option, read_structured_file, settings,
                                  yes_option)
from meteorpi_cli.hwm import confirm_rollback

#: --flag -> (section of the status dict or None for top level, key in the wire form)
STATUS_FLAGS = {
    "lat": ("location", "lat"), "long": ("location", "long"), "gps": ("location", "gps"),
    "location_error": ("location", "error"),
    "alt": ("orientation", "alt"), "az": ("orientation", "az"), "rot": ("orientation", "rot"),
    "width": ("orientation", "width"), "orientation_error": ("orientation", "error"),
    "lens": (None, "lens"), "sensor": (None, "sensor"), "inst_name": (None, "inst_name"),
    "inst_url": (None, "inst_url"), "software_version": (None, "software_version"),
}


def new_status(current: model.CameraStatus | None, camera_id: str, changes: dict[str, Any],
               flags: dict[str, Any]) -> model.CameraStatus:
    """The current status (if any) with ``changes`` (wire-form fields) and ``flags`` applied."""
    if not isinstance(changes, dict):
        raise ValueError("the status file must hold a mapping of status fields")
    flag_changes: dict[str, Any] = {}
    for flag, value in flags.items():
        if value is None:
            continue
        section, key = STATUS_FLAGS[flag]
        if section is None:
            flag_changes[key] = value
        else:
            flag_changes.setdefault(section, {})[key] = value
    return model.status_with_changes(current, camera_id, changes, flag_changes)


def status_rows(status: model.CameraStatus) -> list[tuple[str, str]]:
    """(label, value) lines describing a status block."""
    location, orientation = status.location, status.orientation
    return [
        ("camera", status.camera_id),
        ("status id", status.status_id.hex if status.status_id else "-"),
        ("valid", f"{format_time(status.valid_from)} to "
                  f"{format_time(status.valid_to) if status.valid_to else 'now'}"),
        ("installation", f"{status.inst_name}  {status.inst_url}"),
        ("location", f"{format_location(location.latitude, location.longitude, digits=5)} "
                     f"(±{location.error:g} m{', GPS' if location.gps else ''})"),
        ("orientation", f"alt {orientation.altitude:g}° az {orientation.azimuth:g}° "
                        f"rot {orientation.rotation:g}° width {orientation.width_of_field:g}° "
                        f"(±{orientation.error:g}°)"),
        ("lens", status.lens), ("sensor", status.sensor),
        ("software", str(status.software_version)),
        ("visible sky", f"{len(status.regions)} polygons, "
                        f"{sum(len(p) for p in status.regions)} points"),
    ]


def print_status(status: model.CameraStatus) -> None:
    if settings().json:
        emit_json({"status": status})
        return
    table = Table(show_header=False, box=None)
    for label, value in status_rows(status):
        table.add_row(f"[bold]{label}[/bold]", value)
    console().print(table)


@click.group()
def camera() -> None:
    """Cameras, their current status and status history."""


@camera.command("list")
@data_options
@json_option
def list_cameras() -> None:
    """List the cameras with their current installation and high water mark."""
    config = settings()
    db = config.open_db()
    rows = [{"camera_id": camera_id, "status": db.get_camera_status(camera_id=camera_id),
             "high_water_mark": db.get_high_water_mark(camera_id)} for camera_id in db.get_cameras()]
    if config.json:
        emit_json({"cameras": rows})
        return
    table = Table("camera", "installation", "location", "status since", "high water mark",
                  box=None, header_style="bold")
    for row in rows:
        status = row["status"]
        table.add_row(row["camera_id"], status.inst_name if status else "-",
                      format_location(status.location.latitude, status.location.longitude)
                      if status else "-",
                      format_time(status.valid_from if status else None),
                      format_time(row["high_water_mark"]))
    console().print(table)


@camera.command("status")
@data_options
@json_option
@click.argument("camera_id")
@click.option("--at", "at", type=TIME, default=None, help="Status in force at this time [default: now].")
def status(camera_id: str, at: datetime | None) -> None:
    """Show the status of CAMERA_ID now or at a given time."""
    found = settings().open_db().get_camera_status(at, camera_id)
    if found is None:
        raise click.ClickException(f"camera {camera_id} has no status"
                                   + (f" at {format_time(at)}" if at else ""))
    print_status(found)


@camera.command("history")
@data_options
@json_option
@click.argument("camera_id")
def history(camera_id: str) -> None:
    """List every status block of CAMERA_ID, oldest first."""
    config = settings()
    blocks = config.open_db().get_camera_status_history(camera_id)
    if not blocks:
        raise click.ClickException(f"camera {camera_id} has no status")
    if config.json:
        emit_json({"statuses": blocks})
        return
    table = Table("valid from", "valid to", "installation", "lens", "alt/az", "regions",
                  "software", "status id", box=None, header_style="bold")
    for block in blocks:
        table.add_row(format_time(block.valid_from), format_time(block.valid_to), block.inst_name,
                      block.lens, f"{block.orientation.altitude:g}/{block.orientation.azimuth:g}",
                      str(len(block.regions)), str(block.software_version), block.status_id.hex)
    console().print(table)


@camera.command("set")
@data_options
@json_option
@yes_option
@click.argument("camera_id")
@click.option("--from-file", "from_file", type=click.Path(exists=True, dir_okay=False),
              help="JSON or YAML file of status fields (wire form, e.g. location: {lat: 52.2}).")
@click.option("--at", "at", type=TIME, default=None, help="Valid from this time [default: now].")
@click.option("--lat", type=float, help="Latitude, degrees north.")
@click.option("--long", "long", type=float, help="Longitude, degrees east.")
@click.option("--gps/--no-gps", default=None, help="Whether the location came from GPS.")
@click.option("--location-error", type=float, help="Location error, metres.")
@click.option("--alt", type=float, help="Altitude of the centre of view, degrees.")
@click.option("--az", type=float, help="Azimuth of the centre of view, degrees.")
@click.option("--rot", type=float, help="Rotation of the frame, degrees.")
@click.option("--width", type=float, help="Width of field, degrees.")
@click.option("--orientation-error", type=float, help="Orientation error, degrees.")
@click.option("--lens", help="Lens description.")
@click.option("--sensor", help="Sensor description.")
@click.option("--inst-name", help="Installation name.")
@click.option("--inst-url", help="Installation URL.")
@click.option("--software-version", type=int, help="Software version number.")
def set_status(camera_id: str, from_file: str | None, at: datetime | None, yes: bool,
               **flags: Any) -> None:
    """Start a new status block for CAMERA_ID: the current one with the given changes.

    A camera without a status needs every field (lens, sensor, inst-name, inst-url, lat, long,
    alt, az). A time before the camera's high water mark deletes its later data (after a
    confirmation).
    """
    db = settings().open_db(create=True)
    when = at or model.now()
    changes = read_structured_file(from_file) if from_file else {}
    status_block = new_status(db.get_camera_status(when, camera_id), camera_id, changes or {}, flags)
    confirm_rollback(db, camera_id, when, yes)
    print_status(db.update_camera_status(status_block, time=when, camera_id=camera_id))
