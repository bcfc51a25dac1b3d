"""Uploads are bounded (issue 11): content uploaded to the import API for an entity that never
arrives is tracked per import user, held to a quota, removed after it expires, and reported by
``fsck`` apart from true orphans."""

from __future__ import annotations

import hashlib
import io
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

import meteorpi_model as model
from tests.replication_helpers import IMPORT_PASSWORD, IMPORT_USER, SOURCE_ID
from tests.server_helpers import Client, cheap_password_hashing, make_server  # noqa: F401
from tests.test_cli import Cli, as_json, cli, data_dir, node_db  # noqa: F401

HOUR_MS = 3600 * 1000


def _upload(http: Client, content: bytes, file_id: uuid.UUID | None = None):
    file_id = file_id or uuid.uuid4()
    md5 = hashlib.md5(content).hexdigest()
    return file_id, http.post(f"/import/data/{file_id.hex}/{md5}", files={"file": ("f", content)})


def _importer(make_server, **settings):
    server = make_server(settings=settings)
    server.db.create_or_update_user(IMPORT_USER, IMPORT_PASSWORD, ["import"])
    server.db.grant_camera(IMPORT_USER, SOURCE_ID)
    http = Client(server.base_url())
    http.session.auth = (IMPORT_USER, IMPORT_PASSWORD)
    return server, http


def _status(db) -> model.CameraStatus:
    status = model.CameraStatus(
        lens="l", sensor="s", inst_url="https://example.org", inst_name="cam", camera_id=SOURCE_ID,
        orientation=model.Orientation(altitude=45.0, azimuth=0.0, error=1.0, rotation=0.0,
                                      width_of_field=90.0),
        location=model.Location(latitude=52.0, longitude=0.5, gps=False, error=10.0))
    return db.update_camera_status(status, time=model.now() - timedelta(days=1), camera_id=SOURCE_ID)


@pytest.mark.both_stores
def test_the_pending_quota_is_per_user_and_freed_when_records_arrive(make_server) -> None:
    server, http = _importer(make_server, MPI_UPLOAD_QUOTA_BYTES=1000)
    db = server.db
    first_content = b"a" * 600
    first, answer = _upload(http, first_content)
    assert answer.json() == {"state": "continue"}
    assert [(p["file_id"], p["user_id"], p["size"]) for p in db.pending_uploads()] == [
        (first, IMPORT_USER, 600)]

    second, refused = _upload(http, b"b" * 600)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "quota" in refused.json()["message"] and IMPORT_USER in refused.json()["message"]
    assert not db.file_store.has_content(second)
    too_big = _upload(http, b"c" * 1200)[1]
    assert too_big.status_code == 413 and "larger than the quota" in too_big.json()["message"]
    again = _upload(http, first_content, first)[1]  # the same file again does not count twice
    assert again.json() == {"state": "continue"}

    # Another import user has a quota of its own.
    db.create_or_update_user("node2", "node2-password", ["import"])
    assert _upload(http, b"d" * 600)[1].status_code == 429
    other = Client(server.base_url())
    other.session.auth = ("node2", "node2-password")
    assert _upload(other, b"d" * 600)[1].json() == {"state": "continue"}

    # The record arrives: the upload is no longer pending, and the quota is free again.
    status = _status(db)
    record = model.FileRecord(SOURCE_ID, "image/png", model.NSString("meteor_image"), file_size=600,
                              md5=hashlib.md5(first_content).hexdigest(), file_id=first,
                              file_time=model.now() - timedelta(hours=1), status_id=status.status_id)
    assert http.post("/import", json={"type": "file", "file": record.as_dict()}).json() == {
        "state": "complete"}
    assert [p["user_id"] for p in db.pending_uploads()] == ["node2"]
    assert _upload(http, b"b" * 600)[1].json() == {"state": "continue"}


@pytest.mark.both_stores
def test_expired_uploads_are_removed_but_never_referenced_content(db, tmp_path: Path) -> None:
    status = _status(db)
    now = int(time.time() * 1000)
    orphan, kept, fresh = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for file_id in (orphan, kept, fresh):
        db.file_store.put_stream(file_id, io.BytesIO(b"content"))
    db.record_pending_upload(orphan, IMPORT_USER, 7, now_ms=now - 2 * HOUR_MS)
    db.record_pending_upload(kept, IMPORT_USER, 7, now_ms=now - 2 * HOUR_MS)
    db.record_pending_upload(fresh, IMPORT_USER, 7, now_ms=now)
    record = model.FileRecord(SOURCE_ID, "image/png", model.NSString("sky"), file_size=7,
                              md5=hashlib.md5(b"content").hexdigest(), file_id=kept,
                              file_time=model.now() - timedelta(hours=2), status_id=status.status_id)
    db.import_file_record(record, IMPORT_USER)  # its record arrived (the row here was not tidied)
    assert db.pending_upload_usage(IMPORT_USER) == (14, now - 2 * HOUR_MS)  # not the kept one

    assert db.remove_expired_uploads(3600) == [orphan]

    assert not db.file_store.has_content(orphan)
    assert db.file_store.has_content(kept) and db.file_store.has_content(fresh)
    assert [p["file_id"] for p in db.pending_uploads()] == [fresh]
    assert db.remove_expired_uploads(3600) == []


@pytest.mark.both_stores
def test_an_upload_removes_expired_uploads(make_server) -> None:
    server, http = _importer(make_server, MPI_UPLOAD_EXPIRY_SECONDS=60)
    stale = uuid.uuid4()
    server.db.file_store.put_stream(stale, io.BytesIO(b"never followed by its record"))
    server.db.record_pending_upload(stale, "someone", 28, now_ms=int(time.time() * 1000) - 61_000)
    assert _upload(http, b"new content")[1].json() == {"state": "continue"}
    assert not server.db.file_store.has_content(stale)
    assert [p["user_id"] for p in server.db.pending_uploads()] == [IMPORT_USER]


def test_fsck_reports_pending_uploads_apart_from_orphans(cli: Cli, node_db, data_dir: Path) -> None:
    pending, orphan = uuid.uuid4(), uuid.uuid4()
    node_db.file_store.put_stream(pending, io.BytesIO(b"waiting for its record"))
    node_db.record_pending_upload(pending, IMPORT_USER, 22)
    report = as_json(cli("--json", "fsck"))  # pending content is not a problem
    assert (report["pending"], report["orphans"]) == ([pending.hex], [])
    assert "1 pending uploads (content waiting for its record)" in cli("fsck").output

    node_db.file_store.put_stream(orphan, io.BytesIO(b"nobody's"))
    report = as_json(cli("--json", "fsck", expect=1))
    assert (report["pending"], report["orphans"]) == ([pending.hex], [orphan.hex])
    # The expired upload goes; the true orphan is the only copy of its bytes, so it stays
    # (reported) until it is restored (docs/cli.md, fsck).
    repaired = as_json(cli("--json", "fsck", "--repair", "--grace", "0", expect=1))
    assert repaired["removed"] == [pending.hex]
    assert (repaired["pending"], repaired["only_copies"]) == ([], [orphan.hex])
    assert node_db.pending_uploads() == []
