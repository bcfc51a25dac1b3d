"""Replication to a target served by gunicorn with several worker processes behind one address:
each worker has its own entity cache, so a short-form message may reach a worker that never saw
the entity. That must cost one ``continue-nocache`` round trip, never a failure or a duplicate.
(test_replication.py pins the exact cost with two in-process servers sharing one database.)"""

from __future__ import annotations

import base64
import hashlib
import socket
import time
import uuid

import pytest
import requests

import meteorpi_model as model
from meteorpi_fdb import MeteorDatabase
from tests.replication_helpers import (IMPORT_PASSWORD, IMPORT_USER, TARGET_ID, add_import_user,
                                       assert_events_replicated,
                                       assert_files_replicated, configure_export, exporter_for,
                                       populate, record_answers, start_gunicorn, stop_process)
from tests.replication_helpers import source, start_node, target_db_url  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow


@pytest.fixture
def target_store(tmp_path) -> str:
    return str(tmp_path / "gunicorn-files")


@pytest.fixture
def target_db(target_db_url, target_store):
    """The target's database, opened in the test process to check what arrived."""
    db = MeteorDatabase(target_db_url, target_store, installation_id=TARGET_ID)
    add_import_user(db)
    yield db
    db.close()


@pytest.fixture
def gunicorn_target(target_db, target_db_url, target_store, tmp_path):
    """Start gunicorn targets on the target database; all are stopped at the end."""
    processes = []

    def start(**kwargs) -> str:
        process, base_url = start_gunicorn(target_db_url, target_store,
                                           log_path=tmp_path / f"gunicorn-{len(processes)}.log", **kwargs)
        processes.append(process)
        return base_url

    yield start
    for process in processes:
        stop_process(process)


def test_export_to_two_gunicorn_workers(source, target_db, gunicorn_target, tmp_path):
    base_url = gunicorn_target(workers=2)
    populate(source.db, tmp_path / "in", events=10, files_per_event=3, loose_files=3)
    configure_export(source.db, f"{base_url}/import", model.EventSearch(), name="events")
    configure_export(source.db, f"{base_url}/import", model.FileRecordSearch(exclude_events=True),
                     name="files")
    exporter = exporter_for(source.db)
    answers = record_answers(exporter, f"{base_url}/import")

    summary = exporter.run_once()

    assert (summary.complete, summary.failed, summary.confused) == (13, 0, 0)
    assert summary.requests == len(answers)
    # About 30 short-form messages, each reaching either worker: some reach the one that has
    # not seen the entity, and cost one extra round trip each.
    assert answers.count("continue-nocache") > 0
    assert answers.count("complete") == 13 and "failed" not in answers
    assert_events_replicated(source.db, target_db, expected_count=10)
    assert_files_replicated(source.db, target_db, expected_count=33)
    assert target_db.check_file_store() == {"orphans": [], "missing": [], "strays": []}


def test_an_upload_cut_off_mid_stream_leaves_nothing_behind(source, target_db, gunicorn_target, tmp_path):
    base_url = gunicorn_target(workers=2)
    data = populate(source.db, tmp_path / "in", events=1, files_per_event=1, loose_files=0,
                    file_size=2 * 1024 * 1024)
    record = data.events[0].file_records[0]
    with open(source.db.file_path_for_id(record.file_id), "rb") as reader:
        content = reader.read()

    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode()
    body = head + content + f"\r\n--{boundary}--\r\n".encode()
    credentials = base64.b64encode(f"{IMPORT_USER}:{IMPORT_PASSWORD}".encode()).decode()
    host, port = base_url.removeprefix("http://").split(":")
    request = (f"POST /import/data/{record.file_id.hex}/{record.md5} HTTP/1.1\r\nHost: {host}\r\n"
               f"Authorization: Basic {credentials}\r\nContent-Length: {len(body)}\r\n"
               f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n").encode()
    with socket.create_connection((host, int(port))) as connection:
        connection.sendall(request + body[: len(body) // 3])
        time.sleep(0.5)
    time.sleep(1)

    assert not target_db.file_store.has_content(record.file_id)
    assert target_db.file_store.stray_files() == []
    assert requests.get(f"{base_url}/health", timeout=5).status_code == 200

    configure_export(source.db, f"{base_url}/import", model.EventSearch())
    summary = exporter_for(source.db).run_once()
    assert (summary.complete, summary.failed) == (1, 0)
    assert_events_replicated(source.db, target_db, expected_count=1)
    assert hashlib.md5(content).hexdigest() == record.md5
