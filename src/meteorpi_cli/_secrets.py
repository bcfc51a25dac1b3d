"""Passwords for CLI commands without putting them on the command line.

A command taking a password (``user add``, ``user password``, ``export add``) gets it, in this
order, from ``--password`` (kept for old scripts, with a warning: the command line is visible to
every user of the computer through ``ps`` and lands in shell history), ``--password-file``, an
environment variable where the command names one, a hidden prompt on a terminal, or else the
first line of standard input (a pipe: no prompt, no ``GetPassWarning``).
"""

from __future__ import annotations

import functools
import io
import os
import sys
from pathlib import Path
from typing import Any, Callable

import click

COMMAND_LINE_WARNING = ("Warning: a password on the command line is visible to other users of "
                        "this computer (ps, shell history); use {alternatives} instead.")


def password_options(prompt: str = "Password", confirm: bool = True,
                     env_var: str | None = None) -> Callable[[Callable], Callable]:
    """``--password`` and ``--password-file``; the command receives ``password=`` resolved as
    the module docstring says (``env_var``: the environment variable to read, if any)."""
    alternatives = ("the prompt, a pipe, --password-file or " + env_var if env_var
                    else "the prompt, a pipe or --password-file")

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def wrapper(*args: Any, password: str | None, password_file: str | None, **kwargs: Any):
            if password is not None:
                click.echo(COMMAND_LINE_WARNING.format(alternatives=alternatives), err=True)
            else:
                password = obtain_password(password_file, env_var, prompt, confirm)
            return command(*args, password=password, **kwargs)

        wrapper = click.option(
            "--password-file", type=click.Path(dir_okay=False, allow_dash=True),
            help="Read the password from the first line of this file ('-': standard input).")(wrapper)
        source = f", {env_var}" if env_var else ""
        return click.option(
            "--password", default=None,
            help=f"The password (visible to other users: prefer the prompt, a pipe{source} or "
                 "--password-file).")(wrapper)

    return decorate


def obtain_password(password_file: str | None, env_var: str | None, prompt: str,
                    confirm: bool) -> str:
    """The password from a file, the environment, a hidden prompt or a piped line."""
    if password_file is not None:
        text = (sys.stdin.read() if password_file == "-"
                else Path(password_file).read_text(encoding="utf-8"))
        return _first_line(text, f"--password-file {password_file}")
    if env_var and os.environ.get(env_var):
        return os.environ[env_var]
    stdin = sys.stdin
    if stdin.isatty():
        return click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True)
    line = read_piped_line()
    if line is None:
        raise click.ClickException(f"no password: standard input is empty (pipe one line, or use "
                                   f"--password-file{' or ' + env_var if env_var else ''})")
    return line


def read_piped_line() -> str | None:
    """One line of standard input without its line break, None at end of input.

    Read a byte at a time from the file descriptor (as the shell's ``read`` does), so that the
    rest of a pipe is left for the next command of a script.
    """
    stream = sys.stdin
    try:
        descriptor = stream.fileno()
    except (OSError, ValueError, io.UnsupportedOperation):
        line = stream.readline()
        return line.rstrip("\r\n") if line else None
    data = bytearray()
    while (byte := os.read(descriptor, 1)) and byte != b"\n":
        data += byte
    if not data and not byte:
        return None
    return data.decode(stream.encoding or "utf-8").rstrip("\r")


def _first_line(text: str, where: str) -> str:
    line = text.split("\n", 1)[0].rstrip("\r")
    if not line:
        raise click.ClickException(f"{where}: the first line is empty")
    return line
