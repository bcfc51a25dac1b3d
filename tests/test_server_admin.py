"""The admin API (SPEC section 7): users, export configurations, camera status changes."""

from __future__ import annotations

import uuid

import pytest

import meteorpi_model as model
from tests.conftest import INSTALLATION_ID
from tests.helpers import make_status, utc
from tests.server_helpers import (ADMIN, IMPORTER, USER, Client, add_users, admin,  # noqa: F401
                                  assert_schema, cheap_password_hashing, client, make_server, server)


def _user_ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    users = response.json()["users"]
    for user in users:
        assert_schema(user, "User")
    return [u["user_id"] for u in users]


# --- users --------------------------------------------------------------------------------

def test_list_create_update_delete_users(admin: Client, server) -> None:
    assert _user_ids(admin.get("/users")) == ["admin", "importer", "viewer"]
    assert _user_ids(admin.post("/users", json={"user_id": "new", "password": "password-1"})) == [
        "admin", "importer", "new", "viewer"]
    assert admin.get("/login", auth=("new", "password-1")).json()["user"]["roles"] == ["user"]
    admin.post("/users", json={"user_id": "new", "password": "password-2", "roles": ["user", "import"]})
    assert admin.get("/login", auth=("new", "password-2")).json()["user"]["roles"] == ["user", "import"]
    response = admin.put("/users/roles", json={"new_roles": [
        {"user_id": "new", "roles": ["camera_admin", "user"]}, {"user_id": "viewer", "roles": []}]})
    users = {u["user_id"]: u["roles"] for u in response.json()["users"]}
    assert users["new"] == ["user", "camera_admin"] and users["viewer"] == []
    assert _user_ids(admin.delete("/users/new")) == ["admin", "importer", "viewer"]
    assert admin.delete("/users/new").json() == {"message": "No such user", "entity_id": "new"}


@pytest.mark.parametrize("body, fragment", [
    ({"user_id": "x"}, "password"),
    ({"password": "x"}, "user_id"),
    ({"user_id": "x", "password": ""}, "password"),
    ({"user_id": "x", "password": 5}, "password"),
    ({"user_id": "", "password": "password-1"}, "user_id"),
    ({"user_id": "x" * 300, "password": "password-1"}, "user_id"),
    ({"user_id": "x", "password": "password-1", "roles": ["root"]}, "root"),
    ({"user_id": "x", "password": "password-1", "extra": 1}, "extra"),
    ({"user_id": "node:7", "password": "password-1"}, "':'"),
    ({"user_id": "x", "password": "x"}, "at least 8 characters"),
])
def test_bad_user_bodies_are_400_and_write_nothing(admin: Client, body: dict, fragment: str) -> None:
    response = admin.post("/users", json=body)
    assert response.status_code == 400
    assert fragment in response.json()["message"]
    assert _user_ids(admin.get("/users")) == ["admin", "importer", "viewer"]


def test_the_last_admin_cannot_be_deleted_or_demoted(admin: Client) -> None:
    response = admin.delete("/users/admin")
    assert response.status_code == 400 and "last user with the camera_admin role" in response.json()["message"]
    response = admin.put("/users/roles", json={"new_roles": [{"user_id": "admin", "roles": ["user"]}]})
    assert response.status_code == 400 and "camera_admin" in response.json()["message"]
    assert admin.get("/login").json()["user"]["roles"] == ["user", "camera_admin"]


@pytest.mark.parametrize("body", [
    {"new_roles": [{"user_id": "viewer", "roles": ["import"]}, {"user_id": "ghost", "roles": []}]},
    {"new_roles": [{"user_id": "viewer", "roles": ["import"]}, {"user_id": "admin", "roles": ["x"]}]},
    {"new_roles": [{"user_id": "viewer", "roles": ["import"]}, "admin"]},
    {"new_roles": {"user_id": "viewer"}},
    {"new_roles": [{"user_id": "viewer"}]},
    {},
])
def test_bad_role_changes_are_400_and_change_no_one(admin: Client, body: dict) -> None:
    response = admin.put("/users/roles", json=body)
    assert response.status_code == 400
    assert admin.get("/login", auth=USER).json()["user"]["roles"] == ["user"]


@pytest.mark.parametrize("data", [b"", b"not json", b"[1]", b"\xff\xfe", b'{"a": NaN'])
def test_malformed_json_bodies_are_400(admin: Client, data: bytes) -> None:
    response = admin.post("/users", data=data, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "request body" in response.json()["message"]


SOME_ID = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("method, path", [
    ("GET", "/users"), ("POST", "/users"), ("PUT", "/users/roles"), ("DELETE", "/users/viewer"),
    ("GET", "/export"), ("POST", "/export"), ("GET", f"/export/{SOME_ID}"),
    ("PUT", f"/export/{SOME_ID}"), ("DELETE", f"/export/{SOME_ID}"),
    ("POST", f"/cameras/{INSTALLATION_ID}/status"),
])
def test_admin_routes_need_camera_admin(admin: Client, method: str, path: str) -> None:
    for auth in (USER, IMPORTER, None):
        response = admin.request(method, path, auth=auth or ("", ""), json={})
        assert response.status_code == 403
    assert _user_ids(admin.get("/users")) == ["admin", "importer", "viewer"]


# --- export configurations ------------------------------------------------------------------

NEW_EXPORT = {"type": "event", "target_url": "https://central.example.org/import",
              "user_id": "node1", "password": "target-secret", "name": "to central",
              "description": "all events"}


def test_export_configuration_lifecycle(admin: Client, server) -> None:
    created = admin.post("/export", json=NEW_EXPORT).json()["config"]
    assert_schema(created, "ExportConfiguration")
    config_id = created["config_id"]
    assert created == {"type": "event", "config_id": config_id,
                       "target_url": NEW_EXPORT["target_url"], "user_id": "node1",
                       "password_set": True, "search": {"limit": 100, "skip": 0}, "config_name": "to central",
                       "config_description": "all events", "enabled": False}
    assert admin.get("/export").json() == {"configs": [created]}
    assert admin.get(f"/export/{config_id}").json() == {"config": created}
    assert "target-secret" not in admin.get("/export").text

    changed = dict(created, enabled=True, config_name="renamed",
                   search={"camera_ids": [INSTALLATION_ID], "limit": 10})
    assert admin.put(f"/export/{config_id}", json=changed).json() == {"message": "Okay"}
    stored = server.db.get_export_configuration(config_id)
    assert (stored.name, stored.enabled, stored.password) == ("renamed", True, "target-secret")
    assert stored.search == model.EventSearch(camera_ids=[INSTALLATION_ID], limit=10)

    admin.put(f"/export/{config_id}", json=dict(changed, password="new-secret"))
    assert server.db.get_export_configuration(config_id).password == "new-secret"

    assert admin.delete(f"/export/{config_id}").json() == {"message": "Okay"}
    assert admin.get(f"/export/{config_id}").status_code == 404
    assert admin.delete(f"/export/{config_id}").status_code == 404
    assert admin.get("/export").json() == {"configs": []}


def test_file_export_configuration(admin: Client) -> None:
    created = admin.post("/export", json=dict(NEW_EXPORT, type="file")).json()["config"]
    assert created["type"] == "file" and created["search"] == {"limit": 100, "skip": 0}


@pytest.mark.parametrize("change, fragment", [
    ({"type": "everything"}, "type"),
    ({"target_url": "ftp://x"}, "target_url"),
    ({"password": None}, "password"),
    ({"name": ""}, "config_name"),
    ({"unknown": 1}, "unknown"),
])
def test_bad_new_export_configurations_are_400(admin: Client, change: dict, fragment: str) -> None:
    response = admin.post("/export", json={**NEW_EXPORT, **change})
    assert response.status_code == 400
    assert fragment in response.json()["message"]
    assert admin.get("/export").json() == {"configs": []}


def test_bad_export_updates_are_400_or_404_and_change_nothing(admin: Client, server) -> None:
    created = admin.post("/export", json=NEW_EXPORT).json()["config"]
    config_id = created["config_id"]
    other = uuid.uuid4().hex
    cases = [
        (f"/export/{config_id}", dict(created, config_id=other), 400),
        (f"/export/{config_id}", dict(created, search={"lat_min": 5, "lat_max": 1}), 400),
        (f"/export/{config_id}", dict(created, type="file", search={"event_type": "a:b"}), 400),
        (f"/export/{config_id}", dict(created, enabled="yes"), 400),
        (f"/export/{config_id}", {"config_name": "x"}, 400),
        ("/export/not-a-uuid", created, 400),
        (f"/export/{other}", dict(created, config_id=other), 404),
    ]
    for path, body, status in cases:
        response = admin.put(path, json=body)
        assert response.status_code == status, (body, response.text)
    assert admin.get(f"/export/{config_id}").json() == {"config": created}
    assert server.db.get_export_configuration(other) is None


# --- camera status ---------------------------------------------------------------------------

def test_camera_status_change_copies_the_current_block(admin: Client, server) -> None:
    before = make_status(server.db, INSTALLATION_ID, utc(2015, 1, 1))
    regions = [[{"x": 0, "y": 0}, {"x": 10, "y": 0}, {"x": 10, "y": 10}]]
    response = admin.post(f"/cameras/{INSTALLATION_ID}/status",
                          json={"inst_name": "Renamed", "regions": regions})
    assert response.status_code == 200, response.text
    status = response.json()["status"]
    assert_schema(status, "CameraStatus")
    assert status["status_id"] != before.status_id.hex
    assert (status["inst_name"], status["regions"]) == ("Renamed", regions)
    assert (status["lens"], status["inst_url"]) == (before.lens, before.inst_url)
    assert admin.get(f"/cameras/{INSTALLATION_ID}/status").json() == {"status": status}
    assert len(server.db.get_camera_status_history(INSTALLATION_ID)) == 2


@pytest.mark.parametrize("body, status", [
    ({"regions": [[{"x": 0, "y": 0}]]}, 400),
    ({"regions": [[{"x": -1, "y": 0}, {"x": 1, "y": 0}, {"x": 1, "y": 1}]]}, 400),
    ({"inst_name": 5}, 400),
    ({"lens": "other"}, 400),
    ({"inst_url": "x" * 1000}, 400),
])
def test_bad_camera_status_changes_write_nothing(admin: Client, server, body: dict,
                                                 status: int) -> None:
    make_status(server.db, INSTALLATION_ID, utc(2015, 1, 1))
    response = admin.post(f"/cameras/{INSTALLATION_ID}/status", json=body)
    assert response.status_code == status
    assert len(server.db.get_camera_status_history(INSTALLATION_ID)) == 1


def test_status_change_for_unknown_camera_is_404(admin: Client) -> None:
    response = admin.post("/cameras/nowhere/status", json={"inst_name": "x"})
    assert response.json() == {"message": "No status for this camera", "entity_id": "nowhere"}
