"""Coincidences over HTTP, in the client and in the CLI (they agree), the scheduled and
import-triggered updater, on every backend."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest

import meteorpi_model as model
from meteorpi_client import BadRequest, MeteorClient
from meteorpi_fdb.coincidence_updater import CoincidenceUpdater
from meteorpi_server.openapi import DOCUMENT
from meteorpi_trajectory.simulate import Meteor
from tests.coincidence_helpers import stations, store_meteor, store_stations
from tests.helpers import utc
from meteorpi_server.wsgi import create_app
from tests.server_helpers import assert_schema, encode_search, make_server, serving  # noqa: F401
from tests.test_cli import Cli, as_json, cli, data_dir, error_line, node_db  # noqa: F401

NIGHT = utc(2024, 8, 12, 0)
METEORS = [Meteor(52.9, -1.4, 100, 60, 40, 40), Meteor(52.6, -1.8, 100, 30, 25, 59),
           Meteor(52.8, -1.2, 100, 200, 45, 15)]


def fill(db) -> list:
    network = stations()
    store_stations(db, network)
    stored = [store_meteor(db, meteor, network, NIGHT + timedelta(minutes=5 * i))
              for i, meteor in enumerate(METEORS)]
    return stored


def test_api_client_and_cli_agree(make_server, cli: Cli, node_db) -> None:  # noqa: F811
    stored = fill(node_db)
    counts = as_json(cli("--json", "coincidences", "update"))
    assert counts["created"] == counts["solved"] == len(METEORS)
    server = make_server()
    local = node_db.search_coincidences(model.CoincidenceSearch(limit=0))
    with MeteorClient(server.base_url()) as client:
        remote = client.search_coincidences(model.CoincidenceSearch(limit=0))
        paged = list(client.iter_coincidences(model.CoincidenceSearch(limit=1)))
    assert remote == local and paged == local["coincidences"]
    assert local["count"] == len(METEORS)
    from_cli = as_json(cli("--json", "coincidences", "search", "--limit", "0"))
    assert from_cli == {"count": local["count"],
                        "coincidences": [c.as_dict() for c in local["coincidences"]]}
    over_http = as_json(cli("--json", "coincidences", "search", "--limit", "0",
                            "--url", server.base_url()))
    assert over_http == from_cli
    for group in from_cli["coincidences"]:
        assert_schema(group, "Coincidence")
    # Filters behave the same locally and over HTTP.
    event = stored[0].events[0]
    args = ["--json", "coincidences", "search", "--event", event.event_id.hex, "--solved"]
    assert as_json(cli(*args)) == as_json(cli(*args, "--url", server.base_url()))
    assert as_json(cli(*args))["count"] == 1
    text = cli("coincidences", "search").stdout
    assert "1-3 of 3 coincidences" in text and "refused" not in text


def test_raw_http_search_encoding_paging_and_errors(make_server, node_db) -> None:  # noqa: F811
    fill(node_db)
    node_db.update_coincidences()
    server = make_server({"MPI_MAX_PAGE_SIZE": 2})
    base = server.base_url()
    import requests

    for times in (1, 2):
        answer = requests.get(f"{base}coincidences/{encode_search({'limit': 0}, times)}", timeout=30)
        assert answer.status_code == 200
        body = answer.json()
        assert body["count"] == 3 and len(body["coincidences"]) == 2  # capped at the page size
    skipped = requests.get(f"{base}coincidences/{encode_search({'limit': 2, 'skip': 2})}", timeout=30)
    assert len(skipped.json()["coincidences"]) == 1
    for bad, fragment in ((encode_search({"min_stations": 1}), "min_stations"),
                          (encode_search({"nope": 1}), "unknown field"),
                          (encode_search({"event_ids": ["zz"]}), "event_ids"),
                          ("not-json", "search")):
        answer = requests.get(f"{base}coincidences/{bad}", timeout=30)
        assert answer.status_code == 400 and fragment in answer.json()["message"]
    with MeteorClient(base) as client, pytest.raises(BadRequest):
        client._get_json(f"/coincidences/{encode_search({'after': 'x'})}")


def test_the_route_set_and_the_openapi_document(db_url: str, tmp_path) -> None:
    assert "/coincidences/{search}" in DOCUMENT["paths"]
    store = str(tmp_path / "files")
    with serving(create_app({"MPI_DB": db_url, "MPI_FILE_STORE": store})) as http:
        served = http.get("/openapi.json").json()
        assert served["paths"]["/coincidences/{search}"]["get"]["operationId"] == "searchCoincidences"
        assert http.get("/coincidences/" + encode_search({})).json() == {"coincidences": [], "count": 0}
    with serving(create_app({"MPI_DB": db_url, "MPI_FILE_STORE": store, "MPI_ROUTES": "query"})) as http:
        assert "/coincidences/{search}" not in http.get("/openapi.json").json()["paths"]
        assert http.get("/coincidences/" + encode_search({})).status_code == 404


def test_the_wsgi_app_runs_the_updater_when_configured(db_url: str, tmp_path) -> None:
    store = str(tmp_path / "files")
    quiet = create_app({"MPI_DB": db_url, "MPI_FILE_STORE": store}).extensions["meteorpi"]
    assert quiet.coincidence_updater is None
    quiet.db.close()
    meteor_app = create_app({"MPI_DB": db_url, "MPI_FILE_STORE": store,
                             "MPI_COINCIDENCE_SECONDS": 3600,
                             "MPI_COINCIDENCE_WINDOW_MS": 1500}).extensions["meteorpi"]
    updater = meteor_app.coincidence_updater
    try:
        assert meteor_app.db.coincidence_updater is updater
        assert (updater.interval, updater.window) == (3600, 1.5)
    finally:
        updater.stop()
        meteor_app.db.close()


def test_cli_update_options_and_errors(cli: Cli, node_db) -> None:  # noqa: F811
    fill(node_db)
    assert as_json(cli("--json", "coincidences", "update", "--all"))["created"] == 3
    again = as_json(cli("--json", "coincidences", "update", "--after", "2024-08-12T00:00:00",
                        "--before", "2024-08-12T01:00:00", "--window", "1"))
    assert again["created"] == 0 and again["kept"] == 3
    assert "3 groups among 12 events" in cli("coincidences", "update", "--all").stdout
    line = error_line(cli("coincidences", "update", "--after", "2024-08-13", "--before",
                          "2024-08-12", expect=1))
    assert "before must not be earlier than after" in line
    assert "--window" in cli("coincidences", "update", "--window", "-1", expect=2).stderr


def test_imports_trigger_an_update_and_the_schedule_runs(db) -> None:
    network = stations()
    store_stations(db, network)
    updater = CoincidenceUpdater(db, interval=3600, settle=0.1).start()
    try:
        stored = store_meteor(db, METEORS[0], network, NIGHT)
        assert updater.runs == 0  # registering is not importing: the schedule will see it
        status = db.get_camera_status(NIGHT, stored.events[0].camera_id)
        # An imported event from a fifth camera that saw the same meteor.
        other = model.CameraStatus("l", "s", "", "fifth", status.orientation, status.location,
                                   camera_id="c0ffee0000ff", status_id=uuid.uuid4(),
                                   valid_from=utc(2024, 8, 1))
        db.import_camera_status(other)
        imported = model.Event("c0ffee0000ff", NIGHT + timedelta(seconds=0.5), uuid.uuid4(),
                               "meteorpi:meteor", other.status_id, [], [])
        db.import_event(imported, "importer")
        deadline = time.monotonic() + 30
        while updater.runs < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert updater.runs >= 1
    finally:
        updater.stop()
    (group,) = db.search_coincidences(model.CoincidenceSearch())["coincidences"]
    assert len(group.members) == 5  # the imported event joined the four registered ones
    assert group.trajectory.ok and group.trajectory.stations == 4  # it has no pixels to use
    assert db.coincidence_updater is None
    with pytest.raises(ValueError, match="interval"):
        CoincidenceUpdater(db, interval=0)


def test_the_browse_page_reads_coincidences_with_its_own_encoding(make_server, node_db) -> None:  # noqa: F811
    from urllib.parse import urljoin

    import requests

    from tests.test_server_browse import encode_like_the_page, module_source

    stored = fill(node_db)
    node_db.update_coincidences()
    base = make_server().base_url()
    page = requests.get(base + "web/", timeout=30)
    script = module_source(base, "gallery.js")
    paths = {"coincidences": "coincidences/"}
    assert 'route: "coincidences/"' in script
    assert 'id="tab-groups"' in page.text and 'svg("svg"' in script
    ids = [e.event_id.hex for s in stored for e in s.events][:5]
    answer = requests.get(urljoin(base, paths["coincidences"] + encode_like_the_page(
        {"event_ids": ids, "limit": len(ids)})), timeout=30)
    assert answer.status_code == 200
    groups = answer.json()["coincidences"]
    assert {m["event_id"] for g in groups for m in g["members"]} >= set(ids)
    listing = requests.get(urljoin(base, paths["coincidences"] + encode_like_the_page(
        {"limit": 24, "skip": 0})), timeout=30).json()
    assert listing["count"] == 3 and all(g["trajectory"]["ok"] for g in listing["coincidences"])
