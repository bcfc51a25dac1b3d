"""Camera status editing (PATCH /cameras/<id>/status) and the high water mark routes over HTTP."""

from __future__ import annotations

import pytest

import meteorpi_model as model
from tests.conftest import INSTALLATION_ID
from tests.helpers import make_event, make_file, make_status, utc
from tests.server_helpers import (ADMIN, IMPORTER, USER, Client, add_users, admin,  # noqa: F401
                                  assert_schema, cheap_password_hashing, client, make_server, server)

STATUS = f"/cameras/{INSTALLATION_ID}/status"
HWM = f"/cameras/{INSTALLATION_ID}/hwm"


def ms(moment) -> int:
    return model.utc_datetime_to_milliseconds(moment)


def test_patch_changes_every_field_and_keeps_the_rest(admin: Client, server) -> None:
    before = make_status(server.db, INSTALLATION_ID, utc(2015, 1, 1))
    regions = [[{"x": 0, "y": 0}, {"x": 100, "y": 0}, {"x": 50, "y": 80}]]
    response = admin.patch(STATUS, json={
        "lens": "Fujinon 2.8mm", "sensor": "Sony IMX291", "inst_name": "Roof", "software_version": 3,
        "location": {"lat": 51.5}, "orientation": {"az": 90.0, "width": 120.0}, "regions": regions})
    assert response.status_code == 200, response.text
    status = response.json()["status"]
    assert_schema(status, "CameraStatus")
    assert (status["lens"], status["sensor"], status["inst_name"], status["software_version"]) == (
        "Fujinon 2.8mm", "Sony IMX291", "Roof", 3)
    assert status["location"]["lat"] == 51.5 and status["location"]["long"] == before.location.longitude
    assert (status["orientation"]["az"], status["orientation"]["width"]) == (90.0, 120.0)
    assert status["orientation"]["alt"] == before.orientation.altitude
    assert status["regions"] == regions and status["inst_url"] == before.inst_url
    assert admin.get(STATUS).json() == {"status": status}
    assert len(server.db.get_camera_status_history(INSTALLATION_ID)) == 2


def test_patch_validates_like_the_cli_and_writes_nothing(admin: Client, server) -> None:
    make_status(server.db, INSTALLATION_ID, utc(2015, 1, 1))
    cases = [
        ({"location": {"lat": 95}}, "lat"),
        ({"orientation": {"alt": "high"}}, "alt"),
        ({"regions": [[{"x": 0, "y": 0}]]}, "regions[0]"),
        ({"lens": 5}, "lens"),
        ({"status_id": "0" * 32}, "status_id"),
        ({"software_version": -1}, "software_version"),
        ({"valid_from": "yesterday"}, "valid_from"),
        ({"confirm_rollback": "yes"}, "confirm_rollback"),
        ({"location": "Cambridge"}, "location"),
    ]
    for body, fragment in cases:
        response = admin.patch(STATUS, json=body)
        assert response.status_code == 400, body
        assert fragment in response.json()["message"], (body, response.json())
    assert admin.patch(STATUS, data=b"[]", headers={"Content-Type": "application/json"}).status_code == 400
    assert len(server.db.get_camera_status_history(INSTALLATION_ID)) == 1


def test_patch_of_a_new_camera_needs_every_field(admin: Client, server) -> None:
    response = admin.patch("/cameras/newcam/status", json={"lens": "l"})
    assert response.status_code == 400 and "sensor" in response.json()["message"]
    full = {"lens": "l", "sensor": "s", "inst_name": "n", "inst_url": "", "location": {"lat": 1, "long": 2},
            "orientation": {"alt": 3, "az": 4}}
    response = admin.patch("/cameras/newcam/status", json=full)
    assert response.status_code == 200, response.text
    assert server.db.get_camera_status(camera_id="newcam").lens == "l"


def test_the_2015_post_route_is_unchanged(admin: Client, server) -> None:
    make_status(server.db, INSTALLATION_ID, utc(2015, 1, 1))
    assert admin.post(STATUS, json={"lens": "other"}).status_code == 400
    assert admin.post(STATUS, json={"inst_name": "x"}).json()["status"]["inst_name"] == "x"


def test_a_rollback_needs_confirmation(admin: Client, server, tmp_path) -> None:
    make_status(server.db, INSTALLATION_ID, utc(2015, 1, 1))
    make_file(server.db, tmp_path, utc(2015, 1, 3))
    make_event(server.db, utc(2015, 1, 4), INSTALLATION_ID)
    server.db.set_high_water_mark(utc(2015, 1, 5), INSTALLATION_ID)
    assert admin.get(HWM).json() == {"camera_id": INSTALLATION_ID, "high_water_mark": ms(utc(2015, 1, 5))}

    back = ms(utc(2015, 1, 2))
    for path, method, body in [(HWM, "put", {"time": back}),
                               (STATUS, "patch", {"inst_name": "x", "valid_from": back})]:
        response = admin.request(method.upper(), path, json=body)
        assert response.status_code == 409, response.text
        assert response.json()["rollback"] == {"camera_id": INSTALLATION_ID, "mark": ms(utc(2015, 1, 5)),
                                               "time": back, "events": 1, "files": 1, "statuses": 0}
        assert "confirm_rollback" in response.json()["message"]
    assert server.db.get_high_water_mark(INSTALLATION_ID) == utc(2015, 1, 5)
    assert len(server.db.get_camera_status_history(INSTALLATION_ID)) == 1

    response = admin.put(HWM, json={"time": back, "allow_rollback": False})
    assert response.status_code == 400 and "allow_rollback" in response.json()["message"]

    response = admin.put(HWM, json={"time": back, "confirm_rollback": True})
    assert response.json() == {"camera_id": INSTALLATION_ID, "high_water_mark": back}
    assert server.db.search_events(model.EventSearch(camera_ids=[INSTALLATION_ID]))["count"] == 0
    assert server.db.search_files(model.FileRecordSearch(camera_ids=[INSTALLATION_ID]))["count"] == 0


def test_moving_the_mark_forward_or_over_nothing_needs_no_confirmation(admin: Client, server) -> None:
    assert admin.get(HWM).json() == {"camera_id": INSTALLATION_ID}
    assert admin.put(HWM, json={"time": ms(utc(2015, 1, 5))}).status_code == 200
    assert admin.put(HWM, json={"time": ms(utc(2015, 1, 2))}).json()["high_water_mark"] == ms(utc(2015, 1, 2))
    assert admin.put(HWM, json={"time": ms(utc(2015, 1, 9)), "allow_rollback": False}).status_code == 200


@pytest.mark.parametrize("body, fragment", [
    ({}, "time"), ({"time": "now"}, "time"), ({"time": 1, "extra": 1}, "extra"),
    ({"time": 10 ** 18}, "time"), ({"time": 1, "confirm_rollback": 1}, "confirm_rollback"),
])
def test_bad_mark_changes_are_400(admin: Client, server, body: dict, fragment: str) -> None:
    response = admin.put(HWM, json=body)
    assert response.status_code == 400 and fragment in response.json()["message"]
    assert server.db.get_high_water_mark(INSTALLATION_ID) is None


@pytest.mark.parametrize("method, path", [("PATCH", STATUS), ("GET", HWM), ("PUT", HWM)])
def test_camera_admin_routes_need_the_role(admin: Client, server, method: str, path: str) -> None:
    make_status(server.db, INSTALLATION_ID, utc(2015, 1, 1))
    for auth in (USER, IMPORTER, ("", "")):
        response = admin.request(method, path, auth=auth, json={"time": 0, "inst_name": "x"})
        assert response.status_code == 403
    assert server.db.get_camera_status(camera_id=INSTALLATION_ID).inst_name != "x"
    assert server.db.get_high_water_mark(INSTALLATION_ID) == utc(2015, 1, 1)


def test_get_previews_a_rollback(admin: Client, server, tmp_path) -> None:
    make_status(server.db, INSTALLATION_ID, utc(2015, 1, 1))
    make_file(server.db, tmp_path, utc(2015, 1, 3))
    server.db.set_high_water_mark(utc(2015, 1, 5), INSTALLATION_ID)
    body = admin.get(HWM, params={"time": ms(utc(2014, 12, 31))}).json()
    assert body["rollback"] == {"camera_id": INSTALLATION_ID, "mark": ms(utc(2015, 1, 5)),
                                "time": ms(utc(2014, 12, 31)), "events": 0, "files": 1, "statuses": 1}
    assert "rollback" not in admin.get(HWM, params={"time": ms(utc(2015, 1, 4))}).json()
    for bad in ("soon", "1.5", "9" * 30):
        response = admin.get(HWM, params={"time": bad})
        assert response.status_code == 400 and "time" in response.json()["message"]
    assert admin.get(HWM, params={"other": 1}).status_code == 400
    assert server.db.get_high_water_mark(INSTALLATION_ID) == utc(2015, 1, 5)
