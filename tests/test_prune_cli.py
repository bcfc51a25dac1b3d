"""``meteorpi prune``, the quota in ``meteorpi register`` and ``fsck`` after pruning, through
the CLI; and crash safety: real ``meteorpi prune`` processes killed with SIGKILL at random
points. Every backend."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

import meteorpi_model as model
from tests.helpers import make_file, make_status, utc
from tests.server_helpers import cheap_password_hashing  # noqa: F401
from tests.test_cli import CAMERA, Cli, as_json, cli, data_dir, error_line, node_db  # noqa: F401
from tests.test_cli import node_environment, node_options

pytestmark = pytest.mark.both_stores
SKY, IMAGE = "meteorpi:sky_clarity", "meteorpi:meteor_image"
SCRIPT = Path(sys.executable).parent / "meteorpi"


@pytest.fixture
def old_files(node_db, tmp_path: Path) -> list[model.FileRecord]:
    """Six files on three nights of August 2024: long older than any retention policy."""
    make_status(node_db, CAMERA, utc(2024, 8, 1))
    return [make_file(node_db, tmp_path, utc(2024, 8, day, 22), CAMERA, semantic_type=kind, content=bytes(size))
            for day in (10, 11, 12) for kind, size in ((SKY, 100), (IMAGE, 300))]


def test_a_dry_run_lists_what_would_go_and_changes_nothing(cli: Cli, node_db, old_files) -> None:
    stored = sorted(node_db.file_store.stored_ids())
    text = cli("prune", "--dry-run", "--retain-nights", "14", "--order", "sky_clarity").output
    assert "Would prune 3 files, 300 bytes" in text
    assert all(f.file_id.hex in text for f in old_files if str(f.semantic_type) == SKY)
    report = as_json(cli("--json", "prune", "--dry-run", "--retain-nights", "14", "--records"))
    assert report["dry_run"] and report["records_removed"]
    assert (report["count"], report["bytes_freed"]) == (6, 1200)
    assert report["by_semantic_type"] == {SKY: {"files": 3, "bytes": 300}, IMAGE: {"files": 3, "bytes": 900}}
    assert [f["file_id"] for f in report["files"]] == [f.file_id.hex for f in old_files]  # oldest first
    assert sorted(node_db.file_store.stored_ids()) == stored and node_db.pruned_file_ids() == set()
    assert node_db.search_files(model.FileRecordSearch())["count"] == 6


def test_prune_then_fsck_and_db_info(cli: Cli, node_db, old_files, monkeypatch) -> None:
    monkeypatch.setenv("MPI_RETAIN_NIGHTS", "14")
    monkeypatch.setenv("MPI_PRUNE_ORDER", "meteorpi:sky_clarity")
    report = as_json(cli("--json", "prune"))
    assert (report["dry_run"], report["count"], report["bytes_freed"]) == (False, 3, 300)
    assert node_db.pruned_file_ids() == {f.file_id for f in old_files[0::2]}
    assert cli("fsck").output.startswith("Checked 6 files: 0 with problems")
    storage = as_json(cli("--json", "db", "info"))["storage"]
    assert storage["by_semantic_type"][SKY] == {"files": 3, "bytes": 0, "pruned_files": 3}
    assert storage["by_night"]["2024-08-10"] == {"files": 2, "bytes": 300, "pruned_files": 1}
    assert "meteorpi:sky_clarity" in cli("db", "info").output
    assert "Pruned 0 files, 0 bytes" in cli("prune").output


def test_prune_needs_a_policy_and_checks_its_settings(cli: Cli, old_files, monkeypatch) -> None:
    assert "MPI_RETAIN_NIGHTS" in error_line(cli("prune", expect=1))
    assert "--to-quota needs a high-water mark" in error_line(cli("prune", "--retain-nights", "2", "--to-quota",
                                                                  expect=1))
    monkeypatch.setenv("MPI_QUOTA_FLOOR", "plenty")
    assert "MPI_QUOTA_FLOOR must be bytes" in error_line(cli("prune", "--retain-nights", "2", expect=1))


def _manifest(directory: Path, sizes: list[int]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    entries = []
    for index, size in enumerate(sizes):
        (directory / f"sky{index}.png").write_bytes(os.urandom(size))
        entries.append({"path": f"sky{index}.png", "semantic_type": SKY, "time": f"2024-09-01T0{index}:00:00Z"})
    path = directory / "manifest.json"
    path.write_text(json.dumps({"camera_id": CAMERA, "files": entries}))
    return path


def test_registration_below_the_hard_floor_is_refused_and_writes_nothing(
        cli: Cli, node_db, old_files, data_dir: Path, tmp_path: Path, monkeypatch) -> None:
    manifest = _manifest(tmp_path / "incoming", [1000, 1000])
    before = (sorted(node_db.file_store.stored_ids()), node_db.search_files(model.FileRecordSearch())["count"])
    monkeypatch.setenv("MPI_STORAGE_BYTES", str(1200 + 2000 + 1000))  # 1,000 bytes to spare
    monkeypatch.setenv("MPI_QUOTA_FLOOR", "1500")
    refused = error_line(cli("register", "--copy", str(manifest), expect=1))
    assert refused.startswith("Error: registration refused: 3,000 bytes free on ")
    assert "2,000 bytes to register" in refused and "MPI_QUOTA_FLOOR is 1500 bytes" in refused
    assert (sorted(node_db.file_store.stored_ids()), node_db.search_files(model.FileRecordSearch())["count"]) == before
    assert (tmp_path / "incoming" / "sky0.png").exists()
    assert not list(data_dir.glob(".register-*"))  # no staging left beside a directory store
    # At the high-water mark, old content is pruned first and the batch fits.
    monkeypatch.setenv("MPI_QUOTA_HIGH_WATER", "3000")
    monkeypatch.setenv("MPI_RETAIN_NIGHTS", "14")
    assert cli("register", str(manifest)).output.startswith("2 registered")
    assert len(node_db.pruned_file_ids()) >= 1
    assert node_db.search_files(model.FileRecordSearch())["count"] == 8


# -- crash safety ----------------------------------------------------------------------------

def _invariants(db) -> tuple[int, int]:
    """No row points at missing content unless marked pruned; no content without its row.

    Returns (marked rows still holding content, rows): what an interrupted prune left to finish.
    """
    rows = {r.file_id for r in db.search_files(model.FileRecordSearch(limit=0))["files"]}
    stored = set(db.file_store.stored_ids())
    pruned = db.pruned_file_ids()
    assert rows - stored <= pruned, "a record points at missing content without being marked pruned"
    assert stored <= rows, "content without its record"
    assert db.check_file_store() == {"orphans": [], "missing": [], "strays": []}
    return len(pruned & stored), len(rows)


def _prune_process(options: list[str], *args: str) -> subprocess.Popen:
    return subprocess.Popen([str(SCRIPT), *options, "prune", "--retain-nights", "1", *args],
                            env=node_environment(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_when(process: subprocess.Popen, ready, extra_seconds: float, timeout: float = 60) -> bool:
    """SIGKILL ``process`` ``extra_seconds`` after ``ready()`` first holds; False if it ended first."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            break
        time.sleep(0.0005)
    time.sleep(extra_seconds)
    ended = process.poll() is not None
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    process.stderr.close()
    return not ended


def test_killing_prune_at_random_points_never_loses_track_of_content(
        node_db, db_url: str, data_dir: Path, node_store: str, tmp_path: Path) -> None:
    options = node_options(db_url, data_dir, node_store)
    rng = random.Random(15)
    make_status(node_db, CAMERA, utc(2024, 8, 1))
    interrupted_midway = 0
    for run in range(6):
        for index in range(60):
            make_file(node_db, tmp_path, utc(2024, 8, 2) + timedelta(minutes=index, seconds=run), CAMERA, semantic_type=SKY, content=os.urandom(2000))
        stored = len(list(node_db.file_store.stored_ids()))
        records = ("--records",) if run % 2 else ()
        process = _prune_process(options, *records)
        if run % 3 == 0:  # anywhere: start-up, planning, marking, deleting
            _kill_when(process, lambda: True, rng.uniform(0.3, 2.5))
        else:  # as soon as content starts to disappear, or just after
            _kill_when(process, lambda: len(list(node_db.file_store.stored_ids())) < stored, rng.uniform(0, 0.001))
        left, _rows = _invariants(node_db)
        interrupted_midway += left > 0
    # A last, uninterrupted prune finishes everything the killed ones started.
    finished = subprocess.run([str(SCRIPT), *options, "prune", "--retain-nights", "1"],
                              env=node_environment(), capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    left, rows = _invariants(node_db)
    assert left == 0 and list(node_db.file_store.stored_ids()) == [] and len(node_db.pruned_file_ids()) == rows
    assert interrupted_midway >= 1, "no kill landed between marking and deleting: the test proved little"


def test_serve_keeps_the_quota_on_a_schedule(node_db, old_files, db_url: str, data_dir: Path,
                                             node_store: str) -> None:
    env = node_environment(MPI_RETAIN_NIGHTS="2", MPI_PRUNE_ORDER=IMAGE, MPI_STORAGE_BYTES="10MB",
                           MPI_QUOTA_HIGH_WATER="1000", MPI_HOUSEKEEPING_SECONDS="1")
    process = subprocess.Popen([str(SCRIPT), *node_options(db_url, data_dir, node_store), "serve", "--port", "0"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while not node_db.pruned_file_ids() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    # 1,200 bytes stored, mark 1,000: meteor images go, oldest first, until under 900.
    assert node_db.pruned_file_ids() == {old_files[1].file_id}
