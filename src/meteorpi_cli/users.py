"""``meteorpi user``: the users of the node's HTTP API and their roles."""

from __future__ import annotations

import click
from rich.table import Table

from meteorpi_cli._common import console, data_options, emit_json, json_option, settings, yes_option
from meteorpi_cli._secrets import password_options
from meteorpi_model import User

ROLE_CHOICE = click.Choice(User.ROLES)


def _print_users(users: list[User]) -> None:
    if settings().json:
        emit_json({"users": users})
        return
    table = Table("user", "roles", box=None, header_style="bold")
    for user in users:
        table.add_row(user.user_id, ", ".join(user.get_roles()) or "-")
    console().print(table)


@click.group()
def user() -> None:
    """Manage users and their roles (user, camera_admin, import)."""


@user.command("add")
@data_options
@click.argument("user_id")
@password_options()
@click.option("--role", "roles", multiple=True, type=ROLE_CHOICE,
              help="A role to grant; repeat for several [default: user].")
def add(user_id: str, password: str, roles: tuple[str, ...]) -> None:
    """Create a user (or, if it exists, set its password and roles).

    The password is prompted for (hidden) on a terminal, else read from the first line of
    standard input, or from --password-file.
    """
    db = settings().open_db(create=True)
    action = db.create_or_update_user(user_id, password, list(roles) or ["user"])
    click.echo(f"{'Created' if action == 'create' else 'Updated'} user {user_id}")


@user.command("list")
@data_options
@json_option
def list_users() -> None:
    """List the users and their roles."""
    _print_users(settings().open_db().get_users())


@user.command("roles")
@data_options
@click.argument("user_id")
@click.argument("roles", nargs=-1, type=ROLE_CHOICE)
def roles(user_id: str, roles: tuple[str, ...]) -> None:
    """Replace a user's roles (none given: no roles at all)."""
    db = settings().open_db()
    if db.get_user_by_id(user_id) is None:
        raise click.ClickException(f"no user {user_id!r}")
    db.create_or_update_user(user_id, None, list(roles))
    click.echo(f"User {user_id} now has roles: {', '.join(roles) or '(none)'}")


@user.command("password")
@data_options
@click.argument("user_id")
@password_options(prompt="New password")
def password(user_id: str, password: str) -> None:
    """Change a user's password (prompted for, piped, or from --password-file)."""
    db = settings().open_db()
    if db.get_user_by_id(user_id) is None:
        raise click.ClickException(f"no user {user_id!r}")
    db.create_or_update_user(user_id, password, None)
    click.echo(f"Changed the password of {user_id}")


@user.command("delete")
@data_options
@yes_option
@click.argument("user_id")
def delete(user_id: str, yes: bool) -> None:
    """Delete a user."""
    db = settings().open_db()
    if db.get_user_by_id(user_id) is None:
        raise click.ClickException(f"no user {user_id!r}")
    if not yes:
        click.confirm(f"Delete user {user_id}?", abort=True)
    db.delete_user(user_id)
    click.echo(f"Deleted user {user_id}")


def _add_subgroups() -> None:
    from meteorpi_cli.user_cameras import cameras

    user.add_command(cameras)


_add_subgroups()
