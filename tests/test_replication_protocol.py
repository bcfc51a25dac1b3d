"""The import API on the wire (SPEC section 8): every answer state, the entity cache, bad input,
authentication, upload checks, and custom import receivers."""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import timedelta

import pytest
import requests

import meteorpi_model as model
from meteorpi_server import MeteorServer, importer_api
from tests.replication_helpers import (IMPORT_PASSWORD, IMPORT_USER, TARGET_ID, add_import_user,
                                       all_events, all_files, configure_export, exporter_for,
                                       populate)
from tests.replication_helpers import source, start_node, target, target_db_url  # noqa: F401 (fixtures)

AUTH = (IMPORT_USER, IMPORT_PASSWORD)


def post(node, body, auth=AUTH, path="") -> requests.Response:
    return requests.post(f"{node.import_url}{path}", json=body, auth=auth, timeout=10)


def answer(node, body, auth=AUTH) -> dict:
    response = post(node, body, auth)
    assert response.status_code == 200, response.text
    return response.json()


def upload(node, file_id: uuid.UUID, content: bytes, md5: str | None = None, auth=AUTH) -> requests.Response:
    md5 = md5 or hashlib.md5(content).hexdigest()
    return requests.post(f"{node.import_url}/data/{file_id.hex}/{md5}", auth=auth, timeout=10,
                         files={"file": ("content", content, "application/octet-stream")})


def content_of(node, record: model.FileRecord) -> bytes:
    with node.db.file_store.open(record.file_id) as reader:
        return reader.read()


def event_message(event: model.Event) -> dict:
    return {"type": "event", "event": event.as_dict()}


def short(entity_id: uuid.UUID) -> dict:
    return {"type": "cached_entity", "cached_entity_id": entity_id.hex}


@pytest.mark.both_stores
def test_an_event_import_asks_for_status_then_each_file_then_completes(source, target, tmp_path):
    data = populate(source.db, tmp_path / "in", events=1, files_per_event=2, loose_files=0)
    event = data.events[0]
    status = source.db.get_camera_status_by_id(event.status_id)

    assert answer(target, event_message(event)) == {"state": "need_status", "status_id": event.status_id.hex}
    assert answer(target, {"type": "status", "status": status.as_dict()}) == {"state": "continue"}
    for record in event.file_records:
        assert answer(target, short(event.event_id)) == {"state": "need_file_data", "file_id": record.file_id.hex}
        response = upload(target, record.file_id, content_of(source, record))
        assert (response.status_code, response.json()) == (200, {"state": "continue"})
    assert answer(target, short(event.event_id)) == {"state": "complete"}

    assert [e.as_dict() for e in all_events(target.db)] == [event.as_dict()]
    assert all_events(target.db, exclude_imported=True) == []
    # A completed entity leaves the cache; sent again in full it is complete at once.
    assert answer(target, short(event.event_id)) == {"state": "continue-nocache"}
    assert answer(target, event_message(event)) == {"state": "complete"}


@pytest.mark.both_stores
def test_a_file_import_needs_status_and_content(source, target, tmp_path):
    data = populate(source.db, tmp_path / "in", events=0, loose_files=1)
    record = data.loose_files[0]
    message = {"type": "file", "file": record.as_dict()}

    assert answer(target, message)["state"] == "need_status"
    answer(target, {"type": "status", "status": data.statuses[0].as_dict()})
    assert answer(target, short(record.file_id)) == {"state": "need_file_data", "file_id": record.file_id.hex}
    upload(target, record.file_id, content_of(source, record))
    assert answer(target, short(record.file_id)) == {"state": "complete"}
    assert [f.as_dict() for f in all_files(target.db)] == [record.as_dict()]
    assert content_of(target, record) == content_of(source, record)


def test_a_cache_miss_asks_for_the_full_entity(source, target, tmp_path):
    data = populate(source.db, tmp_path / "in", events=1, files_per_event=1, loose_files=0)
    event = data.events[0]

    assert answer(target, short(uuid.uuid4())) == {"state": "continue-nocache"}
    assert answer(target, event_message(event))["state"] == "need_status"
    # The cache is per importing user: another import user cannot refer to this entity.
    add_import_user(target.db, "other-importer", "another-secret")
    assert answer(target, short(event.event_id), auth=("other-importer", "another-secret")) == {
        "state": "continue-nocache"}
    # A restarted target has lost its cache.
    target.restart()
    assert answer(target, short(event.event_id)) == {"state": "continue-nocache"}
    assert answer(target, event_message(event))["state"] == "need_status"


@pytest.mark.both_stores
def test_content_with_the_wrong_md5_is_never_accepted(source, target, tmp_path):
    data = populate(source.db, tmp_path / "in", events=1, files_per_event=1, loose_files=0)
    event, record = data.events[0], data.events[0].file_records[0]
    answer(target, {"type": "status", "status": data.statuses[0].as_dict()})
    assert answer(target, event_message(event))["state"] == "need_file_data"

    # Bytes that do not match the MD5 in the URL: discarded, and the target asks again.
    response = upload(target, record.file_id, b"not the content", md5=record.md5)
    assert response.json() == {"state": "continue"}
    assert not target.db.file_store.has_content(record.file_id)
    assert answer(target, short(event.event_id)) == {"state": "need_file_data", "file_id": record.file_id.hex}

    # Bytes matching their own MD5 but not the record's (same size): discarded at import time.
    forged = bytes(record.file_size)
    assert upload(target, record.file_id, forged).json() == {"state": "continue"}
    assert answer(target, short(event.event_id)) == {"state": "need_file_data", "file_id": record.file_id.hex}
    assert not target.db.file_store.has_content(record.file_id)
    assert all_events(target.db) == []

    upload(target, record.file_id, content_of(source, record))
    assert answer(target, short(event.event_id)) == {"state": "complete"}
    assert target.db.file_store.stray_files() == []


@pytest.mark.both_stores
def test_content_for_a_file_already_here_is_ignored(source, target, tmp_path):
    data = populate(source.db, tmp_path / "in", events=1, files_per_event=1, loose_files=0)
    configure_export(source.db, target.import_url, model.EventSearch())
    assert exporter_for(source.db).run_once().complete == 1
    record = data.events[0].file_records[0]

    replacement = os.urandom(record.file_size)
    assert upload(target, record.file_id, replacement).json() == {"state": "continue"}
    assert content_of(target, record) == content_of(source, record)


def test_inconsistent_input_is_answered_failed(source, target, tmp_path):
    first = populate(source.db, tmp_path / "in", events=1, files_per_event=0, loose_files=0)
    second = populate(source.db, tmp_path / "in", events=1, files_per_event=0, loose_files=0,
                      seed=9, after=first)
    for status in first.statuses + second.statuses:
        assert answer(target, {"type": "status", "status": status.as_dict()})["state"] == "continue"
    # An event claiming the old status block at a time the new one is in force.
    forged = second.events[0].as_dict() | {"event_id": uuid.uuid4().hex,
                                           "status_id": first.statuses[0].status_id.hex}
    reply = answer(target, {"type": "event", "event": forged})
    assert reply["state"] == "failed" and "in force" in reply["message"]
    # A file record that names no content.
    record = populate(source.db, tmp_path / "in", events=0, loose_files=1, new_status=False,
                      seed=11, after=second).loose_files[0]
    no_content = {k: v for k, v in record.as_dict().items() if k != "md5"}
    reply = answer(target, {"type": "file", "file": no_content})
    assert reply["state"] == "failed" and "content" in reply["message"]
    assert all_events(target.db) == [] and all_files(target.db) == []


@pytest.mark.parametrize("body, fragment", [
    (b"{not json", "JSON"),
    (b"[1, 2]", "object"),
    (b'{"type": "song", "song": {}}', "type"),
    (b'{"type": "event", "event": "x"}', "event"),
    (b'{"type": "event", "event": {"camera_id": "c"}}', "event"),
    (b'{"type": "cached_entity", "cached_entity_id": "12"}', "cached_entity_id"),
    (b'{"type": "status", "status": {"lens": "", "sensor": "", "inst_url": "", "inst_name": "",'
     b' "orientation": {"alt": 1, "az": 2, "error": 0, "rot": 0, "width": 9},'
     b' "location": {"lat": 1, "long": 2, "gps": false, "error": 1}, "camera_id": "c"}}', "status_id"),
])
def test_malformed_messages_are_answered_400(target, body, fragment):
    response = requests.post(target.import_url, data=body, auth=AUTH, timeout=10,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert fragment in response.json()["message"]


@pytest.mark.both_stores
def test_malformed_uploads_are_answered_400(target):
    file_id = uuid.uuid4()
    good_md5 = hashlib.md5(b"x").hexdigest()
    cases = [
        (f"/data/not-a-uuid/{good_md5}", {"file": ("f", b"x")}),
        (f"/data/{file_id.hex}/nothex", {"file": ("f", b"x")}),
        (f"/data/{file_id.hex}/{good_md5}", {"other": ("f", b"x")}),
    ]
    for path, files in cases:
        response = requests.post(f"{target.import_url}{path}", files=files, auth=AUTH, timeout=10)
        assert response.status_code == 400, path
        assert response.json()["message"]
    assert not target.db.file_store.has_content(file_id)


def test_oversized_bodies_are_answered_413(start_node, target_db_url, source, tmp_path):
    node = start_node(target_db_url, TARGET_ID,
                      settings={"MPI_MAX_UPLOAD_BYTES": 64 * 1024, "MPI_MAX_JSON_BYTES": 8 * 1024})
    add_import_user(node.db)
    file_id = uuid.uuid4()
    response = upload(node, file_id, os.urandom(100 * 1024))
    assert response.status_code == 413 and response.json()["message"]
    assert not node.db.file_store.has_content(file_id)
    assert node.db.file_store.stray_files() == []
    response = post(node, {"type": "event", "event": {"padding": "x" * 10_000}})
    assert response.status_code == 413 and response.json()["message"]


def test_the_import_role_is_required(target):
    target.db.create_or_update_user("viewer", "viewer-secret", ["user", "camera_admin"])
    file_path = f"/data/{uuid.uuid4().hex}/{'0' * 32}"
    for auth in (None, (IMPORT_USER, "wrong password"), ("nobody", "x"), ("viewer", "viewer-secret")):
        for path in ("", file_path):
            response = requests.post(f"{target.import_url}{path}", json=short(uuid.uuid4()),
                                     auth=auth, timeout=10)
            assert response.status_code == 403, (auth, path)
            assert response.json()["message"]


class RecordingReceiver(importer_api.BaseImportReceiver):
    """A custom destination: remembers what it was sent and who sent it."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, uuid.UUID]] = []

    def receive_event(self, import_request):
        self.received.append(("event", self.get_importing_user_id(), import_request.entity.event_id))
        return None  # None means complete

    def receive_file_record(self, import_request):
        self.received.append(("file", self.get_importing_user_id(), import_request.entity.file_id))
        return import_request.response_complete()


def _custom_node(target_db_url, tmp_path, handler, url_path):
    server = MeteorServer(target_db_url, str(tmp_path / "custom-files"), 0, add_routes=False,
                          installation_id=TARGET_ID)
    importer_api.add_routes(server.meteor_app, handler=handler, url_path=url_path)
    add_import_user(server.db)
    return server, server.start_non_blocking()


def test_a_custom_import_receiver_gets_the_entities(source, target_db_url, tmp_path):
    data = populate(source.db, tmp_path / "in", events=3, files_per_event=2, loose_files=2)
    receiver = RecordingReceiver()
    server, stop = _custom_node(target_db_url, tmp_path, receiver, "/gateway/v1")
    try:
        url = f"http://127.0.0.1:{server.port}/gateway/v1"
        configure_export(source.db, url, model.EventSearch(), name="events")
        configure_export(source.db, url, model.FileRecordSearch(exclude_events=True), name="files")
        summary = exporter_for(source.db).run_once()
        # One request per entity: the receiver never asks for status or content.
        assert (summary.complete, summary.failed, summary.requests) == (5, 0, 5)
        assert sorted(receiver.received) == sorted(
            [("event", IMPORT_USER, e.event_id) for e in data.events]
            + [("file", IMPORT_USER, f.file_id) for f in data.loose_files])
        assert all_events(server.db) == [] and all_files(server.db) == []
        assert requests.post(f"http://127.0.0.1:{server.port}/import", json={}, auth=AUTH,
                             timeout=10).status_code == 404
    finally:
        stop()
        server.db.close()


def test_the_base_receiver_completes_everything(source, target_db_url, tmp_path):
    data = populate(source.db, tmp_path / "in", events=2, files_per_event=1, loose_files=0)
    server, stop = _custom_node(target_db_url, tmp_path, importer_api.BaseImportReceiver(), "/import")
    try:
        url = f"http://127.0.0.1:{server.port}/import"
        for event in data.events:
            reply = requests.post(url, json=event_message(event), auth=AUTH, timeout=10).json()
            assert reply == {"state": "complete"}
        reply = requests.post(url, json={"type": "status", "status": data.statuses[0].as_dict()},
                              auth=AUTH, timeout=10).json()
        assert reply == {"state": "continue"}
    finally:
        stop()
        server.db.close()


def test_import_request_answers(target):
    """The response helpers produce exactly the documented answer documents."""
    app = target.server.meteor_app.app
    file_id, status_id = uuid.uuid4(), uuid.uuid4()
    record = model.FileRecord("cam", "text/plain", "t", status_id, file_id=file_id)
    with app.test_request_context():
        request = importer_api.ImportRequest(record, file_id)
        assert request.entity_type == "file"
        assert request.response_complete().get_json() == {"state": "complete"}
        assert request.response_continue().get_json() == {"state": "continue"}
        assert request.response_need_status().get_json() == {"state": "need_status", "status_id": status_id.hex}
        assert importer_api.ImportRequest.response_continue_after_file().get_json() == {"state": "continue"}
        assert importer_api.ImportRequest.response_need_file_data(file_id).get_json() == {
            "state": "need_file_data", "file_id": file_id.hex}
        assert importer_api.ImportRequest.response_failed("nope").get_json() == {
            "state": "failed", "message": "nope"}
        missed = importer_api.ImportRequest(None, file_id)
        assert missed.entity_type == "none"
        assert missed.response_continue().get_json() == {"state": "continue-nocache"}


def test_timestamps_and_metadata_survive_the_trip(source, target, tmp_path):
    data = populate(source.db, tmp_path / "in", events=1, files_per_event=1, loose_files=0)
    configure_export(source.db, target.import_url, model.EventSearch())
    exporter_for(source.db).run_once()
    event = all_events(target.db)[0]
    original = data.events[0]
    assert event.event_time == original.event_time
    assert [m.as_dict() for m in event.meta] == [m.as_dict() for m in original.meta]
    peak = next(m for m in event.meta if str(m.key) == "meteorpi:peak")
    assert peak.value == original.event_time + timedelta(milliseconds=250)


@pytest.mark.both_stores
def test_an_event_sharing_a_file_already_here_needs_no_upload(source, target, tmp_path):
    data = populate(source.db, tmp_path / "in", events=1, files_per_event=2, loose_files=0)
    configure_export(source.db, target.import_url, model.EventSearch())
    assert exporter_for(source.db).run_once().complete == 1
    shared = data.events[0].file_records[0]
    original = content_of(target, shared)
    # Another event (say from another camera pipeline) links the same file; its copy of the
    # record even disagrees about the size: the stored file must not be touched.
    other = model.Event(shared.camera_id, data.events[0].event_time, uuid.uuid4(), "meteorpi:other",
                        data.events[0].status_id, [shared], [])
    message = event_message(other)
    message["event"]["files"][0]["file_size"] = shared.file_size + 1

    assert answer(target, message) == {"state": "complete"}
    assert content_of(target, shared) == original
    assert target.db.get_event(other.event_id).file_records[0].file_id == shared.file_id


class ExplodingReceiver(importer_api.BaseImportReceiver):
    """A receiver with bugs: they must become ``failed`` answers, never a 500."""

    def receive_event(self, import_request):
        raise RuntimeError("bug in a receiver")

    def receive_file_record(self, import_request):
        raise ValueError("this file is not welcome")

    def receive_file_data(self, file_id, file_data, md5_hex):
        raise RuntimeError("disk on fire")


def test_errors_in_a_receiver_are_failed_answers(source, target_db_url, tmp_path):
    data = populate(source.db, tmp_path / "in", events=1, files_per_event=1, loose_files=1)
    server, stop = _custom_node(target_db_url, tmp_path, ExplodingReceiver(), "/import")
    try:
        url = f"http://127.0.0.1:{server.port}/import"
        reply = requests.post(url, json=event_message(data.events[0]), auth=AUTH, timeout=10)
        assert reply.status_code == 200
        assert reply.json()["state"] == "failed" and "bug in a receiver" not in reply.json()["message"]
        reply = requests.post(url, json={"type": "file", "file": data.loose_files[0].as_dict()},
                              auth=AUTH, timeout=10)
        assert reply.json() == {"state": "failed", "message": "this file is not welcome"}
        record = data.loose_files[0]
        reply = requests.post(f"{url}/data/{record.file_id.hex}/{record.md5}", auth=AUTH, timeout=10,
                              files={"file": ("f", content_of(source, record))})
        assert reply.status_code == 200 and reply.json()["state"] == "failed"
    finally:
        stop()
        server.db.close()
