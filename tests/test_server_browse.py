"""The website's route set (``browse``) over HTTP: / and /browse redirect to the gallery; pages
carry the strict CSP; assets are cached by ETag; nothing is loaded from elsewhere; every URL
is relative, so the site works under a url_path; the WSGI factory serves it with the route set.
(The pages' behaviour in a real browser: tests/test_website.py.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin

import pytest
import requests

from meteorpi_server import query_api, website, wsgi
from meteorpi_server.settings import defaults
from tests.conftest import INSTALLATION_ID
from tests.server_helpers import (Client, cheap_password_hashing, client,  # noqa: F401
                                  make_server, server, serving)

STATIC = Path(website.__file__).parent / "web" / "static"
PAGES = ("", "search", "camera", "health", "login")


def module_source(base_url: str, name: str) -> str:
    """A module of the website as served."""
    response = requests.get(urljoin(base_url, "web/static/" + name), timeout=10)
    assert response.status_code == 200, name
    return response.text


def encode_like_the_page(search: dict[str, Any]) -> str:
    """app.js's searchPath: encodeURIComponent(encodeURIComponent(JSON.stringify(search)))."""
    text = json.dumps(search, separators=(",", ":"))
    for _ in range(2):
        text = quote(text, safe="-_.!~*'()")
    return text


@pytest.mark.parametrize("path, query", [("/", ""), ("/browse", ""), ("/browse", "?tab=sky&camera=x")])
def test_the_old_pages_redirect_to_the_gallery(client: Client, path: str, query: str) -> None:
    response = client.get(path + query, allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "web/" + query
    followed = client.get(path + query)
    assert followed.url == client.url("/web/" + query) and 'id="gallery"' in followed.text


@pytest.mark.parametrize("page", PAGES)
def test_each_page_is_html_with_the_strict_policy_and_no_inline_code(client: Client, page: str) -> None:
    response = client.get("/web/" + page)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    policy = response.headers["Content-Security-Policy"]
    for directive in ("default-src 'none'", "script-src 'self'", "style-src 'self'",
                      "img-src 'self' data:", "connect-src 'self'", "frame-ancestors 'none'"):
        assert directive in policy
    assert "unsafe" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-cache"
    html = response.text
    assert html.startswith("<!doctype html>") and '<main id="main">' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=", html)
    assert not re.search(r"https?://|(src|href)=\"/", html)
    (module,) = re.findall(r'<script type="module" src="(static/[a-z-]+\.js)"></script>', html)
    assert client.get("/web/" + module).status_code == 200
    assert 'href="static/app.css"' in html


def test_assets_are_cached_by_etag_and_typed(client: Client) -> None:
    for name, content_type in (("app.js", "text/javascript; charset=utf-8"),
                               ("app.css", "text/css; charset=utf-8")):
        response = client.get("/web/static/" + name)
        assert response.status_code == 200 and response.headers["Content-Type"] == content_type
        assert response.content == (STATIC / name).read_bytes()
        etag = response.headers["ETag"]
        assert response.headers["Cache-Control"] == "no-cache"
        again = client.get("/web/static/" + name, headers={"If-None-Match": etag})
        assert (again.status_code, again.content, again.headers["ETag"]) == (304, b"", etag)
    page = client.get("/web/search")
    assert client.get("/web/search", headers={"If-None-Match": page.headers["ETag"]}).status_code == 304


@pytest.mark.parametrize("path", ["/web/nope", "/web/static/nope.js", "/web/static/..%2fpages%2findex.html",
                                  "/web/..%2fwebsite.py", "/web/static/App.js", "/web/index.html"])
def test_unknown_pages_and_assets_are_json_404s(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "message" in response.json()


def test_the_modules_use_only_relative_urls_and_never_write_markup() -> None:
    sources = {p.name: p.read_text("utf-8") for p in STATIC.glob("*.js")}
    assert {"app.js", "gallery.js", "search.js", "camera.js", "health.js", "login.js", "charts.js"} <= set(sources)
    for name, source in sources.items():
        assert not re.search(r"[\"'`]/(cameras|events|files|activity|login|health|web|openapi)", source), name
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", source), name
        for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                          "new Function"):
            assert forbidden not in source, (name, forbidden)
    app = sources["app.js"]
    assert 'new URL("../../", import.meta.url)' in app
    assert "encodeURIComponent(encodeURIComponent(JSON.stringify(search)))" in app
    assert sources["app.js"].count("fetch(") == 3  # getJSON, logIn's check of the credentials, a thumbnail's 410 check


def test_the_site_works_under_a_url_path_prefix(make_server) -> None:
    def mount(meteor_app) -> None:
        query_api.add_routes(meteor_app, url_path="/api")
        website.add_routes(meteor_app, url_path="/api")

    meteor_server = make_server(add_routes=False, extra_routes=mount)
    base = meteor_server.base_url()
    http = Client(base)
    assert http.get("/api/", allow_redirects=False).headers["Location"] == "web/"
    gallery = http.get("/api/browse")
    assert gallery.url == base + "api/web/" and 'id="gallery"' in gallery.text
    # app.js finds the API two folders above itself: <root>/web/static/app.js -> <root>/
    assert http.get("/api/web/static/app.js").status_code == 200
    assert requests.get(urljoin(base + "api/web/static/app.js", "../../cameras"), timeout=10).json() == {"cameras": []}
    assert http.get("/").status_code == 404 and http.get("/web/").status_code == 404


@pytest.mark.parametrize("routes, served", [(None, True), ("query,browse", True), ("query", False)])
def test_the_wsgi_factory_serves_the_site_with_the_browse_route_set(
        db_url: str, tmp_path: Path, routes: str | None, served: bool) -> None:
    assert "browse" in defaults()["MPI_ROUTES"].split(",")
    config = {"MPI_DB": db_url, "MPI_FILE_STORE": str(tmp_path / "files"),
              "MPI_INSTALLATION_ID": INSTALLATION_ID}
    if routes is not None:
        config["MPI_ROUTES"] = routes
    with serving(wsgi.create_app(config)) as http:
        page = http.get("/web/")
        assert page.status_code == (200 if served else 404)
        assert ('id="gallery"' in page.text) is served
        assert http.get("/web/static/app.js").status_code == (200 if served else 404)
        assert http.get("/cameras").json() == {"cameras": []}
        assert ("/web/{page}" in http.get("/openapi.json").json()["paths"]) is served
