"""Passwords never need to be on the command line: a hidden prompt on a terminal, a line piped on
standard input (without Python's GetPassWarning), ``--password-file``, or, for ``export add``,
METEORPI_EXPORT_PASSWORD. The old ``--password`` still works and warns."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import meteorpi_model as model
from tests.server_helpers import cheap_password_hashing  # noqa: F401
from tests.test_cli import Cli, as_json, cli, data_dir, error_line, node_db  # noqa: F401

SCRIPT = Path(sys.executable).parent / "meteorpi"
ENV = {**os.environ, "MPI_ARGON2_PROFILE": "test"}


def _shell(script: str, data: Path, stdin: str) -> subprocess.CompletedProcess:
    """Run a shell script with no controlling terminal (as under cron or ssh without -t)."""
    return subprocess.run(["bash", "-c", script], input=stdin, capture_output=True, text=True,
                          env={**ENV, "PATH": f"{SCRIPT.parent}:{ENV['PATH']}", "METEORPI_DATA_DIR": str(data)},
                          timeout=120, start_new_session=True)


def test_piped_passwords_are_read_without_a_warning_one_line_per_command(tmp_path: Path) -> None:
    data = tmp_path / "node"
    done = _shell("meteorpi db upgrade >/dev/null && meteorpi user add alice --role import && "
                  "meteorpi user password alice", data, "first-password-1\nsecond-password-2\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Created user alice\nChanged the password of alice\n"
    assert done.stderr == ""  # no GetPassWarning, no prompt text on a pipe
    from meteorpi_fdb import MeteorDatabase

    with MeteorDatabase(str(data / "meteorpi.db"), str(data / "files")) as db:
        assert db.get_user("alice", "second-password-2") == model.User("alice", 4)
    empty = _shell("meteorpi user add bob", data, "")
    assert empty.returncode == 1 and empty.stderr.startswith("Error: no password: standard input is empty")


def test_a_terminal_gets_a_hidden_prompt(tmp_path: Path) -> None:
    data = tmp_path / "node"
    assert _shell("meteorpi db upgrade", data, "").returncode == 0
    primary, secondary = pty.openpty()
    process = subprocess.Popen([str(SCRIPT), "--data-dir", str(data), "user", "add", "carol"],
                               stdin=secondary, stdout=secondary, stderr=secondary, env=ENV,
                               start_new_session=True)
    os.close(secondary)
    seen = b""
    try:
        for answer in (b"hidden-secret-9\n", b"hidden-secret-9\n"):
            seen += _read_until(primary, b": ")
            os.write(primary, answer)
        assert process.wait(timeout=60) == 0
        seen += _read_until(primary, b"Created user carol")
    finally:
        if process.poll() is None:
            process.kill()
        os.close(primary)
    assert b"Password: " in seen and b"Repeat for confirmation: " in seen
    assert b"hidden-secret-9" not in seen  # not echoed


def _read_until(descriptor: int, marker: bytes, timeout: float = 60) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data and time.monotonic() < deadline:
        if select.select([descriptor], [], [], 0.5)[0]:
            try:
                data += os.read(descriptor, 1024)
            except OSError:
                break
    assert marker in data, data
    return data


def test_export_add_reads_the_target_password_from_the_environment_or_a_file(
        cli: Cli, node_db, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("METEORPI_EXPORT_PASSWORD", "from-the-environment")
    added = cli("export", "add", "events", "env", "--target-url", "http://central:8080/import",
                "--user", "importer")
    assert added.stderr == ""
    monkeypatch.delenv("METEORPI_EXPORT_PASSWORD")
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    cli("export", "add", "events", "file", "--target-url", "http://central:8080/import",
        "--user", "importer", "--password-file", str(secret))
    cli("export", "add", "events", "pipe", "--target-url", "http://central:8080/import",
        "--user", "importer", input="from-a-pipe\n")
    old = cli("export", "add", "events", "old", "--target-url", "http://central:8080/import",
              "--user", "importer", "--password", "on-the-command-line")
    assert "visible to other users" in old.stderr and "METEORPI_EXPORT_PASSWORD" in old.stderr
    passwords = {c.name: c.password for c in node_db.get_export_configurations()}
    assert passwords == {"env": "from-the-environment", "file": "from-a-file", "pipe": "from-a-pipe",
                         "old": "on-the-command-line"}
    secret.write_text("\n")
    assert "first line is empty" in error_line(cli(
        "export", "add", "events", "x", "--target-url", "http://central:8080/import", "--user", "u",
        "--password-file", str(secret), expect=1))
    assert "password" not in as_json(cli("--json", "export", "list"))["configs"][0]


def test_user_password_file(cli: Cli, node_db, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("file-password-1\r\nignored\n")
    added = cli("user", "add", "dave", "--password-file", str(secret))
    assert (added.stdout, added.stderr) == ("Created user dave\n", "")
    assert node_db.get_user("dave", "file-password-1") is not None
    cli("user", "password", "dave", "--password-file", "-", input="file-password-2\n")
    assert node_db.get_user("dave", "file-password-2") is not None
