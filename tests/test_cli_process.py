"""The ``meteorpi`` command as a real process: the console script, ``python -m meteorpi_cli``,
exit codes and clean errors, ``demo`` then ``search``, and ``serve --demo`` answering HTTP."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

import meteorpi_model as model
from meteorpi_client import MeteorClient

SCRIPT = Path(sys.executable).parent / "meteorpi"
ENV = {**os.environ, "MPI_ARGON2_PROFILE": "test", "COLUMNS": "200"}


def meteorpi(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=ENV, timeout=timeout)


def test_the_console_script_and_python_m_are_the_same_command() -> None:
    version = meteorpi("--version")
    assert version.returncode == 0 and version.stdout.startswith("meteorpi, version ")
    module = subprocess.run([sys.executable, "-m", "meteorpi_cli", "--help"], capture_output=True,
                            text=True, env=ENV, timeout=60)
    assert module.returncode == 0
    assert module.stdout.startswith("Usage: meteorpi [OPTIONS] COMMAND [ARGS]...")
    for command in ("serve", "demo", "user", "camera", "hwm", "register", "search", "export", "db", "fsck"):
        assert f"  {command} " in module.stdout


def test_exit_codes_and_one_line_errors(tmp_path: Path) -> None:
    missing = meteorpi("--data-dir", str(tmp_path / "none"), "camera", "list")
    assert missing.returncode == 1
    assert missing.stderr == f"Error: no database at {tmp_path / 'none' / 'meteorpi.db'} (use --data-dir or --db)\n"
    usage = meteorpi("search", "events", "--after", "someday")
    assert usage.returncode == 2 and "Invalid value for '--after'" in usage.stderr
    assert "Traceback" not in missing.stderr + usage.stderr


def test_demo_then_search_as_processes(tmp_path: Path) -> None:
    data = str(tmp_path / "node")
    made = meteorpi("--data-dir", data, "--json", "demo", "--cameras", "1", "--nights", "1", "--seed", "9")
    assert made.returncode == 0, made.stderr
    summary = json.loads(made.stdout)
    found = meteorpi("--data-dir", data, "--json", "search", "events", "--limit", "0")
    assert found.returncode == 0 and json.loads(found.stdout)["count"] == summary["events"]
    sky = meteorpi("--data-dir", data, "--json", "search", "files", "--semantic-type", "meteorpi:sky_clarity")
    assert json.loads(sky.stdout)["count"] == summary["by_semantic_type"]["meteorpi:sky_clarity"]
    table = meteorpi("--data-dir", data, "search", "events", "--limit", "3")
    assert f"1-3 of {summary['events']} events" in table.stdout
    fsck = meteorpi("--data-dir", data, "fsck")
    assert fsck.returncode == 0 and fsck.stdout.startswith(f"Checked {summary['files']} files")


class _Lines:
    """A process's stdout lines, read on a thread so that waiting for one can time out."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(process,), daemon=True).start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.lines.put(line)

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            self.seen.append(line)
            match = re.search(pattern, line)
            if match:
                return match
        raise AssertionError(f"no line matching {pattern!r} in {''.join(self.seen)!r}")


@pytest.fixture
def serve(tmp_path: Path):
    """Start ``meteorpi serve`` processes; each is stopped at the end."""
    started: list[subprocess.Popen] = []

    def start(*args: str) -> tuple[subprocess.Popen, _Lines]:
        process = subprocess.Popen([sys.executable, "-m", "meteorpi_cli", *args], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, env=ENV, cwd=tmp_path)
        started.append(process)
        return process, _Lines(process)

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=20)
        process.stdout.close()


def test_serve_demo_answers_http_and_stops_on_sigterm(serve, db_url: str, tmp_path: Path) -> None:
    process, output = serve("--data-dir", str(tmp_path / "node"), "--db", db_url, "serve", "--demo",
                            "--demo-cameras", "1", "--demo-nights", "1", "--port", "0", "--export")
    events = int(output.wait_for(r" (\d+) events \(", timeout=180).group(1))
    url = output.wait_for(r"Serving MeteorPi on (http://127\.0\.0\.1:\d+/)", timeout=60).group(1)
    examples = [output.wait_for(r": (http://\S+)$", timeout=10).group(1) for _ in range(7)]
    with MeteorClient(url) as client:
        cameras = client.list_cameras()
        assert len(cameras) == 1 and client.get_camera_status(cameras[0]).software_version == 2
        assert client.search_events()["count"] == events
        image = client.search_files(model.FileRecordSearch(semantic_type="meteorpi:meteor_image", limit=1))["files"][0]
        path = client.download_to(image, tmp_path)
        assert model.get_md5_hash(path) == image.md5
    for example in examples:
        assert requests.get(example, timeout=30).status_code == 200, example
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    output.wait_for(r"^Stopped\.$", timeout=10)


def test_serve_keeps_existing_data_and_reports_a_busy_port(serve, tmp_path: Path) -> None:
    data = str(tmp_path / "node")
    assert meteorpi("--data-dir", data, "demo", "--cameras", "1", "--nights", "1").returncode == 0
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        refused = meteorpi("--data-dir", data, "serve", "--port", port)
        assert refused.returncode == 1 and refused.stderr.startswith("Error: ")
        assert "Traceback" not in refused.stderr and len(refused.stderr.splitlines()) == 1
    process, output = serve("--data-dir", data, "serve", "--demo", "--port", "0")
    output.wait_for(r"already has data; not adding the demo network", timeout=60)
    url = output.wait_for(r"Serving MeteorPi on (\S+)", timeout=60).group(1)
    assert requests.get(url + "cameras", timeout=30).json()["cameras"]
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
