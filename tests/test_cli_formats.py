"""One way of writing places and times in every CLI message: camera positions as the browse page
writes them (``53.237° N, 2.308° W``), times as ISO 8601 in UTC to the millisecond with ``Z``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from meteorpi_cli._common import format_location, format_time, normalise_times
from tests.helpers import make_event, make_file, make_status, utc
from tests.server_helpers import cheap_password_hashing  # noqa: F401
from tests.test_cli import CAMERA, Cli, cli, data_dir, error_line, node_db  # noqa: F401

ISO_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
#: anything that looks like a time of day after a date, in any format
TIME_LIKE = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?(?:Z|[+-]\d\d:?\d\d| ?UTC)?")
WEBSITE = Path(__file__).parents[1] / "src/meteorpi_server/web/static"


def assert_one_time_format(text: str) -> int:
    """Every time in ``text`` is ISO 8601 UTC with milliseconds and Z; how many there are."""
    times = TIME_LIKE.findall(text)
    for found in times:
        assert ISO_MS.fullmatch(found), f"{found!r} in {text!r}"
    return len(times)


@pytest.mark.parametrize("lat, long, digits, expected", [
    (53.23742, -2.30756, 3, "53.237° N, 2.308° W"),
    (-33.9, 151.2, 3, "33.900° S, 151.200° E"),
    (52.2, 0.1, 5, "52.20000° N, 0.10000° E"),
])
def test_locations_are_written_as_on_the_browse_page(lat, long, digits, expected) -> None:
    assert format_location(lat, long, digits) == expected
    page = "".join((WEBSITE / name).read_text(encoding="utf-8") for name in ("app.js", "gallery.js"))
    # the page's own formatter: |value| to fixed digits, a degree sign, a space, the hemisphere
    assert 'Math.abs(value).toFixed(digits) + "\\u00b0 " + (value < 0 ? negative : positive)' in page
    assert 'hemisphere(loc.lat, "N", "S", 3) + ", " + hemisphere(loc.long, "E", "W", 3)' in page


def test_format_time() -> None:
    assert format_time(utc(2024, 8, 12, 22, 14, 3, 120)) == "2024-08-12T22:14:03.120Z"
    assert format_time(None) == "-"


def test_every_command_writes_places_and_times_one_way(cli: Cli, node_db, tmp_path: Path) -> None:
    make_status(node_db, CAMERA, utc(2024, 8, 1), latitude=53.23742, longitude=-2.30756)
    image = make_file(node_db, tmp_path, utc(2024, 8, 12, 1), CAMERA)
    make_event(node_db, utc(2024, 8, 12, 1), CAMERA, files=[image], meta=[])
    make_file(node_db, tmp_path, utc(2024, 8, 12, 2), CAMERA)  # stand-alone: a file export sends it
    listed = cli("camera", "list").stdout
    assert "53.237° N, 2.308° W" in listed and assert_one_time_format(listed) == 2
    shown = cli("camera", "status", CAMERA).stdout
    assert "53.23742° N, 2.30756° W (±5 m, GPS)" in shown and assert_one_time_format(shown) == 1
    assert not re.search(r"\d[NE]\b", listed + shown)
    outputs = [cli("camera", "history", CAMERA), cli("hwm", "get"), cli("search", "events"),
               cli("search", "files"),
               cli("camera", "status", CAMERA, "--at", "2020-01-01", expect=1),
               cli("hwm", "set", CAMERA, "2024-08-13"),
               cli("hwm", "set", CAMERA, "2024-08-12T00:30:00Z", input="n\n", expect=1),
               cli("hwm", "set", CAMERA, "2024-08-11", "--no-rollback", expect=1)]
    cli("export", "add", "files", "nowhere", "--target-url", "http://127.0.0.1:1/import", "--user", "u",
        "--enable", input="p\n")
    cli("export", "add", "events", "later", "--target-url", "http://127.0.0.1:1/import", "--user", "u",
        "--after", "2024-08-12", "--meta", "meteorpi:peak_time", "<", "2024-08-13", input="p\n")
    outputs += [cli("export", "run", expect=1), cli("export", "status")]
    listed = cli("export", "list").stdout
    assert '"after":"2024-08-12T00:00:00.000Z"' in listed
    assert '"value":"2024-08-12T23:59:59.999Z"' in listed and assert_one_time_format(listed) == 2
    for result in outputs:
        assert assert_one_time_format(result.output) >= 1, result.output
    manifest = tmp_path / "manifest.yaml"
    (tmp_path / "early.png").write_bytes(b"png")
    manifest.write_text("files: [{path: early.png, semantic_type: meteorpi:x, time: 2020-01-01T00:00:00Z,"
                        f" camera_id: {CAMERA}}}]\n")
    refused = error_line(cli("register", str(manifest), expect=1))
    assert "2020-01-01T00:00:00.000Z" in refused and assert_one_time_format(refused) == 1


def test_times_written_by_other_layers_are_rewritten() -> None:
    assert normalise_times("camera c at 2024-08-12T01:00:00+00:00, 2024-08-12T01:00:00.123456+00:00") \
        == "camera c at 2024-08-12T01:00:00.000Z, 2024-08-12T01:00:00.123Z"


def test_log_lines_are_stamped_in_utc(tmp_path: Path) -> None:
    """Log stamps in UTC whatever the local zone, and times inside log messages (here the
    database layer's, on a high water mark rollback) in the same format."""
    data = str(tmp_path / "node")
    env = {**os.environ, "TZ": "America/New_York", "MPI_ARGON2_PROFILE": "test"}

    def meteorpi(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([str(Path(sys.executable).parent / "meteorpi"), "--data-dir", data, *args],
                              capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        return done

    meteorpi("demo", "--cameras", "1", "--nights", "1")
    camera = json.loads(meteorpi("--json", "camera", "list").stdout)["cameras"][0]["camera_id"]
    done = meteorpi("-v", "hwm", "set", camera, "2024-08-12T00:00:00Z", "--yes")
    stamps = [line.split(" ", 1)[0] for line in done.stderr.splitlines()]
    assert stamps and all(ISO_MS.fullmatch(stamp) for stamp in stamps), done.stderr
    rollback = [line for line in done.stderr.splitlines() if "rolled back to" in line]
    assert len(rollback) == 1 and "rolled back to 2024-08-12T00:00:00.000Z" in rollback[0], done.stderr
    assert assert_one_time_format(done.stderr + done.stdout) >= 2
