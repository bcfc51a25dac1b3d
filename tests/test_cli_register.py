"""``meteorpi register`` re-runs and crashes: a real ``python -m meteorpi_cli register`` killed
with SIGKILL at random points never loses a source or leaves an event's files without their
event, and running it again registers everything exactly once. On every backend."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

import meteorpi_model as model
from meteorpi_fdb import schema
from tests.helpers import make_status, utc
from tests.test_cli import CAMERA, Cli, as_json, cli, data_dir, node_db  # noqa: F401

ENV = {**os.environ, "MPI_ARGON2_PROFILE": "test"}
EVENTS = 60


def write_manifest(directory: Path, rng: random.Random, events: int, stand_alone: int) -> dict[str, dict]:
    """Files with distinct random content and a manifest listing them; {source path: facts}."""
    expected: dict[str, dict] = {}
    entries: list[dict] = []
    directory.mkdir(parents=True, exist_ok=True)

    def new_file(name: str, in_event: bool, when: int | None) -> dict:
        content = rng.randbytes(rng.randint(500, 4000))
        (directory / name).write_bytes(content)
        expected[str(directory / name)] = {"md5": model.get_md5_hash(str(directory / name)),
                                           "in_event": in_event, "content": content}
        entry = {"path": name, "semantic_type": "meteorpi:meteor_image" if in_event else "meteorpi:sky"}
        return entry if when is None else {**entry, "time": when}

    files = [new_file(f"sky{i}.png", False, 1723424400000 + i * 60_000) for i in range(stand_alone)]
    for i in range(events):
        entries.append({"time": 1723424400000 + i * 1000, "meta": {"meteorpi:shower": "PER"},
                        "files": [new_file(f"m{i}a.png", True, None), new_file(f"m{i}b.png", True, None)]})
    (directory / "manifest.yaml").write_text(yaml.safe_dump({"camera_id": CAMERA, "files": files,
                                                             "events": entries}))
    return expected


def committed(db) -> dict:
    """What the database holds: file rows (md5, file id, linked?) and files per event."""
    with db.connection() as connection:
        linked = select(schema.t_event_to_file.c.fileid).where(
            schema.t_event_to_file.c.fileid == schema.t_file.c.internalid).exists()
        files = connection.execute(select(schema.t_file.c.md5hex, schema.t_file.c.fileid, linked)).all()
        per_event = connection.execute(
            select(func.count()).select_from(schema.t_event)
            .outerjoin(schema.t_event_to_file, schema.t_event_to_file.c.eventid == schema.t_event.c.internalid)
            .group_by(schema.t_event.c.internalid)).scalars().all()
    return {"files": files, "per_event": per_event}


def check_invariants(db, expected: dict[str, dict], copy: bool) -> dict:
    state = committed(db)
    by_md5 = {}
    for md5, file_id, _linked in state["files"]:
        assert md5 not in by_md5, "a file was registered twice"
        by_md5[md5] = file_id
    for path, facts in expected.items():
        if facts["md5"] in by_md5:  # committed: its content is in the store, whole
            with open(db.file_path_for_id(model.parse_uuid(by_md5[facts["md5"]], "file_id")), "rb") as reader:
                assert reader.read() == facts["content"]
        else:
            assert os.path.exists(path), f"{path} was lost: not at its path and not registered"
        if copy:
            assert Path(path).read_bytes() == facts["content"]
    event_md5s = {facts["md5"] for facts in expected.values() if facts["in_event"]}
    for md5, file_id, linked in state["files"]:
        assert linked or md5 not in event_md5s, f"file {file_id} is registered without its event"
    assert all(count == 2 for count in state["per_event"]), state["per_event"]
    return state


def snapshot(*directories: Path) -> tuple:
    listing = []
    for directory in directories:
        try:
            listing.append(tuple(sorted(os.listdir(directory))))
        except FileNotFoundError:
            listing.append(())
    return tuple(listing)


def run_and_kill(args: list[str], rng: random.Random, watch: tuple[Path, ...]) -> int | None:
    """Start ``args``; SIGKILL it after a random number of changes to the watched directories
    (or, sometimes, after a random time). Returns its exit code."""
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    try:
        if rng.random() < 0.25:
            deadline = time.monotonic() + rng.uniform(0.1, 1.0)
            while process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
        else:
            changes, last = rng.randint(1, 6), snapshot(*watch)
            while process.poll() is None and changes > 0:
                time.sleep(0.001)
                now = snapshot(*watch)
                if now != last:
                    changes, last = changes - 1, now
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        return process.returncode
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()


@pytest.mark.directory_store("its kills are timed by watching the store directory fill; a kill -9 during "
                              "a bucket upload is tested in test_object_store_hosts")
@pytest.mark.parametrize("copy", [False, True], ids=["move", "copy"])
def test_kill_9_never_loses_a_source_and_a_rerun_registers_everything_once(
        copy: bool, node_db, db_url: str, data_dir: Path, tmp_path: Path, cli: Cli) -> None:  # noqa: F811
    rng = random.Random(f"crash-{copy}")
    make_status(node_db, CAMERA, utc(2024, 8, 1))
    incoming = tmp_path / "incoming"
    expected = write_manifest(incoming, rng, events=EVENTS, stand_alone=6)
    args = [sys.executable, "-m", "meteorpi_cli", "--data-dir", str(data_dir), "--db", db_url,
            "register", str(incoming / "manifest.yaml"), "--batch-size", "2", *(["--copy"] if copy else [])]
    killed = 0
    for _ in range(12):  # until 8 kills have landed while the command ran
        code = run_and_kill(args, rng, (data_dir / "files", incoming))
        killed += code == -signal.SIGKILL
        check_invariants(node_db, expected, copy)
        if killed == 8 or code == 0:
            break
    assert killed == 8, "the kills should land while registration runs"
    final = subprocess.run(args, capture_output=True, text=True, env=ENV, timeout=300)
    assert final.returncode == 0, final.stderr
    assert ", 0 failed" in final.stdout
    state = check_invariants(node_db, expected, copy)
    assert sorted(md5 for md5, _id, _linked in state["files"]) == sorted(f["md5"] for f in expected.values())
    assert len(state["per_event"]) == EVENTS
    assert all(os.path.exists(path) == copy for path in expected)
    # What the kills left in the store (copies of committed content, temporaries) is repaired.
    cli("fsck", "--repair", "--grace", "0")
    assert node_db.check_file_store() == {"orphans": [], "missing": [], "strays": []}


@pytest.mark.both_stores
def test_a_rerun_skips_what_is_registered_and_says_so(cli: Cli, node_db, tmp_path: Path) -> None:  # noqa: F811
    make_status(node_db, CAMERA, utc(2024, 8, 1))
    expected = write_manifest(tmp_path / "in", random.Random(1), events=3, stand_alone=2)
    manifest = str(tmp_path / "in" / "manifest.yaml")
    first = cli("register", "--copy", manifest)
    assert first.stdout.startswith("5 registered, 0 already registered, 0 failed (2 files and 3 events")
    again = cli("register", manifest)  # move mode now: everything is registered, sources go
    assert again.stdout.startswith("0 registered, 5 already registered, 0 failed")
    assert not any(os.path.exists(path) for path in expected)
    assert node_db.search_files(model.FileRecordSearch())["count"] == 8
    moved_in = as_json(cli("--json", "register", manifest))  # the sources are gone: still skipped
    assert (moved_in["registered"], moved_in["already_registered"], moved_in["failed"]) == (0, 5, 0)
    assert len(moved_in["events"]) == 3 and moved_in["events"][0]["files"][0]["file_size"] > 0


@pytest.mark.both_stores
def test_allow_duplicates_registers_again(cli: Cli, node_db, tmp_path: Path) -> None:  # noqa: F811
    make_status(node_db, CAMERA, utc(2024, 8, 1))
    write_manifest(tmp_path / "in", random.Random(2), events=2, stand_alone=1)
    manifest = str(tmp_path / "in" / "manifest.yaml")
    cli("register", "--copy", manifest)
    again = cli("register", "--copy", "--allow-duplicates", manifest)
    assert again.stdout.startswith("3 registered, 0 already registered, 0 failed")
    assert node_db.search_events(model.EventSearch())["count"] == 4


@pytest.mark.both_stores
def test_a_missing_file_that_was_never_registered_fails_alone(cli: Cli, node_db, tmp_path: Path) -> None:  # noqa: F811
    make_status(node_db, CAMERA, utc(2024, 8, 1))
    write_manifest(tmp_path / "in", random.Random(3), events=2, stand_alone=1)
    os.remove(tmp_path / "in" / "m1b.png")
    result = cli("register", str(tmp_path / "in" / "manifest.yaml"), expect=1)
    assert result.stdout.startswith("2 registered, 0 already registered, 1 failed")
    assert "events[1]: " in result.stderr and "m1b.png is not a readable file" in result.stderr
    assert (tmp_path / "in" / "m1a.png").exists()  # its event failed: its other file stays
    assert node_db.search_events(model.EventSearch())["count"] == 1
    copy_mode = cli("register", "--copy", str(tmp_path / "in" / "manifest.yaml"), expect=1)
    assert "no such file" in copy_mode.stderr  # with --copy every listed file must exist


@pytest.mark.directory_store("it plants files in the store directory by hand")
def test_fsck_removes_orphans_only_when_their_bytes_are_safe(cli: Cli, node_db, data_dir: Path,  # noqa: F811
                                                             tmp_path: Path) -> None:
    make_status(node_db, CAMERA, utc(2024, 8, 1))
    expected = write_manifest(tmp_path / "in", random.Random(4), events=1, stand_alone=1)
    cli("register", "--copy", str(tmp_path / "in" / "manifest.yaml"))
    store = data_dir / "files"
    copy_of_registered = "aa" * 16
    only_copy = "bb" * 16
    (store / copy_of_registered).write_bytes(next(iter(expected.values()))["content"])
    (store / only_copy).write_bytes(b"a meteor nobody registered")
    report = as_json(cli("--json", "fsck", "--repair", "--grace", "0", expect=1))
    assert report["removed"] == [copy_of_registered]
    assert report["orphans"] == [only_copy] and report["only_copies"] == [only_copy]
    assert (store / only_copy).read_bytes() == b"a meteor nobody registered"
    assert "only copy of their content" in cli("fsck", expect=1).output


@pytest.mark.directory_store("the .register-* directories it plants belong to a directory store")
def test_fsck_reports_and_cleans_left_over_register_directories(cli: Cli, node_db, data_dir: Path,  # noqa: F811
                                                                tmp_path: Path) -> None:
    make_status(node_db, CAMERA, utc(2024, 8, 1))
    expected = write_manifest(tmp_path / "in", random.Random(5), events=1, stand_alone=1)
    cli("register", "--copy", str(tmp_path / "in" / "manifest.yaml"))
    empty, redundant, valuable = (data_dir / f".register-{name}" for name in ("a1", "b2", "c3"))
    for directory in (empty, redundant, valuable):
        directory.mkdir()
    (redundant / "x").write_bytes(next(iter(expected.values()))["content"])
    (valuable / "y").write_bytes(b"not registered anywhere")
    report = as_json(cli("--json", "fsck", expect=1))
    assert [(Path(s["path"]).name, s["entries"], s["unregistered"]) for s in report["staging"]] == [
        (".register-a1", 0, []), (".register-b2", 1, []), (".register-c3", 1, ["y"])]
    assert "left-over registration directory" in cli("fsck", expect=1).output
    repaired = as_json(cli("--json", "fsck", "--repair", "--grace", "0", expect=1))
    assert sorted(repaired["removed"]) == [".register-a1", ".register-b2"]
    assert not empty.exists() and not redundant.exists() and (valuable / "y").exists()
