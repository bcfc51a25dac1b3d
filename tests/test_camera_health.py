"""GET /cameras/health: last status change, event, file and import per camera, high water mark,
export queue, typical gap and quiet cameras; login required (any role). Real HTTP."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

import meteorpi_model as model
from tests.helpers import make_event, make_file, make_status, remote_file, remote_status
from tests.server_helpers import (ADMIN, IMPORTER, USER, Client, add_users,  # noqa: F401
                                  cheap_password_hashing, client, make_server, server)

QUIET, BUSY, REMOTE, SILENT = "cam-quiet", "cam-busy", "remote000001", "cam-silent"


def ms(when) -> int:
    return model.utc_datetime_to_milliseconds(when)


@pytest.fixture
def data(server, tmp_path: Path) -> dict:
    """QUIET: ten events 10 minutes apart, three days ago; BUSY: ten events 10 minutes apart up
    to an hour ago and a file; REMOTE: an imported file; SILENT: a status and nothing else."""
    db = server.db
    add_users(db)
    now = model.now()
    start = now - timedelta(days=10)
    statuses = {camera: make_status(db, camera, start + timedelta(minutes=i))
                for i, camera in enumerate((QUIET, BUSY, SILENT))}
    quiet = [make_event(db, now - timedelta(days=3, minutes=10 * k), QUIET) for k in range(10)]
    busy = [make_event(db, now - timedelta(hours=1, minutes=10 * k), BUSY) for k in range(10)]
    busy_file = make_file(db, tmp_path, now - timedelta(hours=2), BUSY)
    remote = remote_status(db, start)
    record = remote_file(db, remote, now - timedelta(days=1))
    before_import = ms(model.now())
    db.import_file_record(record, "importer")
    config = model.ExportConfiguration(target_url="http://central.example.org/import", user_id="exporter",
                                       password="pw", search=model.EventSearch(), name="events",
                                       description="", enabled=True)
    db.create_or_update_export_configuration(config)
    db.mark_entities_to_export(config)
    return {"now": ms(now), "statuses": statuses, "quiet": quiet, "busy": busy, "busy_file": busy_file,
            "remote": remote, "record": record, "before_import": before_import, "config": config}


def health(client: Client, auth=USER) -> dict:
    answer = client.get("/cameras/health", auth=auth)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_each_camera_with_what_was_last_heard_of_it(client: Client, server, data) -> None:
    started = ms(model.now())
    answer = health(client)
    assert started <= answer["now"] <= ms(model.now())
    cameras = {entry["camera_id"]: entry for entry in answer["cameras"]}
    assert [entry["camera_id"] for entry in answer["cameras"]] == sorted([QUIET, BUSY, REMOTE, SILENT])
    for camera in (QUIET, BUSY, REMOTE, SILENT):
        mark = server.db.get_high_water_mark(camera)
        assert cameras[camera]["high_water_mark"] == (None if mark is None else ms(mark))
    assert cameras[QUIET]["last_status_change"] == ms(data["statuses"][QUIET].valid_from)
    assert cameras[REMOTE]["last_status_change"] == ms(data["remote"].valid_from)
    assert cameras[QUIET]["last_event"] == ms(data["quiet"][0].event_time)
    assert cameras[BUSY]["last_event"] == ms(data["busy"][0].event_time)
    assert cameras[BUSY]["last_file"] == ms(data["busy_file"].file_time)
    assert cameras[REMOTE]["last_file"] == ms(data["record"].file_time)
    assert data["before_import"] <= cameras[REMOTE]["last_import"] <= started
    for camera in (QUIET, BUSY, SILENT):
        assert cameras[camera]["last_import"] is None
    assert cameras[SILENT] | {"camera_id": None} == {
        "camera_id": None, "last_status_change": ms(data["statuses"][SILENT].valid_from), "last_event": None,
        "last_file": None, "last_import": None, "high_water_mark": cameras[SILENT]["high_water_mark"],
        "export": {"pending": 0, "failed": 0}, "typical_gap_s": None, "quiet": False, "quiet_for_s": None}


def test_quiet_cameras_are_flagged(client: Client, data) -> None:
    answer = health(client)
    cameras = {entry["camera_id"]: entry for entry in answer["cameras"]}
    assert cameras[QUIET]["typical_gap_s"] == cameras[BUSY]["typical_gap_s"] == 600.0
    assert cameras[QUIET]["quiet"] is True and cameras[BUSY]["quiet"] is False
    assert cameras[QUIET]["quiet_for_s"] == pytest.approx((answer["now"] - cameras[QUIET]["last_event"]) / 1000)
    assert 3500 < cameras[BUSY]["quiet_for_s"] < 3600 + 60
    assert cameras[REMOTE]["quiet"] is False and cameras[REMOTE]["typical_gap_s"] is None


def test_export_queue_per_camera(client: Client, server, data) -> None:
    cameras = {entry["camera_id"]: entry for entry in health(client)["cameras"]}
    assert cameras[QUIET]["export"] == {"pending": 10, "failed": 0}
    assert cameras[BUSY]["export"] == {"pending": 10, "failed": 0}
    assert cameras[REMOTE]["export"] == {"pending": 0, "failed": 0}
    server.db.record_export_failure(data["config"].config_id)
    task = server.db.get_next_entity_to_export()
    task.set_status(0)  # one event exported
    cameras = {entry["camera_id"]: entry for entry in health(client)["cameras"]}
    exported = server.db.get_event(task.entity_id).camera_id
    other = BUSY if exported == QUIET else QUIET
    assert cameras[exported]["export"] == {"pending": 9, "failed": 9}
    assert cameras[other]["export"] == {"pending": 10, "failed": 10}


@pytest.mark.parametrize("auth", [None, ("viewer", "wrong"), ("nobody", "x")])
def test_login_is_required(client: Client, data, auth) -> None:
    answer = client.get("/cameras/health", auth=auth)
    assert answer.status_code == 403 and "cameras" not in answer.json()


@pytest.mark.parametrize("auth", [USER, ADMIN, IMPORTER])
def test_any_role_may_look(client: Client, data, auth) -> None:
    assert len(health(client, auth)["cameras"]) == 4


def test_no_cameras(client: Client, server) -> None:
    add_users(server.db)
    answer = health(client)
    assert answer["cameras"] == [] and abs(answer["now"] - time.time() * 1000) < 60_000
