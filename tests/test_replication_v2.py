"""Replication protocol v2 between real nodes: discovery and fallback both ways, batches and
what they send, resume after a cut, verification and repair, per-entity answers, the camera
authorisation hook, malformed requests. (The 2015 scenarios run over v2 too: see the
``protocol`` parameter in test_replication.py and test_replication_faults.py.)"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import uuid
from datetime import datetime, timedelta

import pytest
import requests

import meteorpi_model as model
from meteorpi_fdb import MeteorDatabase, batch_stream
from meteorpi_fdb.exporter import ExportSettings, MeteorExporter
from meteorpi_server import MeteorServer, importer_api, service_api
from tests.replication_helpers import (IMPORT_PASSWORD, IMPORT_USER, SOURCE_ID, TARGET_ID,
                                       add_import_user, all_events, all_files,
                                       assert_events_replicated, assert_files_replicated,
                                       config_status, configure_export, drain_together, exporter_for, populate,
                                       record_answers)
from tests.helpers import replace_content
from tests.replication_helpers import source, start_node, target, target_db_url  # noqa: F401 (fixtures)

AUTH = (IMPORT_USER, IMPORT_PASSWORD)


def _v2(db, **kwargs):
    return exporter_for(db, protocol="auto", **kwargs)


def _serve_2015_only(db_url: str, store: str):
    """A target serving only the 2015 import routes (as a 2015 node does)."""
    server = MeteorServer(db_url, store, 0, add_routes=False, installation_id=TARGET_ID)
    importer_api.add_routes(server.meteor_app, v2=False)
    service_api.add_routes(server.meteor_app)
    add_import_user(server.db)
    return server, server.start_non_blocking()


# --- discovery and fallback ---------------------------------------------------------------


@pytest.mark.both_stores
def test_a_v2_exporter_falls_back_to_2015_for_a_2015_target(source, target_db_url, make_store_location, tmp_path):
    server, stop = _serve_2015_only(target_db_url, make_store_location("old-target"))
    try:
        populate(source.db, tmp_path / "in", events=3, files_per_event=2, loose_files=0)
        url = f"http://127.0.0.1:{server.port}/import"
        configure_export(source.db, url, model.EventSearch())
        assert requests.get(f"{url}/capabilities", auth=AUTH, timeout=10).status_code == 404
        exporter = _v2(source.db)
        answers = record_answers(exporter, url)
        summary = exporter.run_once()
        assert (summary.complete, summary.failed) == (3, 0)
        assert "need_file_data" in answers  # spoken in 2015
        # one capabilities look-up, then exactly the 2015 exchange: 1 + 2 per file per event,
        # 2 for the status block
        assert summary.requests == 1 + 3 * 5 + 2
        assert_events_replicated(source.db, server.db, expected_count=3)
    finally:
        stop()
        server.db.close()


@pytest.mark.both_stores
def test_a_2015_exporter_still_works_with_a_v2_target(source, target, tmp_path):
    populate(source.db, tmp_path / "in", events=2, files_per_event=2, loose_files=1)
    configure_export(source.db, target.import_url, model.EventSearch())
    capabilities = requests.get(f"{target.import_url}/capabilities", auth=AUTH, timeout=10).json()
    assert capabilities["protocols"] == ["2015", "v2"]
    exporter = exporter_for(source.db, protocol="2015")
    summary = exporter.run_once()
    assert (summary.complete, summary.requests) == (2, 2 * 5 + 2)
    assert_events_replicated(source.db, target.db, expected_count=2)


def test_capabilities_need_the_import_role(target):
    assert requests.get(f"{target.import_url}/capabilities", timeout=10).status_code == 403
    assert requests.get(f"{target.import_url}/capabilities", auth=(IMPORT_USER, "wrong"), timeout=10).status_code == 403


# --- batches ------------------------------------------------------------------------------


@pytest.mark.both_stores
def test_a_batch_is_a_handful_of_requests_and_nothing_is_sent_twice(source, target, tmp_path):
    data = populate(source.db, tmp_path / "in", events=12, files_per_event=3, loose_files=4, file_size=2000)
    configure_export(source.db, target.import_url, model.EventSearch(), name="events")
    configure_export(source.db, target.import_url, model.FileRecordSearch(exclude_events=True), name="files")
    exporter = _v2(source.db)

    summary = exporter.run_once()

    # capabilities, then manifest + batch for each configuration
    assert (summary.complete, summary.failed, summary.requests) == (16, 0, 5)
    content = sum(r.file_size for e in data.events for r in e.file_records) + 4 * 2000
    assert content <= summary.bytes_sent < content + 40_000  # content plus the records
    assert_events_replicated(source.db, target.db, expected_count=12)
    assert_files_replicated(source.db, target.db, expected_count=40)
    assert target.db.check_file_store() == {"orphans": [], "missing": [], "strays": []}
    assert source.db.export_backlog() == {"entities": 0, "bytes": 0}

    # A second configuration to the same target: everything is held, only manifests go.
    configure_export(source.db, target.import_url, model.EventSearch(), name="again")
    again = exporter.run_once()
    assert (again.complete, again.requests, again.bytes_sent) == (12, 1, 0)


@pytest.mark.both_stores
def test_batches_follow_the_count_and_byte_bounds(source, target, tmp_path):
    populate(source.db, tmp_path / "in", events=10, files_per_event=1, loose_files=0, file_size=1000)
    config = configure_export(source.db, target.import_url, model.EventSearch())
    source.db.set_export_settings(config.config_id, ExportSettings(batch_entities=4, batch_bytes=2500))
    exporter = _v2(source.db)
    exporter.mark_entities()
    sizes = []
    while (states := exporter.handle_next_batch()) is not None:
        sizes.append(len(states))
    assert sizes == [2, 2, 2, 2, 2]  # two 1000-byte events fit in 2500 bytes
    assert_events_replicated(source.db, target.db, expected_count=10)


@pytest.mark.both_stores
def test_content_the_target_holds_is_not_sent_again(source, target, tmp_path):
    data = populate(source.db, tmp_path / "in", events=2, files_per_event=2, loose_files=0)
    shared = data.events[0].file_records[0]
    # The target already holds every event's files (with their status blocks), as after an
    # earlier import: file exports leave event files out (SPEC 8), so they are placed directly.
    with target.db.batch() as batch:
        for record in (r for event in data.events for r in event.file_records):
            status = source.db.get_camera_status(record.file_time, record.camera_id)
            if not target.db.has_status_id(status.status_id):
                batch.import_status(status)
            copy = tmp_path / record.file_id.hex
            shutil.copyfile(source.db.file_path_for_id(record.file_id), copy)
            batch.import_file(record, IMPORT_USER, content_path=str(copy))
    assert len(all_files(target.db)) == 4
    configure_export(source.db, target.import_url, model.EventSearch(), name="events")
    summary = _v2(source.db).run_once()
    assert summary.complete == 2
    assert summary.bytes_sent < shared.file_size  # records only: every file was already there
    assert_events_replicated(source.db, target.db, expected_count=2)


@pytest.mark.both_stores
def test_corrupt_content_fails_its_entity_alone(source, target, tmp_path):
    data = populate(source.db, tmp_path / "in", events=3, files_per_event=2, loose_files=0)
    bad = data.events[1]
    content = _file_content(source.db, bad.file_records[1])
    replace_content(source.db, bad.file_records[1].file_id, b"\xff" * 16 + content[16:])  # same size, other MD5
    config = configure_export(source.db, target.import_url, model.EventSearch())
    summary = _v2(source.db).run_once()
    assert (summary.complete, summary.failed) == (2, 1)
    assert {e.event_id for e in all_events(target.db)} == {data.events[0].event_id, data.events[2].event_id}
    assert not target.db.file_store.has_content(bad.file_records[1].file_id)
    assert config_status(source.db, config.config_id)["failure_count"] == 1
    assert target.db.check_file_store()["strays"] == []


@pytest.mark.both_stores
def test_an_inconsistent_entity_fails_alone_in_its_batch(source, target, tmp_path):
    data = populate(source.db, tmp_path / "in", events=3, files_per_event=1, loose_files=0)
    # The target knows another status block for the source camera at that time.
    other = model.CameraStatus.from_dict({**data.statuses[0].as_dict(), "inst_name": "elsewhere"})
    other.status_id = uuid.uuid4()
    other.valid_from = data.events[2].event_time - timedelta(seconds=30)
    target.db.import_camera_status(other)
    configure_export(source.db, target.import_url, model.EventSearch())
    summary = _v2(source.db).run_once()
    assert (summary.complete, summary.failed) == (2, 1)
    assert data.events[2].event_id not in {e.event_id for e in all_events(target.db)}


def test_the_camera_authorisation_hook_is_asked_once_per_camera(source, target, tmp_path):
    populate(source.db, tmp_path / "in", events=3, files_per_event=1, loose_files=0)
    configure_export(source.db, target.import_url, model.EventSearch())
    asked = []

    def may_import(user_id, camera_id):
        asked.append((user_id, camera_id))
        return False

    target.server.meteor_app.v2_importer.may_import = may_import
    summary = _v2(source.db).run_once()
    assert (summary.complete, summary.failed) == (0, 3)
    assert asked == [(IMPORT_USER, SOURCE_ID)]
    assert all_events(target.db) == []


# --- resume -------------------------------------------------------------------------------


def _file_content(db: MeteorDatabase, record: model.FileRecord) -> bytes:
    with db.file_store.open(record.file_id) as content:
        return content.read()


@pytest.mark.both_stores
def test_content_of_a_cut_batch_is_kept_and_reported_held(source, target, tmp_path):
    data = populate(source.db, tmp_path / "in", events=1, files_per_event=3, loose_files=0)
    records = data.events[0].file_records
    first = records[0]
    # A batch cut off after its first file: no end frame.
    body = (batch_stream.MAGIC + batch_stream.content_header(first.file_id, first.md5, first.file_size)
            + _file_content(source.db, first) + batch_stream.frame("event", event=data.events[0].as_dict()))
    answer = requests.post(f"{target.import_url}/v2/batch", data=body, auth=AUTH, timeout=10)
    assert answer.status_code == 400 and "end frame" in answer.json()["message"]
    assert all_events(target.db) == []
    manifest = requests.post(f"{target.import_url}/v2/manifest", auth=AUTH, timeout=10, json={
        "entities": [{"type": "event", "id": data.events[0].event_id.hex}],
        "statuses": [data.events[0].status_id.hex],
        "files": [{"id": r.file_id.hex, "md5": r.md5, "size": r.file_size} for r in records]}).json()
    assert manifest == {"entities_held": [], "statuses_lacking": [data.events[0].status_id.hex],
                        "content_lacking": [r.file_id.hex for r in records[1:]]}

    configure_export(source.db, target.import_url, model.EventSearch())
    summary = _v2(source.db).run_once()
    assert summary.complete == 1
    assert summary.bytes_sent < sum(r.file_size for r in records)  # the first file was not re-sent
    assert_events_replicated(source.db, target.db, expected_count=1)
    assert target.db.check_file_store() == {"orphans": [], "missing": [], "strays": []}


@pytest.mark.directory_store("hard links and inodes are the directory store's; a bucket's server-side copy "
                             "is test_object_store.py's")
def test_a_verified_part_is_linked_into_the_store_not_copied(source, target, tmp_path):
    """Content is verified and flushed once, as it arrives: the import links that very file
    (same inode) into the store and removes the part after the commit."""
    data = populate(source.db, tmp_path / "in", events=1, files_per_event=2, loose_files=0)
    first = data.events[0].file_records[0]
    body = (batch_stream.MAGIC + batch_stream.content_header(first.file_id, first.md5, first.file_size)
            + _file_content(source.db, first))  # cut off: no end frame
    assert requests.post(f"{target.import_url}/v2/batch", data=body, auth=AUTH, timeout=10).status_code == 400
    part = target.db.part_store.path(first.file_id, first.md5)
    inode = os.stat(part).st_ino

    configure_export(source.db, target.import_url, model.EventSearch())
    assert _v2(source.db).run_once().complete == 1
    stored = os.stat(target.db.file_path_for_id(first.file_id))
    assert (stored.st_ino, stored.st_nlink) == (inode, 1)
    assert not os.path.exists(part)
    assert_events_replicated(source.db, target.db, expected_count=1)
    assert target.db.check_file_store() == {"orphans": [], "missing": [], "strays": []}


@pytest.mark.both_stores
def test_a_batch_cut_by_a_target_restart_resumes(source, target, tmp_path, monkeypatch):
    from meteorpi_fdb import _exporter_v2

    data = populate(source.db, tmp_path / "in", events=4, files_per_event=2, loose_files=0, file_size=100_000)
    configure_export(source.db, target.import_url, model.EventSearch())
    real_read = _exporter_v2.BatchBody.read
    cut = {"done": False}

    def read(self, size=-1):
        if not cut["done"] and self.sent > 300_000:
            cut["done"] = True
            target.restart()  # the connection breaks mid-stream
            raise ConnectionResetError("cut")
        return real_read(self, size)

    monkeypatch.setattr(_exporter_v2.BatchBody, "read", read)
    summary = _v2(source.db).run_once()
    assert cut["done"]
    assert (summary.complete, summary.failed) == (4, 0)
    assert_events_replicated(source.db, target.db, expected_count=4)
    assert target.db.check_file_store() == {"orphans": [], "missing": [], "strays": []}


# --- two exporters, verify ----------------------------------------------------------------


@pytest.mark.both_stores
def test_two_batch_exporters_at_once_send_each_task_once(source, target, db_url, tmp_path):
    populate(source.db, tmp_path / "in", events=16, files_per_event=2, loose_files=6, file_size=1500)
    for name, search in (("events", model.EventSearch()), ("files", model.FileRecordSearch(exclude_events=True))):
        config = configure_export(source.db, target.import_url, search, name=name)
        source.db.set_export_settings(config.config_id, ExportSettings(batch_entities=3))
    second_db = MeteorDatabase(db_url, source.file_store, installation_id=SOURCE_ID)
    exporters = [_v2(source.db), _v2(second_db)]
    exporters[0].mark_entities()
    handled = drain_together(exporters, MeteorExporter.handle_next_batch)
    second_db.close()
    tasks = [(c, e) for c, e, _ in handled[0] + handled[1]]
    assert len(tasks) == 22 and len(set(tasks)) == 22
    assert {state for *_, state in handled[0] + handled[1]} == {"complete"}
    assert_events_replicated(source.db, target.db, expected_count=16)
    assert_files_replicated(source.db, target.db, expected_count=38)


@pytest.mark.both_stores
def test_verify_repairs_a_target_that_lost_data(source, target, tmp_path):
    data = populate(source.db, tmp_path / "in", events=6, files_per_event=2, loose_files=0)
    config = configure_export(source.db, target.import_url, model.EventSearch())
    exporter = _v2(source.db)
    assert exporter.run_once().complete == 6

    clean = exporter.verify(config.config_id)
    assert (clean.entities, clean.nights_differing, clean.lacking, clean.requeued) == (6, 0, 0, 0)
    assert clean.requests == 1  # one digest request: every night agrees

    # The target is restored from an old backup: the last four events and their files are gone.
    target.db.set_high_water_mark(data.events[-1].event_time + timedelta(hours=1), camera_id=SOURCE_ID)
    target.db.set_high_water_mark(data.events[1].event_time + timedelta(seconds=30), camera_id=SOURCE_ID)
    assert len(all_events(target.db)) == 2
    assert exporter.run_once().tasks == 0  # the queue believes everything is there

    report = exporter.verify(config.config_id)
    assert (report.nights_differing, report.lacking, report.requeued) == (1, 4, 4)
    assert source.db.get_export_settings(config.config_id).last_verified is not None
    summary = exporter.run_once()
    assert (summary.complete, summary.failed) == (4, 0)
    assert_events_replicated(source.db, target.db, expected_count=6)


def test_verify_needs_a_v2_target(source, target_db_url, tmp_path):
    server, stop = _serve_2015_only(target_db_url, str(tmp_path / "old-target"))
    try:
        config = configure_export(source.db, f"http://127.0.0.1:{server.port}/import", model.EventSearch())
        with pytest.raises(ValueError, match="2015"):
            _v2(source.db).verify(config.config_id)
    finally:
        stop()
        server.db.close()


# --- malformed requests -------------------------------------------------------------------


@pytest.mark.parametrize("body, fragment", [
    ({"entities": "x"}, "entities must be a list"),
    ({"entities": [{"type": "status", "id": "ab"}]}, "entities[0]"),
    ({"entities": [{"type": "event", "id": "zz"}]}, "entities[0].id"),
    ({"files": [{"id": "0" * 32, "md5": "nope", "size": 1}]}, "md5"),
    ({"files": [{"id": "0" * 32, "md5": "0" * 32, "size": -1}]}, "size"),
    ({"statuses": [5]}, "statuses[0]"),
])
def test_malformed_manifests_are_answered_400(target, body, fragment):
    answer = requests.post(f"{target.import_url}/v2/manifest", json=body, auth=AUTH, timeout=10)
    assert answer.status_code == 400 and fragment in answer.json()["message"]


def _content_frame(data: bytes, md5: str | None = None) -> bytes:
    file_id = uuid.uuid4()
    return batch_stream.content_header(file_id, md5 or hashlib.md5(data).hexdigest(), len(data)) + data


@pytest.mark.both_stores
@pytest.mark.parametrize("body, fragment", [
    (b"", "MPI-BATCH/2"),
    (b"hello\n", "MPI-BATCH/2"),
    (batch_stream.MAGIC + b"{not json\n", "not valid JSON"),
    (batch_stream.MAGIC + b'{"kind": "gift"}\n', "kind"),
    (batch_stream.MAGIC + b'{"kind": "end", "frames": 3}\n', "end frame counts"),
    (batch_stream.MAGIC + b'{"kind": "event", "event": {"camera_id": 5}}\n{"kind": "end", "frames": 1}\n', "frame 1 (event)"),
    (batch_stream.MAGIC + b'{"kind": "content", "file_id": "x", "md5": "0", "size": 1}\nA', "file_id"),
    (batch_stream.MAGIC + _content_frame(b"abc")[:-1], "ended"),
])
def test_malformed_batches_are_answered_400_and_import_nothing(target, body, fragment):
    answer = requests.post(f"{target.import_url}/v2/batch", data=body, auth=AUTH, timeout=10)
    assert answer.status_code == 400, answer.text
    assert fragment in answer.json()["message"]
    assert all_events(target.db) == [] and all_files(target.db) == []


def test_a_batch_frame_longer_than_the_json_limit_is_refused(start_node, target_db_url):
    node = start_node(target_db_url, TARGET_ID, settings={"MPI_MAX_JSON_BYTES": 1000})
    add_import_user(node.db)
    body = batch_stream.MAGIC + batch_stream.frame("file", file={"x": "y" * 2000})
    answer = requests.post(f"{node.import_url}/v2/batch", data=body, auth=AUTH, timeout=10)
    assert answer.status_code == 400 and "longer than 1000 bytes" in answer.json()["message"]


def test_v2_routes_need_the_import_role(target):
    add_import_user(target.db, "viewer", "viewer-secret", ["user"])
    for path in ("v2/manifest", "v2/batch", "v2/digest"):
        assert requests.post(f"{target.import_url}/{path}", json={}, timeout=10).status_code == 403
        assert requests.post(f"{target.import_url}/{path}", json={}, auth=("viewer", "viewer-secret"),
                             timeout=10).status_code == 403


def test_malformed_digest_requests_are_answered_400(target):
    for body, fragment in (({"type": "x", "nights": []}, "type"), ({"type": "event", "nights": 3}, "nights"),
                           ({"type": "event", "nights": [{"camera_id": "a", "night": "soon", "digest": "d"}]},
                            "YYYY-MM-DD")):
        answer = requests.post(f"{target.import_url}/v2/digest", json=body, auth=AUTH, timeout=10)
        assert answer.status_code == 400 and fragment in answer.json()["message"]


# --- bandwidth, windows, deadlines --------------------------------------------------------


def test_the_bandwidth_limit_is_honoured_within_ten_percent(source, target, tmp_path):
    populate(source.db, tmp_path / "in", events=4, files_per_event=2, loose_files=0, file_size=100_000)
    config = configure_export(source.db, target.import_url, model.EventSearch())
    limit = 250_000  # bytes per second: 800 KB take about three seconds, well within a loaded machine's pace
    source.db.set_export_settings(config.config_id, ExportSettings(bwlimit=limit))
    exporter = _v2(source.db)
    exporter.mark_entities()
    sent: list[tuple[float, int]] = []
    states = exporter.handle_next_batch(on_bytes=lambda n: sent.append((time.monotonic(), n)))
    assert [s.state for s in states] == ["complete"] * 4
    # The upload stream's own rate: the bytes after its first piece over the time they took.
    total = sum(n for _, n in sent[1:])
    seconds = sent[-1][0] - sent[0][0]
    assert total > 750_000
    assert 0.9 * limit <= total / seconds <= 1.1 * limit, total / seconds


def test_nothing_is_sent_outside_the_upload_window(source, target, tmp_path):
    populate(source.db, tmp_path / "in", events=2, files_per_event=1, loose_files=0)
    config = configure_export(source.db, target.import_url, model.EventSearch())
    now = datetime.now().astimezone()
    closed = ((now + timedelta(hours=1)).time().replace(second=0, microsecond=0),
              (now + timedelta(hours=2)).time().replace(second=0, microsecond=0))
    source.db.set_export_settings(config.config_id, ExportSettings(window=closed))
    summary = _v2(source.db).run_once()
    assert (summary.marked, summary.tasks) == (2, 0)
    assert all_events(target.db) == []
    open_now = ((now - timedelta(hours=1)).time().replace(second=0, microsecond=0),
                (now + timedelta(hours=1)).time().replace(second=0, microsecond=0))
    source.db.set_export_settings(config.config_id, ExportSettings(window=open_now))
    assert _v2(source.db).run_once().complete == 2


def test_an_upload_stops_at_the_deadline_and_resumes_later(source, target, tmp_path):
    populate(source.db, tmp_path / "in", events=3, files_per_event=2, loose_files=0, file_size=100_000)
    config = configure_export(source.db, target.import_url, model.EventSearch())
    source.db.set_export_settings(config.config_id, ExportSettings(bwlimit=300_000))
    exporter = _v2(source.db)
    assert exporter.run_once(deadline=datetime.now().astimezone() - timedelta(seconds=1)).tasks == 0
    started = time.monotonic()
    summary = exporter.run_once(deadline=datetime.now().astimezone() + timedelta(seconds=1))
    assert time.monotonic() - started < 3
    assert summary.tasks == 0 and all_events(target.db) == []
    assert config_status(source.db, config.config_id)["pending"] == 3  # released, not failed
    assert config_status(source.db, config.config_id)["failure_count"] == 0
    source.db.set_export_settings(config.config_id, ExportSettings())
    summary = exporter.run_once()
    assert summary.complete == 3
    # (a gunicorn target keeps what arrived before the cut: test_replication_gunicorn.py)
    assert_events_replicated(source.db, target.db, expected_count=3)


@pytest.mark.both_stores
def test_events_sharing_a_new_file_in_one_batch(source, target, tmp_path):
    data = populate(source.db, tmp_path / "in", events=1, files_per_event=2, loose_files=0)
    first = data.events[0]
    second = source.db.register_event(None, first.event_time + timedelta(seconds=5), model.NSString("other"),
                                      [first.file_records[1]], [])
    configure_export(source.db, target.import_url, model.EventSearch())
    summary = _v2(source.db).run_once()
    assert (summary.complete, summary.failed) == (2, 0)
    assert target.db.get_event(second.event_id).file_records[0].file_id == first.file_records[1].file_id
    assert_events_replicated(source.db, target.db, expected_count=2)
    assert not any(target.db.part_store.held(r.file_id, r.md5, r.file_size) for r in first.file_records)
