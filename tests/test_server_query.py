"""The query API (SPEC section 7): cameras, status, event and file searches, on real data."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

import meteorpi_model as model
from tests.conftest import INSTALLATION_ID
from tests.helpers import make_event, make_file, make_status, utc
from tests.server_helpers import (Client, assert_schema, cheap_password_hashing, client,  # noqa: F401
                                  encode_search, make_server, server)

CAMERA_2 = "cam-two"


@pytest.fixture
def data(server, tmp_path: Path) -> dict:
    """Two cameras; five files and three events on the first, one file on the second."""
    db = server.db
    first = make_status(db, INSTALLATION_ID, utc(2015, 1, 1), latitude=52.0)
    make_status(db, CAMERA_2, utc(2015, 1, 1), latitude=10.0)
    second = make_status(db, INSTALLATION_ID, utc(2015, 3, 1), latitude=52.0, inst_name="Moved")
    files = [make_file(db, tmp_path, utc(2015, 3, 2, hour), camera_id=INSTALLATION_ID,
                       meta=[model.Meta("meteorpi:brightness", float(hour))],
                       file_name=f"f{hour}.bin")
             for hour in range(5)]
    other = make_file(db, tmp_path, utc(2015, 3, 2, 1), camera_id=CAMERA_2,
                      semantic_type="meteorpi:other", mime_type="text/plain")
    events = [make_event(db, utc(2015, 3, 3, hour), INSTALLATION_ID, files=files[hour:hour + 1],
                         meta=[model.Meta("meteorpi:speed", hour * 10)])
              for hour in range(3)]
    return {"statuses": (first, second), "files": files, "other": other, "events": events}


def test_cameras(client: Client, data) -> None:
    assert client.get("/cameras").json() == {"cameras": sorted([INSTALLATION_ID, CAMERA_2])}


def test_current_status_and_status_at_a_time(client: Client, data) -> None:
    first, second = data["statuses"]
    current = client.get(f"/cameras/{INSTALLATION_ID}/status").json()
    assert current == {"status": second.as_dict()}
    assert_schema(current["status"], "CameraStatus")
    at = model.utc_datetime_to_milliseconds(utc(2015, 2, 1))
    past = client.get(f"/cameras/{INSTALLATION_ID}/status/{at}").json()["status"]
    assert past["status_id"] == first.status_id.hex
    assert past["valid_to"] == model.utc_datetime_to_milliseconds(utc(2015, 3, 1))


@pytest.mark.parametrize("path, status", [
    ("/cameras/unknown/status", 404),
    (f"/cameras/{INSTALLATION_ID}/status/0", 404),
    (f"/cameras/{INSTALLATION_ID}/status/yesterday", 400),
    (f"/cameras/{INSTALLATION_ID}/status/1.5", 400),
    (f"/cameras/{INSTALLATION_ID}/status/99999999999999999999999", 400),
    (f"/cameras/{'x' * 65}/status", 400),
])
def test_status_errors(client: Client, data, path: str, status: int) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert "message" in response.json()


def test_event_search_answers_events_with_files_and_meta(client: Client, data) -> None:
    body = client.get("/events/" + encode_search(model.EventSearch())).json()
    assert body["count"] == 3
    assert body["events"] == [e.as_dict() for e in reversed(data["events"])]
    assert body["events"][0]["files"][0]["file_id"] == data["files"][2].file_id.hex
    for event in body["events"]:
        assert_schema(event, "Event")


@pytest.mark.parametrize("encode", [
    lambda text: quote_plus(quote_plus(text)),  # the 2015 client
    lambda text: quote(quote(text, safe=""), safe=""),
    lambda text: quote_plus(text),  # once only
    lambda text: quote(text, safe=""),
], ids=["twice-plus", "twice", "once-plus", "once"])
def test_search_strings_encoded_once_or_twice(client: Client, data, encode) -> None:
    search = {"event_type": "meteorpi:test_event", "meta": [
        {"type": "number_equals", "key": "meteorpi:speed", "value": 10}], "limit": 5}
    text = json.dumps(search)  # with spaces, which quote_plus turns into '+'
    body = client.get("/events/" + encode(text)).json()
    assert [e["event_id"] for e in body["events"]] == [data["events"][1].event_id.hex]


def test_event_search_criteria_and_paging(client: Client, data) -> None:
    def ids(search: model.EventSearch) -> list[str]:
        return [e["event_id"] for e in client.get("/events/" + encode_search(search)).json()["events"]]

    events = [e.event_id.hex for e in reversed(data["events"])]
    assert ids(model.EventSearch(limit=2)) == events[:2]
    assert ids(model.EventSearch(limit=2, skip=2)) == events[2:]
    assert ids(model.EventSearch(after=utc(2015, 3, 3, 0, 30))) == events[:2]
    assert ids(model.EventSearch(camera_ids=CAMERA_2)) == []
    assert ids(model.EventSearch(lat_min=51, lat_max=53)) == events
    assert ids(model.EventSearch(meta_constraints=[
        model.MetaConstraint("greater", "meteorpi:speed", 10)])) == events[:2]
    body = client.get("/events/" + encode_search(model.EventSearch(limit=1))).json()
    assert body["count"] == 3 and len(body["events"]) == 1


def test_file_search(client: Client, data) -> None:
    def search(**criteria) -> dict:
        response = client.get("/files/" + encode_search(model.FileRecordSearch(**criteria)))
        assert response.status_code == 200
        return response.json()

    body = search()
    assert body["count"] == 6
    for record in body["files"]:
        assert_schema(record, "FileRecord")
    assert body["files"][0] == data["files"][4].as_dict()
    assert [f["file_id"] for f in search(camera_ids=[CAMERA_2])["files"]] == [data["other"].file_id.hex]
    assert search(mime_type="text/plain")["count"] == 1
    assert search(semantic_type="meteorpi:other")["count"] == 1
    assert search(exclude_events=True)["count"] == 3
    assert search(meta_constraints=[model.MetaConstraint("less", "meteorpi:brightness", 1.0)])["count"] == 2


def test_page_size_is_capped(make_server, tmp_path: Path) -> None:
    meteor_server = make_server(settings={"MPI_MAX_PAGE_SIZE": 2})
    make_status(meteor_server.db, INSTALLATION_ID, utc(2015, 1, 1))
    for hour in range(4):
        make_file(meteor_server.db, tmp_path, utc(2015, 1, 2, hour))
    http = Client(meteor_server.base_url())
    for limit in (0, 3, 1000):
        body = http.get("/files/" + encode_search({"limit": limit})).json()
        assert (body["count"], len(body["files"])) == (4, 2)
    assert len(http.get("/files/" + encode_search({"limit": 1})).json()["files"]) == 1


@pytest.mark.parametrize("kind", ["events", "files"])
@pytest.mark.parametrize("search, fragment", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    ('{"lat_min": 10, "lat_max": 5}', "lat_max"),
    ('{"limit": -1}', "limit"),
    ('{"limit": "ten"}', "limit"),
    ('{"camera_ids": []}', "camera_ids"),
    ('{"no_such_field": 1}', "no_such_field"),
    ('{"meta": [{"type": "similar", "key": "a:b", "value": 1}]}', "similar"),
    ('{"meta": [{"type": "before", "key": "a:b", "value": "yesterday"}]}', "before"),
    ('{"after": 1e400}', "after"),
    ('{"exclude_export_to": "not-a-uuid"}', "exclude_export_to"),
    ('{"camera_ids": ["' + "x" * 300 + '"]}', "too long"),
    ("[" * 5000, "not valid JSON"),
])
def test_bad_searches_are_400_naming_the_problem(client: Client, kind: str, search: str,
                                                 fragment: str) -> None:
    response = client.get(f"/{kind}/" + quote_plus(quote_plus(search)))
    assert response.status_code == 400
    assert fragment in response.json()["message"]


def test_event_only_and_file_only_fields_are_rejected_in_the_other_search(client: Client) -> None:
    assert client.get("/events/" + encode_search({"exclude_events": True})).status_code == 400
    assert client.get("/files/" + encode_search({"event_type": "a:b"})).status_code == 400
