"""``meteorpi user cameras``: which cameras each import user may write for (issue 11).

The import API accepts data only for cameras the importing user holds. ``grant`` and
``revoke`` change one user's cameras; ``bind-sent`` moves a network that predates camera
grants over, granting every user the cameras it has already sent events or files for.
"""

from __future__ import annotations

import click
from rich.table import Table

from meteorpi_cli._common import console, data_options, emit_json, json_option, settings


def _known_user(db, user_id: str) -> None:
    if db.get_user_by_id(user_id) is None:
        raise click.ClickException(f"no user {user_id!r}")


@click.group("cameras")
def cameras() -> None:
    """Bind users to the camera ids they may send data for (import API)."""


@cameras.command("list")
@data_options
@json_option
@click.argument("user_id", required=False)
def list_cameras(user_id: str | None) -> None:
    """List a user's cameras, or every user's when no USER_ID is given."""
    db = settings().open_db()
    if user_id is not None:
        _known_user(db, user_id)
    users = [user_id] if user_id is not None else [user.user_id for user in db.get_users()]
    held = {user: db.cameras_for_user(user) for user in users}
    if settings().json:
        emit_json({"cameras": held})
        return
    table = Table("user", "cameras", box=None, header_style="bold")
    for user, camera_ids in held.items():
        table.add_row(user, ", ".join(camera_ids) or "-")
    console().print(table)


@cameras.command("grant")
@data_options
@click.argument("user_id")
@click.argument("camera_ids", nargs=-1, required=True)
def grant(user_id: str, camera_ids: tuple[str, ...]) -> None:
    """Let USER_ID send data for each CAMERA_ID (which may be new to this server)."""
    db = settings().open_db()
    _known_user(db, user_id)
    for camera_id in camera_ids:
        new = db.grant_camera(user_id, camera_id)
        click.echo(f"{user_id} {'may now write' if new else 'already could write'} for camera {camera_id}")


@cameras.command("revoke")
@data_options
@click.argument("user_id")
@click.argument("camera_ids", nargs=-1, required=True)
def revoke(user_id: str, camera_ids: tuple[str, ...]) -> None:
    """Stop USER_ID sending data for each CAMERA_ID (other cameras and users are untouched)."""
    db = settings().open_db()
    _known_user(db, user_id)
    for camera_id in camera_ids:
        held = db.revoke_camera(user_id, camera_id)
        click.echo(f"{user_id} may no longer write for camera {camera_id}" if held
                   else f"{user_id} did not hold camera {camera_id}")


@cameras.command("bind-sent")
@data_options
@json_option
@click.option("--dry-run", is_flag=True, help="Only list the grants that would be made.")
def bind_sent(dry_run: bool) -> None:
    """Grant every user the cameras it has already sent events or files for (run once after
    upgrading a network that predates camera grants; review the result with ``list``)."""
    db = settings().open_db()
    if dry_run:
        pairs = [pair for pair in db.cameras_sent_by_users()
                 if pair[1] not in db.cameras_for_user(pair[0])]
    else:
        pairs = db.bind_users_to_sent_cameras()
    if settings().json:
        emit_json({"granted" if not dry_run else "would_grant": [
            {"user_id": user_id, "camera_id": camera_id} for user_id, camera_id in pairs]})
        return
    verb = "Would grant" if dry_run else "Granted"
    for user_id, camera_id in pairs:
        click.echo(f"{verb} camera {camera_id} to {user_id}")
    click.echo(f"{verb} {len(pairs)} camera(s)")
