"""The browse page (GET / and /browse): served as HTML, and every request its script makes is
answered by the query API with the fields the script reads, at the root and under a prefix."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin

import pytest
import requests

import meteorpi_model as model
from meteorpi_server import browse, query_api, wsgi
from meteorpi_server.settings import defaults
from tests.conftest import INSTALLATION_ID
from tests.helpers import make_event, make_file, make_status, utc
from tests.server_helpers import (Client, cheap_password_hashing, client,  # noqa: F401
                                  make_server, server, serving)

OTHER_CAMERA = "b827eb000002"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
HOOKS = ("camera-list", "gallery", "pager", "page-info", "filter-camera", "filter-after",
         "filter-before", "tab-events", "tab-sky", "viewer")
DAY_MS = 86_400_000


def script_of(html: str) -> str:
    (script,) = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    return script


def api_paths(script: str) -> dict[str, Any]:
    """The relative API paths declared in the script's ``API`` object."""
    block = re.search(r"const API = \{(.*?)\n\};", script, re.DOTALL).group(1)
    paths: dict[str, Any] = dict(re.findall(r'(\w+): "([^"]*)"', block))
    prefix, suffix = re.search(r'status: \(id\) => "([^"]*)" \+ encodeURIComponent\(id\) \+ "([^"]*)"',
                               block).groups()
    paths["status"] = lambda camera_id: prefix + quote(camera_id, safe="") + suffix
    return paths


def encode_like_the_page(search: dict[str, Any]) -> str:
    """encodeURIComponent(encodeURIComponent(JSON.stringify(search)))."""
    text = json.dumps(search, separators=(",", ":"))
    for _ in range(2):
        text = quote(text, safe="-_.!~*'()")
    return text


@pytest.fixture
def network(server, tmp_path: Path) -> dict[str, Any]:
    """Two cameras; meteor events with image and preview files; sky-clarity images."""
    db = server.db
    make_status(db, INSTALLATION_ID, utc(2024, 8, 11), inst_name="Jodrell Bank", lens="2.2mm f/1.2")
    make_status(db, OTHER_CAMERA, utc(2024, 8, 11), inst_name="Kielder", latitude=55.2, longitude=-2.6)
    events = []
    for day, camera in ((12, INSTALLATION_ID), (13, INSTALLATION_ID), (13, OTHER_CAMERA)):
        when = utc(2024, 8, day, 2, 30)
        image = make_file(db, tmp_path, when, camera, semantic_type="meteorpi:meteor_image",
                          mime_type="image/png", content=PNG, file_name=f"{camera}_{day}.png")
        preview = make_file(db, tmp_path, when, camera, semantic_type="meteorpi:meteor_preview",
                            mime_type="image/jpeg", file_name=f"{camera}_{day}.jpg")
        events.append(make_event(db, when, camera, [image, preview], event_type="meteorpi:meteor",
                                 meta=[model.Meta("meteorpi:shower", "PER"),
                                       model.Meta("meteorpi:duration", 0.5 + day / 100),
                                       model.Meta("meteorpi:peak_time", when + timedelta(seconds=1))]))
    sky = [make_file(db, tmp_path, utc(2024, 8, 12, hour), camera, semantic_type="meteorpi:sky_clarity",
                     mime_type="image/png", content=PNG, meta=[model.Meta("meteorpi:sky_clarity", 80.5)])
           for hour in (1, 2) for camera in (INSTALLATION_ID, OTHER_CAMERA)]
    return {"events": events, "sky": sky}


@pytest.mark.parametrize("path", ["/", "/browse"])
def test_the_page_is_html_with_its_hooks(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    html = response.text
    assert html.startswith("<!doctype html>")
    for hook in HOOKS:
        assert f'id="{hook}"' in html
    assert "meteorpi:sky_clarity" in html and "meteorpi:meteor_image" in html
    assert client.get("/").content == response.content


def test_the_page_loads_nothing_from_elsewhere_and_runs_only_its_own_script(client: Client) -> None:
    response = client.get("/")
    html = response.text
    assert not re.search(r"https?://|(src|href)=[\"']?//", html)
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy
    digest = base64.b64encode(hashlib.sha256(script_of(html).encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_script_builds_every_url_relative_to_the_page_and_escapes_data(client: Client) -> None:
    script = script_of(client.get("/").text)
    paths = api_paths(script)
    assert {key: paths[key] for key in ("cameras", "events", "files", "content")} == {
        "cameras": "cameras", "events": "events/", "files": "files/", "content": "files/content/"}
    assert not re.search(r"[\"'`]/(cameras|events|files|health|openapi)", script)
    assert script.count("fetch(") == 1
    assert "encodeURIComponent(encodeURIComponent(JSON.stringify(search)))" in script
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script
    assert "document.write" not in script


@pytest.mark.parametrize("page", ["", "browse"])
def test_every_request_of_the_script_is_answered(server, network, page: str) -> None:
    base = server.base_url()
    page_url = urljoin(base, page)
    paths = api_paths(script_of(requests.get(page_url, timeout=10).text))
    http = requests.Session()

    def get(path: str) -> requests.Response:
        response = http.get(urljoin(page_url, path), timeout=10)
        assert response.status_code == 200, (path, response.text)
        return response

    cameras = get(paths["cameras"]).json()["cameras"]
    assert cameras == sorted([INSTALLATION_ID, OTHER_CAMERA])
    status = get(paths["status"](INSTALLATION_ID)).json()["status"]
    assert (status["inst_name"], status["lens"], status["location"]["lat"]) == (
        "Jodrell Bank", "2.2mm f/1.2", 52.2)
    assert {"sensor", "inst_url", "valid_from", "orientation"} <= set(status)

    day_13 = model.utc_datetime_to_milliseconds(utc(2024, 8, 13))
    found = get(paths["events"] + encode_like_the_page({
        "limit": 24, "skip": 0, "camera_ids": [INSTALLATION_ID],
        "after": day_13, "before": day_13 + DAY_MS - 1})).json()
    assert found["count"] == 1
    (event,) = found["events"]
    assert event["event_id"] == network["events"][1].event_id.hex
    assert {m["key"]: m["type"] for m in event["meta"]} == {
        "meteorpi:shower": "string", "meteorpi:duration": "number", "meteorpi:peak_time": "date"}
    image = next(f for f in event["files"] if f["semantic_type"] == "meteorpi:meteor_image")
    assert get(paths["content"] + image["file_id"]).content == PNG
    named = get(paths["content"] + image["file_id"] + "/" + quote(image["file_name"], safe=""))
    assert named.content == PNG

    second_page = get(paths["events"] + encode_like_the_page({"limit": 2, "skip": 2})).json()
    assert (second_page["count"], len(second_page["events"])) == (3, 1)
    assert second_page["events"][0]["event_id"] == network["events"][0].event_id.hex

    sky = get(paths["files"] + encode_like_the_page({
        "limit": 24, "skip": 0, "camera_ids": [OTHER_CAMERA],
        "semantic_type": "meteorpi:sky_clarity"})).json()
    assert sky["count"] == 2
    assert {f["file_id"] for f in sky["files"]} == {r.file_id.hex for r in network["sky"][1::2]}
    assert sky["files"][0]["meta"] == [{"type": "number", "key": "meteorpi:sky_clarity", "value": 80.5}]


def test_the_page_works_under_a_url_path_prefix(make_server) -> None:
    def mount(meteor_app) -> None:
        query_api.add_routes(meteor_app, url_path="/api")
        browse.add_routes(meteor_app, url_path="/api")

    meteor_server = make_server(add_routes=False, extra_routes=mount)
    base = meteor_server.base_url()
    http = Client(base)
    bare = http.get("/api", allow_redirects=False)
    assert bare.status_code in (301, 308) and bare.headers["Location"].endswith("/api/")
    for page in ("/api/", "/api/browse"):
        response = http.get(page)
        assert response.headers["Content-Type"].startswith("text/html")
        paths = api_paths(script_of(response.text))
        cameras = requests.get(urljoin(base.rstrip("/") + page, paths["cameras"]), timeout=10)
        assert (cameras.url, cameras.json()) == (base + "api/cameras", {"cameras": []})
    assert http.get("/").status_code == 404


@pytest.mark.parametrize("routes, served", [(None, True), ("query,browse", True), ("query", False)])
def test_the_wsgi_factory_serves_the_page_with_the_browse_route_set(
        db_url: str, tmp_path: Path, routes: str | None, served: bool) -> None:
    assert "browse" in defaults()["MPI_ROUTES"].split(",")
    config = {"MPI_DB": db_url, "MPI_FILE_STORE": str(tmp_path / "files"),
              "MPI_INSTALLATION_ID": INSTALLATION_ID}
    if routes is not None:
        config["MPI_ROUTES"] = routes
    with serving(wsgi.create_app(config)) as http:
        page = http.get("/")
        assert page.status_code == (200 if served else 404)
        assert ('id="gallery"' in page.text) is served
        assert http.get("/cameras").json() == {"cameras": []}
        assert ("/" in http.get("/openapi.json").json()["paths"]) is served
