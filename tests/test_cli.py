"""The ``meteorpi`` command through click's CliRunner: parsing, users, cameras, high water marks,
the database commands and error handling. The node's database is this test's ``db_url`` (so
every test runs on every backend); its files live in a temporary data directory.

The ``cli`` fixture defined here is imported by the other ``test_cli_*`` modules.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import click
import pytest
from click.testing import CliRunner, Result
from sqlalchemy.engine import make_url

import meteorpi_model as model
from meteorpi_cli import main, parse_time
from meteorpi_cli.cameras import new_status
from meteorpi_cli.search import parse_meta_constraint, parse_offset
from tests.helpers import make_event, make_file, make_status, utc
from tests.server_helpers import cheap_password_hashing  # noqa: F401

CAMERA = "b827eb000001"
FULL_STATUS = ["--lat", "52.2", "--long", "0.1", "--alt", "60", "--az", "180", "--lens", "Fujinon 2.8mm",
               "--sensor", "Watec 902H2", "--inst-name", "Home", "--inst-url", "https://example.org/home"]

Cli = Callable[..., Result]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "node"


def node_options(db_url: str, data_dir: Path, node_store: str) -> list[str]:
    """``--data-dir``, ``--db`` and, for a bucket, ``--file-store``: the node of ``cli``."""
    options = ["--data-dir", str(data_dir), "--db", db_url]
    return options + (["--file-store", node_store] if node_store.startswith("s3://") else [])


def node_environment(**settings: str) -> dict[str, str]:
    """The environment of a ``meteorpi`` process: this one's without its ``MPI_*`` settings,
    except where the bucket store is (``MPI_S3_*``), plus ``settings``."""
    return {**{key: value for key, value in os.environ.items()
               if not key.startswith("MPI_") or key.startswith("MPI_S3_")}, **settings}


@pytest.fixture
def cli(db_url: str, data_dir: Path, node_store: str) -> Cli:
    """Run ``meteorpi --data-dir … --db … ARGS``; check the exit code (``expect``)."""

    def run(*args: str, expect: int = 0, input: str | None = None) -> Result:
        result = CliRunner().invoke(main, [*node_options(db_url, data_dir, node_store), *args],
                                    input=input, catch_exceptions=False)
        assert result.exit_code == expect, result.output
        assert "Traceback" not in result.output
        return result

    return run


@pytest.fixture
def node_db(make_db, node_store: str):
    """A MeteorDatabase on the same database and file store as the ``cli`` commands."""
    return make_db(file_store=node_store)


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


def error_line(result: Result) -> str:
    """The one-line error click prints for a ClickException."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


# -- parsing (no database) ---------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("2024-08-12T01:02:03", datetime(2024, 8, 12, 1, 2, 3, tzinfo=timezone.utc)),
    ("2024-08-12T01:02:03.456Z", datetime(2024, 8, 12, 1, 2, 3, 456000, tzinfo=timezone.utc)),
    ("2024-08-12T03:02:03+02:00", datetime(2024, 8, 12, 1, 2, 3, tzinfo=timezone.utc)),
    ("2024-08-12", datetime(2024, 8, 12, tzinfo=timezone.utc)),
    ("1723424523456", datetime(2024, 8, 12, 1, 2, 3, 456000, tzinfo=timezone.utc)),
    ("0", datetime(1970, 1, 1, tzinfo=timezone.utc)),
])
def test_times_are_iso_8601_utc_or_epoch_milliseconds(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected


def test_now_and_bad_times() -> None:
    assert abs((parse_time("now") - model.now()).total_seconds()) < 5
    for bad in ("yesterday", "2024-13-01", "12:00", ""):
        with pytest.raises(ValueError, match="ISO 8601"):
            parse_time(bad)


@pytest.mark.parametrize("op, value, expected", [
    (">=", "1.5", model.MetaConstraint("greater", "meteorpi:x", 1.5)),
    ("greater", "2", model.MetaConstraint("greater", "meteorpi:x", 2)),
    ("<=", "-1", model.MetaConstraint("less", "meteorpi:x", -1)),
    ("=", "3", model.MetaConstraint("number_equals", "meteorpi:x", 3)),
    ("=", "PER", model.MetaConstraint("string_equals", "meteorpi:x", "PER")),
    ("string_equals", "42", model.MetaConstraint("string_equals", "meteorpi:x", "42")),
    ("after", "2024-08-12", model.MetaConstraint("after", "meteorpi:x", utc(2024, 8, 12))),
    ("before", "1723420800000", model.MetaConstraint("before", "meteorpi:x", utc(2024, 8, 12))),
])
def test_meta_options(op: str, value: str, expected: model.MetaConstraint) -> None:
    assert parse_meta_constraint("meteorpi:x", op, value) == expected


@pytest.mark.parametrize("op, value, message", [
    ("~", "1", "unknown --meta operator"), (">=", "bright", "not a number"),
    ("before", "soon", "ISO 8601"),
])
def test_bad_meta_options(op: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_meta_constraint("meteorpi:x", op, value)


def test_offsets_are_seconds_since_noon_or_clock_times() -> None:
    assert parse_offset("7200") == 7200
    assert parse_offset("02:00") == 14 * 3600
    assert parse_offset("13:30") == 5400
    assert parse_offset("12:00:01") == 1
    for bad in ("25:00", "2pm", "-5"):
        with pytest.raises(ValueError):
            parse_offset(bad)


def test_new_status_merges_changes_over_the_current_one() -> None:
    current = model.CameraStatus("lens", "sensor", "https://x", "name", model.Orientation(60, 180),
                                 model.Location(52.0, 0.1, gps=True), CAMERA, status_id="1" * 32,
                                 valid_from=utc(2024, 1, 1))
    changed = new_status(current, CAMERA, {"location": {"lat": 51.5}, "inst_name": "moved"},
                         {"az": 90.0, "lens": None})
    assert (changed.location.latitude, changed.location.longitude, changed.location.gps) == (51.5, 0.1, True)
    assert (changed.orientation.azimuth, changed.orientation.altitude) == (90.0, 60.0)
    assert (changed.inst_name, changed.lens, changed.status_id) == ("moved", "lens", None)
    with pytest.raises(ValueError, match="sensor"):
        new_status(None, CAMERA, {}, {"lat": 1.0, "long": 2.0, "alt": 3.0, "az": 4.0, "lens": "l"})


# -- users -------------------------------------------------------------------------------

def test_user_commands(cli: Cli, node_db) -> None:
    added = cli("user", "add", "alice", "--password", "password-1", "--role", "user", "--role", "import")
    assert added.stdout == "Created user alice\n"
    assert added.stderr.startswith("Warning: a password on the command line is visible to other users")
    cli("user", "add", "bob", input="password-bob\npassword-bob\n")
    listed = as_json(cli("--json", "user", "list"))["users"]
    assert listed == [{"user_id": "alice", "role_mask": 5, "roles": ["user", "import"]},
                      {"user_id": "bob", "role_mask": 1, "roles": ["user"]}]
    assert "alice  user, import" in cli("user", "list").output
    cli("user", "roles", "alice", "camera_admin")
    cli("user", "password", "alice", "--password", "password-2")
    db = node_db
    assert db.get_user("alice", "password-2") == model.User("alice", 2)
    assert db.get_user("bob", "password-bob").get_roles() == ["user"]
    cli("user", "delete", "bob", input="n\n", expect=1)
    cli("user", "delete", "bob", "--yes")
    assert [u.user_id for u in db.get_users()] == ["alice"]


def test_user_errors(cli: Cli) -> None:
    cli("user", "add", "alice", "--password", "password-1")
    assert error_line(cli("user", "roles", "nobody", "user", expect=1)) == "Error: no user 'nobody'"
    assert "'pilot' is not one of" in cli("user", "roles", "alice", "pilot", expect=2).output
    assert "password" in error_line(cli("user", "add", "carol", input="\n", expect=1))
    cli("user", "delete", "nobody", "--yes", expect=1)


# -- cameras and high water marks --------------------------------------------------------

def test_camera_set_status_list_and_history(cli: Cli, node_db, tmp_path: Path) -> None:
    missing = error_line(cli("camera", "set", CAMERA, "--lat", "52", expect=1))
    assert "missing required field" in missing
    cli("camera", "set", CAMERA, "--at", "2024-08-01", *FULL_STATUS)
    changes = tmp_path / "status.yaml"
    changes.write_text("location: {lat: 51.5, gps: true}\n"
                       "regions: [[{x: 0, y: 0}, {x: 719, y: 0}, {x: 719, y: 500}, {x: 0, y: 480}]]\n")
    shown = as_json(cli("--json", "camera", "set", CAMERA, "--at", "2024-09-01", "--from-file",
                        str(changes), "--inst-name", "Roof"))["status"]
    db = node_db
    assert shown == db.get_camera_status(camera_id=CAMERA).as_dict()
    assert (shown["location"]["lat"], shown["location"]["long"], shown["location"]["gps"]) == (51.5, 0.1, True)
    assert (shown["inst_name"], shown["lens"], len(shown["regions"])) == ("Roof", "Fujinon 2.8mm", 1)
    august = as_json(cli("--json", "camera", "status", CAMERA, "--at", "2024-08-15"))["status"]
    assert august["inst_name"] == "Home" and august["valid_to"] == 1725148800000
    history = as_json(cli("--json", "camera", "history", CAMERA))["statuses"]
    assert [s["inst_name"] for s in history] == ["Home", "Roof"]
    listed = as_json(cli("--json", "camera", "list"))["cameras"]
    assert [(c["camera_id"], c["status"]["inst_name"]) for c in listed] == [(CAMERA, "Roof")]
    assert listed[0]["high_water_mark"] == 1725148800000
    text = cli("camera", "status", CAMERA).output
    assert "51.50000° N, 0.10000° E" in text and "1 polygons, 4 points" in text
    assert error_line(cli("camera", "status", CAMERA, "--at", "2020-01-01", expect=1)) \
        == "Error: camera b827eb000001 has no status at 2020-01-01T00:00:00.000Z"
    cli("camera", "history", "cccccccccccc", expect=1)


def test_camera_set_in_the_past_asks_before_deleting(cli: Cli, node_db, tmp_path: Path) -> None:
    db = node_db
    make_status(db, CAMERA, utc(2024, 8, 1))
    make_event(db, utc(2024, 8, 12), CAMERA, files=[make_file(db, tmp_path, utc(2024, 8, 12), CAMERA)])
    db.set_high_water_mark(utc(2024, 8, 13), CAMERA)
    answer = cli("camera", "set", CAMERA, "--at", "2024-08-10", "--inst-name", "x", input="n\n", expect=1)
    assert "deletes 1 events, 1 files and 0 status blocks" in answer.output
    assert db.search_events(model.EventSearch())["count"] == 1
    cli("camera", "set", CAMERA, "--at", "2024-08-10", "--inst-name", "x", "--yes")
    assert db.search_events(model.EventSearch())["count"] == 0
    assert db.search_files(model.FileRecordSearch())["count"] == 0


def test_high_water_mark_commands(cli: Cli, node_db, tmp_path: Path) -> None:
    db = node_db
    make_status(db, CAMERA, utc(2024, 8, 1))
    make_file(db, tmp_path, utc(2024, 8, 12), CAMERA)
    assert as_json(cli("--json", "hwm", "get"))["high_water_marks"] == {CAMERA: 1722470400000}
    cli("hwm", "set", CAMERA, "2024-08-13T00:00:00Z")
    assert db.get_high_water_mark(CAMERA) == utc(2024, 8, 13)
    assert cli("hwm", "get", CAMERA).output == f"{CAMERA}  2024-08-13T00:00:00.000Z\n"
    refused = cli("hwm", "set", CAMERA, "2024-08-11", "--no-rollback", expect=1)
    assert "--no-rollback" in error_line(refused)
    declined = cli("hwm", "set", CAMERA, "2024-08-11", input="n\n", expect=1)
    assert "deletes 0 events, 1 files" in declined.output and "Aborted" in declined.output
    assert db.get_high_water_mark(CAMERA) == utc(2024, 8, 13)
    cli("hwm", "set", CAMERA, "2024-08-11", input="y\n")
    assert db.get_high_water_mark(CAMERA) == utc(2024, 8, 11)
    assert db.search_files(model.FileRecordSearch())["count"] == 0
    cli("hwm", "set", CAMERA, "1723593600000", "--yes")  # epoch ms: 2024-08-14
    assert db.get_high_water_mark(CAMERA) == utc(2024, 8, 14)
    assert "Invalid value for 'TIME'" in cli("hwm", "set", CAMERA, "someday", expect=2).output


# -- database commands and errors --------------------------------------------------------

def test_db_upgrade_and_info(cli: Cli, node_db, db_url: str, tmp_path: Path) -> None:
    assert cli("db", "upgrade").output.startswith("Schema already at revision ")
    fresh = CliRunner().invoke(main, ["--data-dir", str(tmp_path / "fresh"), "db", "upgrade"])
    assert fresh.exit_code == 0 and fresh.output.startswith("Schema upgraded from empty to revision ")
    assert (tmp_path / "fresh" / "meteorpi.db").exists()
    db = node_db
    make_status(db, CAMERA, utc(2024, 8, 1))
    make_event(db, utc(2024, 8, 12), CAMERA, files=[make_file(db, tmp_path, utc(2024, 8, 12), CAMERA,
                                                              content=b"x" * 1000)])
    make_file(db, tmp_path, utc(2024, 8, 12, 1), CAMERA, content=b"y" * 24)
    db.create_or_update_user("alice", "password-1", ["user"])
    info = as_json(cli("--json", "db", "info"))
    assert {k: info[k] for k in ("backend", "cameras", "status_blocks", "events", "files", "users",
                                 "export_configs", "pending_exports", "imported_events")} == {
        "backend": db.backend, "cameras": 1, "status_blocks": 1, "events": 1, "files": 2, "users": 1,
        "export_configs": 0, "pending_exports": 0, "imported_events": 0}
    assert info["per_camera"] == {CAMERA: {"status_blocks": 1, "events": 1, "files": 2}}
    assert info["content_bytes"] == 1024
    assert make_url(db_url).database in info["database"]
    assert "events           1" in cli("db", "info").output


def _command_paths(command: click.Command, path: tuple[str, ...] = ("meteorpi",)) -> list[str]:
    if isinstance(command, click.Group):
        return [p for name, sub in command.commands.items() for p in _command_paths(sub, path + (name,))]
    return [" ".join(path)]


def test_every_command_is_documented_with_an_example() -> None:
    docs = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text()
    examples = re.findall(r"```sh\n(.*?)```", docs, flags=re.S)
    lines = [line.replace("--data-dir data ", "") for block in examples for line in block.splitlines()]
    paths = _command_paths(main)
    assert len(paths) == 37
    for path in paths:
        assert any(line.startswith(path + " ") or line == path for line in lines), path


def test_options_go_before_or_after_the_command(db_url: str, data_dir: Path) -> None:
    runner = CliRunner()
    runner.invoke(main, ["--db", db_url, "--data-dir", str(data_dir), "user", "add", "a", "--password", "password-1"])
    before = runner.invoke(main, ["--db", db_url, "--data-dir", str(data_dir), "--json", "user", "list"])
    after = runner.invoke(main, ["user", "list", "--db", db_url, "--data-dir", str(data_dir), "--json"])
    assert before.exit_code == after.exit_code == 0
    assert json.loads(before.stdout) == json.loads(after.stdout) == {
        "users": [{"user_id": "a", "role_mask": 1, "roles": ["user"]}]}


def test_environment_variables_name_the_node(db_url: str, data_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("METEORPI_DB", db_url)
    monkeypatch.setenv("METEORPI_DATA_DIR", str(data_dir))
    result = CliRunner().invoke(main, ["--json", "camera", "list"])
    assert result.exit_code == 0 and json.loads(result.stdout) == {"cameras": []}


def test_errors_are_one_line_with_exit_code_1(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(main, ["--data-dir", str(tmp_path / "none"), "search", "events"])
    assert missing.exit_code == 1
    assert error_line(missing) == f"Error: no database at {tmp_path / 'none' / 'meteorpi.db'} (use --data-dir or --db)"
    bad_url = runner.invoke(main, ["--data-dir", str(tmp_path), "--db", "mysql://nowhere/x", "camera", "list"])
    assert bad_url.exit_code == 1 and "Traceback" not in bad_url.output
    error_line(bad_url)
    unreachable = runner.invoke(main, ["--data-dir", str(tmp_path), "--db",
                                       "postgresql://nobody@127.0.0.1:1/none", "camera", "list"])
    assert unreachable.exit_code == 1 and error_line(unreachable).startswith("Error: database error: ")
    usage = runner.invoke(main, ["search", "events", "--limit", "-1"])
    assert usage.exit_code == 2
    assert runner.invoke(main, ["nonsense"]).exit_code == 2
