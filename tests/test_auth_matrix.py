"""Who may call what: every admin and import route x every kind of caller (issue 11).

One table says which callers each route lets through; the test calls every route as every
caller, on every backend, and checks that exactly those pass (2xx/4xx other than 403) and every
other combination is a 403 that wrote nothing. Callers that must fail are tried first, so a
refusal is never explained by an earlier success.
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from typing import Any, Callable

import meteorpi_model as model
from tests.server_helpers import (ADMIN, USER, Client, cheap_password_hashing,  # noqa: F401
                                  make_server)

CAMERA_A, CAMERA_B = "a1a1a1a1a1a1", "b2b2b2b2b2b2"
IMPORTER_A = ("importer-a", "importer-a-password")
IMPORTER_B = ("importer-b", "importer-b-password")  # holds camera B only
REVOKED = ("revoked", "revoked-password")  # every role, deleted after logging in once

CALLERS: dict[str, tuple[str, str] | None] = {
    "none": None,
    "wrong-password": (ADMIN[0], "not-the-password"),
    "user": USER,
    "admin": ADMIN,
    "importer-A": IMPORTER_A,
    "importer-B-for-A": IMPORTER_B,
    "revoked": REVOKED,
}
_counter = itertools.count()


def _status(camera_id: str) -> dict[str, Any]:
    return model.CameraStatus(
        lens="l", sensor="s", inst_url="https://example.org", inst_name="forged?",
        camera_id=camera_id, status_id=uuid.uuid4(), valid_from=model.now(),
        orientation=model.Orientation(altitude=45.0, azimuth=0.0, error=1.0, rotation=0.0,
                                      width_of_field=90.0),
        location=model.Location(latitude=52.0, longitude=0.5, gps=False, error=10.0),
    ).as_dict()


# Each builder makes a fresh request (method, path, requests kwargs) against the server's db.
Builder = Callable[[Any], tuple[str, str, dict[str, Any]]]


def _victim(db) -> str:
    user_id = f"victim-{next(_counter)}"
    db.create_or_update_user(user_id, "victim-password", ["user"])
    return user_id


def _config(db) -> str:
    config = model.ExportConfiguration("http://127.0.0.1:1/import", "u", "password-x",
                                       model.EventSearch(), "matrix", "", enabled=False)
    return db.create_or_update_export_configuration(config).config_id.hex


def _upload(db) -> tuple[str, str, dict[str, Any]]:
    content = uuid.uuid4().bytes * 8
    md5 = hashlib.md5(content).hexdigest()
    return "POST", f"/import/data/{uuid.uuid4().hex}/{md5}", {"files": {"file": ("f", content)}}


ROUTES: list[tuple[str, Builder, set[str]]] = [
    ("GET /login", lambda db: ("GET", "/login", {}), {"user", "admin"}),
    ("GET /users", lambda db: ("GET", "/users", {}), {"admin"}),
    ("POST /users", lambda db: ("POST", "/users", {"json": {
        "user_id": f"new-{next(_counter)}", "password": "new-password"}}), {"admin"}),
    ("PUT /users/roles", lambda db: ("PUT", "/users/roles", {"json": {"new_roles": [
        {"user_id": _victim(db), "roles": ["user", "import"]}]}}), {"admin"}),
    ("DELETE /users/<id>", lambda db: ("DELETE", f"/users/{_victim(db)}", {}), {"admin"}),
    ("GET /users/<id>/cameras", lambda db: ("GET", f"/users/{IMPORTER_A[0]}/cameras", {}), {"admin"}),
    ("PUT /users/<id>/cameras/<c>", lambda db: ("PUT", f"/users/{_victim(db)}/cameras/{CAMERA_B}", {}),
     {"admin"}),
    ("DELETE /users/<id>/cameras/<c>", lambda db: (
        "DELETE", f"/users/{_granted_victim(db)}/cameras/{CAMERA_B}", {}), {"admin"}),
    ("GET /export", lambda db: ("GET", "/export", {}), {"admin"}),
    ("POST /export", lambda db: ("POST", "/export", {"json": {
        "type": "event", "target_url": "http://127.0.0.1:1/import", "user_id": "u",
        "password": "password-x", "name": "n"}}), {"admin"}),
    ("GET /export/<id>", lambda db: ("GET", f"/export/{_config(db)}", {}), {"admin"}),
    ("PUT /export/<id>", lambda db: _put_config(db), {"admin"}),
    ("DELETE /export/<id>", lambda db: ("DELETE", f"/export/{_config(db)}", {}), {"admin"}),
    ("POST /cameras/<c>/status", lambda db: ("POST", f"/cameras/{CAMERA_A}/status",
                                             {"json": {"inst_name": "renamed"}}), {"admin"}),
    ("POST /import (status)", lambda db: ("POST", "/import", {"json": {
        "type": "status", "status": _status(CAMERA_A)}}), {"importer-A"}),
    ("POST /import/data/<id>/<md5>", _upload, {"importer-A", "importer-B-for-A"}),
]


def _granted_victim(db) -> str:
    user_id = _victim(db)
    db.grant_camera(user_id, CAMERA_B)
    return user_id


def _put_config(db) -> tuple[str, str, dict[str, Any]]:
    config_id = _config(db)
    body = db.get_export_configuration(uuid.UUID(hex=config_id)).as_dict()
    body.pop("password", None)
    body.pop("password_set", None)
    return "PUT", f"/export/{config_id}", {"json": body}


def _setup(server) -> Client:
    db = server.db
    db.create_or_update_user(*ADMIN, ["user", "camera_admin"])
    db.create_or_update_user(*USER, ["user"])
    db.create_or_update_user(*IMPORTER_A, ["import"])
    db.create_or_update_user(*IMPORTER_B, ["import"])
    db.create_or_update_user(*REVOKED, ["user", "camera_admin", "import"])
    db.grant_camera(IMPORTER_A[0], CAMERA_A)
    db.grant_camera(IMPORTER_B[0], CAMERA_B)
    db.grant_camera(REVOKED[0], CAMERA_A)
    status = model.CameraStatus.from_dict(_status(CAMERA_A))
    db.update_camera_status(status, time=model.now(), camera_id=CAMERA_A)
    http = Client(server.base_url())
    assert http.get("/login", auth=REVOKED).status_code == 200  # now cached in the server
    db.delete_user(REVOKED[0])  # as another process would: the server's cache is not told
    return http


def test_only_the_right_callers_pass(make_server) -> None:
    server = make_server(settings={"MPI_AUTH_RECHECK_SECONDS": 0, "MPI_LOGIN_FAILURES_PER_USER": 0,
                                   "MPI_LOGIN_FAILURES_PER_ADDRESS": 0})
    http = _setup(server)
    db = server.db
    wrong: list[str] = []
    denied = [(route, build, caller) for route, build, allowed in ROUTES
              for caller in CALLERS if caller not in allowed]
    passed = [(route, build, caller) for route, build, allowed in ROUTES for caller in allowed]
    users_before = db.get_users()
    for route, build, caller in denied:
        method, path, kwargs = build(db)
        response = http.request(method, path, auth=CALLERS[caller], **kwargs)
        if response.status_code != 403:
            wrong.append(f"{route} as {caller}: {response.status_code}, expected 403")
        elif (caller == "importer-B-for-A" and route.startswith("POST /import (")
              and CAMERA_A not in response.json()["message"]):
            wrong.append(f"{route} as {caller}: the message does not name camera {CAMERA_A}")
    # Nothing the refused callers sent was written (victims aside, made by the builders).
    assert [u for u in db.get_users() if not u.user_id.startswith("victim-")] == \
        [u for u in users_before if not u.user_id.startswith("victim-")]
    assert db.get_camera_status(camera_id=CAMERA_A).inst_name == "forged?"  # the setup's own
    assert db.pending_uploads() == []
    for route, build, caller in passed:
        method, path, kwargs = build(db)
        response = http.request(method, path, auth=CALLERS[caller], **kwargs)
        if not 200 <= response.status_code < 300:
            wrong.append(f"{route} as {caller}: {response.status_code} {response.text[:200]}")
    assert wrong == []
    assert len(db.pending_uploads()) == 2


def test_a_refused_import_names_the_camera_and_writes_nothing(make_server) -> None:
    server = make_server()
    http = _setup(server)
    other = "c3c3c3c3c3c3"  # never seen by this server
    for camera_id in (CAMERA_A, other):
        status = _status(camera_id)
        response = http.post("/import", json={"type": "status", "status": status}, auth=IMPORTER_B)
        assert response.status_code == 403
        assert response.json() == {
            "message": f"user {IMPORTER_B[0]!r} may not write for camera {camera_id!r}: an "
                       "administrator must grant it that camera first", "camera_id": camera_id}
        assert server.db.get_camera_status_by_id(uuid.UUID(hex=status["status_id"])) is None
    assert server.db.get_camera_status(camera_id=other) is None
