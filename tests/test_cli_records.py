"""``meteorpi register``, ``search``, ``fsck`` and ``export`` through CliRunner, on every backend."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import meteorpi_model as model
from meteorpi_cli.manifest import load_manifest, parse_manifest
from meteorpi_client import MeteorClient
from tests.helpers import make_event, make_file, make_status, utc
from tests.replication_helpers import add_import_user, start_node, target_db_url  # noqa: F401
from tests.server_helpers import cheap_password_hashing, make_server  # noqa: F401
from tests.test_cli import CAMERA, Cli, as_json, cli, data_dir, error_line, node_db  # noqa: F401

OTHER = "b827eb000002"
MANIFEST = f"""
camera_id: {CAMERA}
files:
  - path: sky/0100.png
    semantic_type: meteorpi:sky_clarity
    time: 2024-08-12T01:00:00Z
    meta: {{meteorpi:sky_clarity: 87.5, meteorpi:observer: Jane}}
  - path: sky/0200.png
    semantic_type: meteorpi:sky_clarity
    time: 1723428000000
    camera_id: {OTHER}
    name: second.png
events:
  - time: 2024-08-12T01:23:45.678Z
    meta:
      meteorpi:duration: 0.82
      meteorpi:shower: PER
      meteorpi:peak_time: {{date: 1723425826100}}
    files:
      - {{path: m/0123.png, semantic_type: meteorpi:meteor_image}}
      - {{path: m/0123.txt, semantic_type: meteorpi:log, mime_type: text/x-log}}
  - time: 2024-08-12T02:00:00
    type: meteorpi:satellite
"""


@pytest.fixture
def incoming(tmp_path: Path) -> Path:
    """A camera's output directory with a manifest.yaml describing its files."""
    directory = tmp_path / "incoming"
    for name, content in (("sky/0100.png", b"sky-1"), ("sky/0200.png", b"sky-2"),
                          ("m/0123.png", b"meteor"), ("m/0123.txt", b"log line\n")):
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_bytes(content)
    (directory / "manifest.yaml").write_text(MANIFEST)
    return directory


@pytest.fixture
def statuses(node_db) -> None:
    make_status(node_db, CAMERA, utc(2024, 8, 1))
    make_status(node_db, OTHER, utc(2024, 8, 1))


# -- manifests (no database) -------------------------------------------------------------

def test_manifest_parsing(incoming: Path) -> None:
    manifest = load_manifest(incoming / "manifest.yaml")
    first, second = manifest.files
    assert (first.path, first.mime_type, first.file_name, first.camera_id) == (
        incoming / "sky/0100.png", "image/png", "0100.png", CAMERA)
    assert first.meta == [model.Meta("meteorpi:sky_clarity", 87.5), model.Meta("meteorpi:observer", "Jane")]
    assert (second.time, second.camera_id, second.file_name) == (utc(2024, 8, 12, 2), OTHER, "second.png")
    meteor, satellite = manifest.events
    assert meteor.time == utc(2024, 8, 12, 1, 23, 45, 678)
    assert str(meteor.event_type) == "meteorpi:meteor" and str(satellite.event_type) == "meteorpi:satellite"
    assert meteor.meta[2] == model.Meta("meteorpi:peak_time", utc(2024, 8, 12, 1, 23, 46, 100))
    assert [f.time for f in meteor.files] == [meteor.time, meteor.time]
    assert [f.mime_type for f in meteor.files] == ["image/png", "text/x-log"]
    assert satellite.time == utc(2024, 8, 12, 2) and satellite.files == []


def test_json_manifests_and_the_default_camera(incoming: Path) -> None:
    (incoming / "m.json").write_text(json.dumps({"files": [
        {"path": "sky/0100.png", "semantic_type": "meteorpi:sky", "time": "2024-08-12T01:00:00Z",
         "meta": {"meteorpi:seen": {"date": "2024-08-12T01:00:00Z"}, "meteorpi:n": {"number": 3}}}]}))
    manifest = load_manifest(incoming / "m.json", default_camera="cafe00000000")
    assert manifest.files[0].camera_id == "cafe00000000"
    assert manifest.files[0].meta == [model.Meta("meteorpi:seen", utc(2024, 8, 12, 1)),
                                      model.Meta("meteorpi:n", 3)]
    assert load_manifest(incoming / "m.json").files[0].camera_id is None


@pytest.mark.parametrize("data, message", [
    ([], "manifest must be a mapping"),
    ({}, "no files and no events"),
    ({"file": []}, "unknown field 'file'"),
    ({"files": {}}, "files must be a list"),
    ({"files": [{"path": "sky/0100.png", "time": 0}]}, "files[0]: missing field 'semantic_type'"),
    ({"files": [{"path": "nope.png", "semantic_type": "a:b", "time": 0}]}, "files[0].path: no such file"),
    ({"files": [{"path": "sky/0100.png", "semantic_type": "a:b", "time": "soon"}]}, "files[0].time"),
    ({"files": [{"path": "sky/0100.png", "semantic_type": ":b", "time": 0}]}, "files[0].semantic_type"),
    ({"events": [{"time": 0, "files": [{"path": "m/0123.png", "semantic_type": "a:b", "size": 1}]}]},
     "events[0].files[0]: unknown field 'size'"),
    ({"events": [{"time": 0, "meta": {"meteorpi:x": {"colour": 1}}}]}, "events[0].meta.meteorpi:x"),
    ({"events": [{"time": 0, "meta": {"meteorpi:x": [1]}}]}, "events[0].meta.meteorpi:x"),
    ({"files": [{"path": "sky/0100.png", "semantic_type": "a:b", "time": 0}],
      "events": [{"time": 0, "files": [{"path": "sky/0100.png", "semantic_type": "a:b"}]}]},
     "listed more than once"),
    ({"camera_id": "", "events": [{"time": 0}]}, "camera_id"),
])
def test_bad_manifests_name_the_problem(incoming: Path, data, message: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_manifest(data, incoming)
    assert message in str(error.value)


# -- register ----------------------------------------------------------------------------

def test_register_moves_files_into_the_store(cli: Cli, node_db, statuses, incoming: Path) -> None:
    result = cli("register", str(incoming / "manifest.yaml"))
    assert result.output == ("4 registered, 0 already registered, 0 failed "
                             "(2 files and 2 events, with 2 files)\n")
    assert not (incoming / "sky/0100.png").exists() and not (incoming / "m/0123.png").exists()
    events = node_db.search_events(model.EventSearch())["events"]
    assert [(str(e.event_type), len(e.file_records)) for e in events] == [
        ("meteorpi:satellite", 0), ("meteorpi:meteor", 2)]
    meteor = events[1]
    assert {str(m.key): m.value for m in meteor.meta}["meteorpi:shower"] == "PER"
    assert sorted(f.file_name for f in meteor.file_records) == ["0123.png", "0123.txt"]
    files = node_db.search_files(model.FileRecordSearch(exclude_events=True))["files"]
    assert [(f.camera_id, f.file_name) for f in files] == [(OTHER, "second.png"), (CAMERA, "0100.png")]
    stored = Path(node_db.file_path_for_id(files[0].file_id))
    assert stored.read_bytes() == b"sky-2"


def test_register_with_copy_and_json_output(cli: Cli, node_db, statuses, incoming: Path) -> None:
    result = as_json(cli("--json", "register", "--copy", str(incoming / "manifest.yaml")))
    assert (incoming / "sky/0100.png").read_bytes() == b"sky-1"
    assert len(result["files"]) == 2 and len(result["events"]) == 2
    assert result["events"][0]["files"][0]["md5"] == model.get_md5_hash(str(incoming / "m/0123.png"))
    assert node_db.search_files(model.FileRecordSearch())["count"] == 4


def test_nothing_is_registered_unless_the_whole_manifest_is_valid(
        cli: Cli, node_db, incoming: Path) -> None:
    make_status(node_db, CAMERA, utc(2024, 8, 1))  # but none for OTHER
    no_status = error_line(cli("register", str(incoming / "manifest.yaml"), expect=1))
    assert f"camera {OTHER} has no status in force" in no_status
    (incoming / "bad.yaml").write_text(MANIFEST.replace("time: 2024-08-12T02:00:00", "time: later"))
    assert "events[1].time" in error_line(cli("register", str(incoming / "bad.yaml"), expect=1))
    (incoming / "broken.yaml").write_text("files: [\n")
    assert "invalid YAML" in error_line(cli("register", str(incoming / "broken.yaml"), expect=1))
    assert node_db.search_files(model.FileRecordSearch())["count"] == 0
    assert (incoming / "sky/0100.png").exists()


# -- search ------------------------------------------------------------------------------

@pytest.fixture
def records(node_db, tmp_path: Path) -> dict:
    """Two cameras; six events over two nights; four stand-alone sky files."""
    make_status(node_db, CAMERA, utc(2024, 8, 1), latitude=52.2)
    make_status(node_db, OTHER, utc(2024, 8, 1), latitude=45.0)
    events = []
    for i in range(6):
        camera = CAMERA if i % 2 == 0 else OTHER
        when = utc(2024, 8, 11 + i // 3, 21 + i % 3)
        image = make_file(node_db, tmp_path, when, camera, mime_type="image/png",
                          semantic_type="meteorpi:meteor_image", file_name=f"m{i}.png")
        events.append(make_event(node_db, when, camera, files=[image], event_type="meteorpi:meteor",
                                 meta=[model.Meta("meteorpi:duration", 0.5 * (i + 1)),
                                       model.Meta("meteorpi:shower", "PER" if i < 4 else "SPO")]))
    sky = [make_file(node_db, tmp_path, utc(2024, 8, 12, 3, i), CAMERA, mime_type="image/png",
                     semantic_type="meteorpi:sky_clarity", meta=[model.Meta("meteorpi:sky_clarity", 20.0 * i)])
           for i in range(4)]
    return {"events": events, "sky": sky}


def _ids(result: dict, key: str) -> list[str]:
    return [item["event_id" if key == "events" else "file_id"] for item in result[key]]


def test_search_events_filters_and_paging(cli: Cli, node_db, records) -> None:
    everything = as_json(cli("--json", "search", "events", "--limit", "0"))
    assert everything == json.loads(json.dumps({"count": 6, "events": [
        e.as_dict() for e in node_db.search_events(model.EventSearch(limit=0))["events"]]}))
    newest_first = _ids(everything, "events")
    page = as_json(cli("--json", "search", "events", "--limit", "2", "--skip", "2"))
    assert page["count"] == 6 and _ids(page, "events") == newest_first[2:4]
    mine = as_json(cli("--json", "search", "events", "--camera", CAMERA, "--limit", "0"))
    assert {e["camera_id"] for e in mine["events"]} == {CAMERA} and mine["count"] == 3
    long = as_json(cli("--json", "search", "events", "--meta", "meteorpi:duration", ">=", "2",
                       "--meta", "meteorpi:shower", "=", "PER"))
    assert sorted(e["meta"][0]["value"] for e in long["events"]) == [2.0]
    night = as_json(cli("--json", "search", "events", "--after", "2024-08-12T12:00:00",
                        "--before", "1723593600000"))
    assert night["count"] == 3
    late = as_json(cli("--json", "search", "events", "--after-offset", "22:30"))
    assert late["count"] == 2
    south = as_json(cli("--json", "search", "events", "--lat-max", "50"))
    assert {e["camera_id"] for e in south["events"]} == {OTHER}
    assert as_json(cli("--json", "search", "events", "--type", "meteorpi:other"))["count"] == 0
    table = cli("search", "events", "--limit", "2").output
    assert "1-2 of 6 events" in table and newest_first[0] in table and "shower=" in table


def test_search_files(cli: Cli, records) -> None:
    alone = as_json(cli("--json", "search", "files", "--exclude-events"))
    assert sorted(_ids(alone, "files")) == sorted(f.file_id.hex for f in records["sky"])
    clear = as_json(cli("--json", "search", "files", "--semantic-type", "meteorpi:sky_clarity",
                        "--meta", "meteorpi:sky_clarity", "greater", "40"))
    assert clear["count"] == 2
    assert as_json(cli("--json", "search", "files", "--mime-type", "image/png"))["count"] == 10
    assert "1-3 of 10 files" in cli("search", "files", "--limit", "3").output
    assert "none of 0 events" in cli("search", "events", "--camera", "nobody").output


def test_search_bad_options(cli: Cli, records) -> None:
    assert "unknown --meta operator" in error_line(
        cli("search", "events", "--meta", "meteorpi:duration", "~", "1", expect=1))
    assert "before must not be less than after" in error_line(
        cli("search", "events", "--after", "2024-08-12", "--before", "2024-08-11", expect=1))
    assert "Invalid value for '--after'" in cli("search", "events", "--after", "tuesday", expect=2).output


def test_search_a_remote_node(cli: Cli, make_server, records, data_dir: Path) -> None:
    url = make_server(settings={"MPI_MAX_PAGE_SIZE": 4}).base_url()
    local = as_json(cli("--json", "search", "events", "--limit", "0"))
    remote = as_json(cli("--json", "search", "events", "--limit", "0", "--url", url))
    assert remote == local
    page = as_json(cli("--json", "search", "files", "--limit", "3", "--skip", "1", "--url", url))
    assert page["count"] == 10 and len(page["files"]) == 3
    refused = error_line(cli("search", "events", "--url", "http://127.0.0.1:1", expect=1))
    assert "Connection refused" in refused


# -- fsck --------------------------------------------------------------------------------

def test_fsck_finds_damage_and_repairs_only_orphans(cli: Cli, node_db, records, data_dir: Path) -> None:
    assert cli("fsck").output.startswith("Checked 10 files: 0 with problems")
    changed, truncated, deleted = records["sky"][:3]
    Path(node_db.file_path_for_id(changed.file_id)).write_bytes(b"X" * changed.file_size)
    with open(node_db.file_path_for_id(truncated.file_id), "r+b") as handle:
        handle.truncate(1)
    os.remove(node_db.file_path_for_id(deleted.file_id))
    store = data_dir / "files"
    orphan = "0123456789abcdef0123456789abcdef"
    (store / orphan).write_bytes(b"orphan")
    (store / ".tmp-partial").write_bytes(b"half")
    (store / "notes.txt").write_text("someone's notes")
    report = as_json(cli("--json", "fsck", expect=1))
    assert report["checked"] == 10
    assert sorted((p["file_id"], p["problem"]) for p in report["problems"]) == sorted([
        (changed.file_id.hex, "md5"), (truncated.file_id.hex, "size"), (deleted.file_id.hex, "missing")])
    assert (report["orphans"], report["temporaries"], report["foreign"]) == (
        [orphan], [".tmp-partial"], ["notes.txt"])
    assert "1 orphan content (no record)" in cli("fsck", expect=1).output
    kept = as_json(cli("--json", "fsck", "--repair", expect=1))  # too recent for the grace period
    assert kept["removed"] == [] and (store / orphan).exists()
    repaired = as_json(cli("--json", "fsck", "--repair", "--grace", "0", expect=1))
    assert repaired["removed"] == [".tmp-partial"]  # the orphan is the only copy of its bytes
    assert repaired["only_copies"] == [orphan] and (store / orphan).exists()
    rescue = data_dir / "rescued"
    restored = as_json(cli("--json", "fsck", "--restore", str(rescue), "--repair", "--grace", "0", expect=1))
    assert restored["restored"] == {orphan: str(rescue / orphan)} and restored["removed"] == [orphan]
    assert (rescue / orphan).read_bytes() == b"orphan"
    assert not (store / orphan).exists() and (store / "notes.txt").exists()
    assert node_db.search_files(model.FileRecordSearch())["count"] == 10
    os.remove(store / "notes.txt")
    node_db.set_high_water_mark(utc(2024, 8, 13), CAMERA)
    node_db.set_high_water_mark(utc(2024, 8, 12, 2), CAMERA)  # roll back: the damaged files go
    assert cli("fsck").output.startswith("Checked 5 files: 0 with problems")


# -- export ------------------------------------------------------------------------------

def test_export_configuration_commands(cli: Cli, node_db) -> None:
    added = as_json(cli("--json", "export", "add", "events", "central", "--target-url",
                        "http://central:8080/import", "--user", "importer", "--password", "pw",
                        "--camera", CAMERA, "--meta", "meteorpi:shower", "=", "PER",
                        "--description", "Perseids"))["config"]
    assert "password" not in added and added["password_set"] is True and added["enabled"] is False
    config_id = added["config_id"]
    stored = node_db.get_export_configuration(config_id)
    assert stored.search == model.EventSearch(camera_ids=[CAMERA], limit=0, meta_constraints=[
        model.MetaConstraint("string_equals", "meteorpi:shower", "PER")])
    assert (stored.password, stored.description) == ("pw", "Perseids")
    cli("export", "add", "files", "sky", "--target-url", "https://central/import", "--user", "u",
        "--semantic-type", "meteorpi:sky_clarity", "--exclude-events", "--enable", input="secret\n")
    listed = as_json(cli("--json", "export", "list"))["configs"]
    assert [(c["config_name"], c["type"], c["enabled"]) for c in listed] == [
        ("central", "event", False), ("sky", "file", True)]
    assert "central" in cli("export", "list").output
    cli("export", "enable", config_id[:8])
    cli("export", "disable", "sky")
    assert [c.enabled for c in node_db.get_export_configurations()] == [True, False]
    status = as_json(cli("--json", "export", "status"))["exports"]
    assert [(s["name"], s["pending"], s["completed"]) for s in status] == [("central", 0, 0), ("sky", 0, 0)]
    assert error_line(cli("export", "enable", "nothing", expect=1)) == "Error: no export configuration 'nothing'"
    cli("export", "delete", "sky", "--yes")
    assert [c.name for c in node_db.get_export_configurations()] == ["central"]
    assert "target_url" in error_line(cli("export", "add", "events", "x", "--target-url", "ftp://x",
                                          "--user", "u", input="p\n", expect=1))


def test_export_run_replicates_to_a_real_node(cli: Cli, node_db, records, start_node,
                                              target_db_url: str) -> None:
    target = start_node(target_db_url, "c0c0c0c0c0c0")
    add_import_user(target.db, cameras=(CAMERA, OTHER))
    cli("export", "add", "events", "perseids", "--target-url", target.import_url, "--user", "importer",
        "--password", "import-secret-1", "--meta", "meteorpi:shower", "=", "PER", "--enable")
    result = as_json(cli("--json", "export", "run"))
    assert result == {"marked": 4, "outcomes": {"complete": 4, "failed": 0, "confused": 0},
                      "deferred": 0, "next_export_time": None, "disabled_configs": []}
    with MeteorClient(target.base_url) as remote:
        replicated = remote.search_events(model.EventSearch(limit=0))
    assert replicated["count"] == 4
    assert {e.event_id for e in replicated["events"]} == {e.event_id for e in records["events"][:4]}
    again = as_json(cli("--json", "export", "run"))
    assert (again["marked"], again["outcomes"]) == (0, {"complete": 0, "failed": 0, "confused": 0})
    assert as_json(cli("--json", "export", "status"))["exports"][0]["completed"] == 4
