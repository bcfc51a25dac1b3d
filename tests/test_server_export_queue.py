"""GET /export/<id>/queue and POST /export/<id>/queue/rerun over HTTP."""

from __future__ import annotations

import pytest

import meteorpi_model as model
from tests.conftest import INSTALLATION_ID
from tests.helpers import make_event, make_status, utc
from tests.server_helpers import (ADMIN, IMPORTER, USER, Client, add_users, admin,  # noqa: F401
                                  cheap_password_hashing, client, make_server, server)


def failing_config(db, events: int = 3) -> model.ExportConfiguration:
    """An enabled event export with ``events`` queued tasks, one failure recorded and all deferred."""
    make_status(db, INSTALLATION_ID, utc(2015, 1, 1))
    for day in range(events):
        make_event(db, utc(2015, 1, 2 + day), INSTALLATION_ID)
    config = db.create_or_update_export_configuration(model.ExportConfiguration(
        "http://127.0.0.1:9/import", "node", "secret-password", model.EventSearch(), "central", "", enabled=True))
    assert db.mark_entities_to_export(config) == events
    db.record_export_failure(config.config_id)
    db.defer_export_tasks(config.config_id, 3600)
    return config


def test_queue_state_and_rerun(admin: Client, server) -> None:
    config = failing_config(server.db)
    path = f"/export/{config.config_id.hex}/queue"
    queue = admin.get(path).json()["queue"]
    next_time = queue.pop("next_export_time")
    assert next_time > model.utc_datetime_to_milliseconds(model.now())
    assert queue == {"config_id": config.config_id.hex, "enabled": True, "failure_count": 1,
                     "pending": 3, "due": 0, "deferred": 3, "completed": 0}
    task = server.db.get_next_entity_to_export()
    assert task is None
    response = admin.post(path + "/rerun")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["rerun"] == 3
    assert (body["queue"]["due"], body["queue"]["deferred"], body["queue"]["failure_count"]) == (3, 0, 0)
    task = server.db.get_next_entity_to_export()
    task.set_status(0)
    queue = admin.get(path).json()["queue"]
    assert (queue["pending"], queue["completed"]) == (2, 1)
    assert admin.post(path + "/rerun").json()["rerun"] == 0


def test_a_disabled_configuration_shows_as_such(admin: Client, server) -> None:
    config = failing_config(server.db, events=1)
    server.db.set_export_configuration_enabled(config.config_id, False)
    assert admin.get(f"/export/{config.config_id.hex}/queue").json()["queue"]["enabled"] is False


@pytest.mark.parametrize("path, status", [
    ("/export/not-a-uuid/queue", 400), ("/export/0123456789abcdef0123456789abcdef/queue", 404),
])
def test_unknown_configurations(admin: Client, path: str, status: int) -> None:
    assert admin.get(path).status_code == status
    response = admin.post(path + "/rerun")
    assert response.status_code == status and "message" in response.json()


def test_queue_routes_need_camera_admin(admin: Client, server) -> None:
    config = failing_config(server.db, events=1)
    path = f"/export/{config.config_id.hex}/queue"
    for auth in (USER, IMPORTER, ("", "")):
        assert admin.get(path, auth=auth).status_code == 403
        assert admin.post(path + "/rerun", auth=auth).status_code == 403
    assert server.db.export_queue_state(config.config_id)["deferred"] == 1
