"""A central server many cameras can trust (issue 11): camera grants in the data layer, the CLI
and the admin API; the import API refusing other cameras and implausible dates; replication
between two real nodes with the target's import user bound, and not bound, to the source's
camera."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

import meteorpi_model as model
from meteorpi_server.import_policy import check_not_future
from meteorpi_server.errors import BadRequest
from tests.replication_helpers import (IMPORT_PASSWORD, IMPORT_USER, SOURCE_ID, add_import_user,
                                       all_events, assert_events_replicated, configure_export,
                                       exporter_for, populate)
from tests.replication_helpers import source, start_node, target_db_url  # noqa: F401 (fixtures)
from tests.server_helpers import ADMIN, Client, cheap_password_hashing, make_server  # noqa: F401
from tests.test_cli import Cli, as_json, cli, data_dir, error_line, node_db  # noqa: F401

OTHER = "c0ffee000001"


# --- the data layer ----------------------------------------------------------------------

def test_grants_are_per_user_and_per_camera(db) -> None:
    db.create_or_update_user("node1", "password-1", ["import"])
    db.create_or_update_user("node2", "password-2", ["import"])
    assert db.grant_camera("node1", SOURCE_ID) is True
    assert db.grant_camera("node1", SOURCE_ID) is False
    assert db.grant_camera("node1", OTHER) is True
    assert db.grant_camera("node2", OTHER) is True
    assert db.cameras_for_user("node1") == sorted([SOURCE_ID, OTHER])
    assert db.user_holds_camera("node1", SOURCE_ID) and not db.user_holds_camera("node2", SOURCE_ID)

    assert db.revoke_camera("node1", OTHER) is True
    assert db.revoke_camera("node1", OTHER) is False
    assert db.cameras_for_user("node1") == [SOURCE_ID]
    assert db.cameras_for_user("node2") == [OTHER]  # untouched

    db.delete_user("node1")
    assert db.cameras_for_user("node1") == [] and not db.user_holds_camera("node1", SOURCE_ID)
    db.create_or_update_user("node1", "password-1", ["import"])
    assert db.cameras_for_user("node1") == []  # a new user with the same id starts with none


@pytest.mark.parametrize("user_id, camera_id, fragment", [
    ("ghost", SOURCE_ID, "no user"), ("node1", "", "camera_id"), ("node1", "x" * 65, "camera_id"),
    ("node1", "a\nb", "camera_id"), (None, SOURCE_ID, "user_id"),
])
def test_bad_grants_are_refused(db, user_id, camera_id, fragment) -> None:
    db.create_or_update_user("node1", "password-1", ["import"])
    with pytest.raises(ValueError, match=fragment):
        db.grant_camera(user_id, camera_id)
    assert db.cameras_for_user("node1") == []
    assert db.user_holds_camera("node1", camera_id) is False


def test_bind_users_to_sent_cameras(source, target_db_url, start_node, tmp_path) -> None:
    """An upgraded network: the import user sent data before grants existed."""
    target = start_node(target_db_url, "b0b0b0b0b0b0")
    add_import_user(target.db)
    populate(source.db, tmp_path / "in", events=2, files_per_event=1, loose_files=0)
    configure_export(source.db, target.import_url, model.EventSearch())
    assert exporter_for(source.db).run_once().complete == 2
    target.db.revoke_camera(IMPORT_USER, SOURCE_ID)  # as after upgrading: nobody holds anything
    assert target.db.cameras_sent_by_users() == [(IMPORT_USER, SOURCE_ID)]

    assert target.db.bind_users_to_sent_cameras() == [(IMPORT_USER, SOURCE_ID)]
    assert target.db.bind_users_to_sent_cameras() == []
    assert target.db.cameras_for_user(IMPORT_USER) == [SOURCE_ID]


# --- the import API ------------------------------------------------------------------------

def _status(camera_id: str, valid_from=None) -> model.CameraStatus:
    return model.CameraStatus(
        lens="l", sensor="s", inst_url="https://example.org", inst_name="cam", camera_id=camera_id,
        status_id=uuid.uuid4(), valid_from=valid_from or model.now() - timedelta(days=1),
        orientation=model.Orientation(altitude=45.0, azimuth=0.0, error=1.0, rotation=0.0,
                                      width_of_field=90.0),
        location=model.Location(latitude=52.0, longitude=0.5, gps=False, error=10.0))


@pytest.fixture
def importing(make_server):
    server = make_server(settings={"MPI_IMPORT_MAX_FUTURE_SECONDS": 3600})
    server.db.create_or_update_user(IMPORT_USER, IMPORT_PASSWORD, ["import"])
    server.db.grant_camera(IMPORT_USER, SOURCE_ID)
    http = Client(server.base_url())
    http.session.auth = (IMPORT_USER, IMPORT_PASSWORD)
    return server, http


def test_files_and_events_for_a_camera_not_held_are_refused(importing) -> None:
    server, http = importing
    status = _status(SOURCE_ID)
    assert http.post("/import", json={"type": "status", "status": status.as_dict()}).json() == {
        "state": "continue"}
    record = model.FileRecord(OTHER, "image/png", model.NSString("meteor_image"), file_size=3,
                              md5="0" * 32, file_id=uuid.uuid4(), file_time=model.now(),
                              status_id=status.status_id)
    event = model.Event(SOURCE_ID, model.now(), uuid.uuid4(), model.NSString("meteor"),
                        status.status_id, [record])
    for message in ({"type": "file", "file": record.as_dict()},
                    {"type": "event", "event": event.as_dict()},
                    {"type": "cached_entity", "cached_entity_id": record.file_id.hex}):
        response = http.post("/import", json=message)  # the short form is checked again
        assert response.status_code == 403, message["type"]
        assert OTHER in response.json()["message"]
    assert server.db.search_files(model.FileRecordSearch())["count"] == 0
    assert server.db.search_events(model.EventSearch())["count"] == 0


@pytest.mark.parametrize("kind", ["status", "file", "event"])
def test_entities_dated_in_the_future_are_400(importing, kind) -> None:
    server, http = importing
    late = model.now() + timedelta(hours=2)
    status = _status(SOURCE_ID, valid_from=late if kind == "status" else None)
    record = model.FileRecord(SOURCE_ID, "image/png", model.NSString("meteor_image"), file_size=3,
                              md5="0" * 32, file_id=uuid.uuid4(),
                              file_time=late if kind == "file" else model.now(),
                              status_id=status.status_id)
    event = model.Event(SOURCE_ID, late, uuid.uuid4(), model.NSString("meteor"), status.status_id)
    entity = {"status": status, "file": record, "event": event}[kind]
    response = http.post("/import", json={"type": kind, kind: entity.as_dict()})
    assert response.status_code == 400
    assert "in the future" in response.json()["message"] and "3600 s" in response.json()["message"]
    assert server.db.get_camera_status(camera_id=SOURCE_ID) is None


def test_the_future_margin_is_inclusive() -> None:
    now = model.now()
    status = _status(SOURCE_ID, valid_from=now + timedelta(seconds=60))
    check_not_future(status, 60, now=now)
    with pytest.raises(BadRequest, match="in the future"):
        check_not_future(status, 59, now=now)


# --- the admin API and CLI -------------------------------------------------------------------

def test_admin_api_grants_and_revokes(make_server) -> None:
    server = make_server()
    server.db.create_or_update_user(*ADMIN, ["user", "camera_admin"])
    server.db.create_or_update_user("node1", "password-1", ["import"])
    http = Client(server.base_url())
    http.session.auth = ADMIN
    assert http.get("/users/node1/cameras").json() == {"user_id": "node1", "cameras": []}
    assert http.put(f"/users/node1/cameras/{OTHER}").json() == {"user_id": "node1", "cameras": [OTHER]}
    assert http.put(f"/users/node1/cameras/{OTHER}").json()["cameras"] == [OTHER]
    assert server.db.user_holds_camera("node1", OTHER)
    assert http.delete(f"/users/node1/cameras/{OTHER}").json() == {"user_id": "node1", "cameras": []}
    missing = http.delete(f"/users/node1/cameras/{OTHER}")
    assert missing.status_code == 404 and missing.json()["entity_id"] == OTHER
    assert http.get("/users/ghost/cameras").status_code == 404
    assert http.put(f"/users/ghost/cameras/{OTHER}").status_code == 404
    assert http.put("/users/node1/cameras/" + "x" * 65).status_code == 400


def test_the_client_grants_and_revokes(make_server) -> None:
    from meteorpi_client import MeteorClient, NotFound

    server = make_server()
    server.db.create_or_update_user(*ADMIN, ["user", "camera_admin"])
    server.db.create_or_update_user("node1", "password-1", ["import"])
    with MeteorClient(server.base_url(), *ADMIN) as admin:
        assert admin.grant_camera("node1", OTHER) == [OTHER]
        assert admin.get_user_cameras("node1") == [OTHER]
        assert admin.revoke_camera("node1", OTHER) == []
        with pytest.raises(NotFound):
            admin.revoke_camera("node1", OTHER)


def test_cli_grants_revokes_and_binds(cli: Cli, node_db) -> None:
    node_db.create_or_update_user("node1", "password-1", ["import"])
    assert cli("user", "cameras", "grant", "node1", SOURCE_ID, OTHER).output == (
        f"node1 may now write for camera {SOURCE_ID}\nnode1 may now write for camera {OTHER}\n")
    assert as_json(cli("--json", "user", "cameras", "list"))["cameras"]["node1"] == sorted([SOURCE_ID, OTHER])
    assert cli("user", "cameras", "revoke", "node1", OTHER).output == \
        f"node1 may no longer write for camera {OTHER}\n"
    assert node_db.cameras_for_user("node1") == [SOURCE_ID]
    assert error_line(cli("user", "cameras", "grant", "ghost", OTHER, expect=1)) == "Error: no user 'ghost'"
    assert as_json(cli("--json", "user", "cameras", "bind-sent")) == {"granted": []}


# --- replication between two real nodes ------------------------------------------------------

def test_replication_works_when_the_import_user_holds_the_camera(source, target_db_url, start_node,
                                                                 tmp_path) -> None:
    target = start_node(target_db_url, "b0b0b0b0b0b0")
    add_import_user(target.db, cameras=(SOURCE_ID,))
    populate(source.db, tmp_path / "in", events=3, files_per_event=2, loose_files=0)
    configure_export(source.db, target.import_url, model.EventSearch())
    summary = exporter_for(source.db).run_once()
    assert (summary.complete, summary.failed) == (3, 0)
    assert_events_replicated(source.db, target.db, expected_count=3)
    assert target.db.pending_uploads() == []  # every upload's record arrived


def test_replication_fails_cleanly_when_it_does_not(source, target_db_url, start_node,
                                                    tmp_path) -> None:
    target = start_node(target_db_url, "b0b0b0b0b0b0")
    add_import_user(target.db, cameras=(OTHER,))
    populate(source.db, tmp_path / "in", events=2, files_per_event=1, loose_files=0)
    config = configure_export(source.db, target.import_url, model.EventSearch())
    exporter = exporter_for(source.db, max_failures_before_disable=1, defer_on_failure_seconds=0)

    exporter.mark_entities()
    state = exporter.handle_next_export()

    assert state.state == "failed" and state.config_disabled
    assert "HTTP 403" in state.message and SOURCE_ID in state.message
    assert not source.db.get_export_configuration(config.config_id).enabled
    assert all_events(target.db) == [] and target.db.get_camera_status(camera_id=SOURCE_ID) is None
    assert target.db.pending_uploads() == []

    # The administrator grants the camera and re-enables the configuration: it all goes across.
    target.db.grant_camera(IMPORT_USER, SOURCE_ID)
    source.db.set_export_configuration_enabled(config.config_id, True)
    assert exporter.run_once().complete == 2
    assert_events_replicated(source.db, target.db, expected_count=2)
