"""Production serving: settings, the app factory, /health, and gunicorn with two workers."""

from __future__ import annotations

import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from meteorpi_fdb import MeteorDatabase
from meteorpi_server import wsgi
from meteorpi_server.settings import SETTINGS, defaults, load_settings
from tests import backends
from tests.conftest import INSTALLATION_ID
from tests.helpers import make_event, make_file, make_status, utc
from tests.server_helpers import (ADMIN, Client, add_users, cheap_password_hashing,  # noqa: F401
                                  encode_search, free_port, serving, start_gunicorn, stop_process,
                                  wait_for)

DOCS = Path(__file__).resolve().parent.parent / "docs" / "http-api.md"


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for setting in SETTINGS:
        assert re.search(rf"^\| `{setting.name}` \|", text, re.MULTILINE), setting.name
        assert setting.help
    documented = set(re.findall(r"^\| `(MPI_[A-Z0-9_]+)` \|", text, re.MULTILINE))
    assert documented == {setting.name for setting in SETTINGS}


def test_settings_precedence(tmp_path: Path) -> None:
    settings_file = tmp_path / "meteorpi.yaml"
    settings_file.write_text("MPI_MAX_PAGE_SIZE: 50\nMPI_LOG_LEVEL: DEBUG\nMPI_DB: from-file.db\n")
    environ = {"MPI_CONFIG": str(settings_file), "MPI_MAX_PAGE_SIZE": "70", "UNRELATED": "x"}
    values = load_settings({"MPI_DB": "from-dict.db"}, environ=environ)
    assert values["MPI_MAX_PAGE_SIZE"] == 70  # environment beats file
    assert values["MPI_LOG_LEVEL"] == "DEBUG"  # file beats default
    assert values["MPI_DB"] == "from-dict.db"  # dict beats everything
    assert values["MPI_AUTH_CACHE_SECONDS"] == defaults()["MPI_AUTH_CACHE_SECONDS"]
    json_file = tmp_path / "meteorpi.json"
    json_file.write_text(json.dumps({"MPI_ROUTES": "query"}))
    assert load_settings(str(json_file), environ={})["MPI_ROUTES"] == "query"


@pytest.mark.parametrize("config, environ, fragment", [
    ({"MPI_NO_SUCH": 1}, {}, "MPI_NO_SUCH"),
    ({}, {"MPI_MAX_PAGE_SIZE": "many"}, "MPI_MAX_PAGE_SIZE"),
    ({"MPI_MAX_PAGE_SIZE": 0}, {}, "MPI_MAX_PAGE_SIZE"),
    ({"MPI_AUTH_CACHE_SECONDS": -1}, {}, "MPI_AUTH_CACHE_SECONDS"),
    ({"MPI_ROUTES": "query,everything"}, {}, "everything"),
    ({"MPI_DB": 5}, {}, "MPI_DB"),
])
def test_bad_settings_are_refused(config, environ, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        load_settings(config, environ=environ)


def test_create_app_serves_the_configured_route_sets(db_url: str, tmp_path: Path) -> None:
    app = wsgi.create_app({"MPI_DB": db_url, "MPI_FILE_STORE": str(tmp_path / "files"),
                           "MPI_INSTALLATION_ID": INSTALLATION_ID, "MPI_ROUTES": "query"})
    with serving(app) as http:
        assert http.get("/cameras").json() == {"cameras": []}
        assert http.get("/health").json()["status"] == "ok"
        assert http.get("/users", auth=ADMIN).status_code == 404
        assert http.post("/import", json={}).status_code == 404
        paths = http.get("/openapi.json").json()["paths"]
        assert "/cameras" in paths and "/users" not in paths and "/import" not in paths
    assert app.extensions["meteorpi"].db.installation_id == INSTALLATION_ID


def test_module_level_app_is_built_from_the_environment(db_url: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPI_DB", db_url)
    monkeypatch.setenv("MPI_FILE_STORE", str(tmp_path / "files"))
    monkeypatch.setenv("MPI_MAX_PAGE_SIZE", "7")
    monkeypatch.setattr(wsgi, "_app", None)
    app = wsgi.app
    assert wsgi.app is app
    assert app.config["MPI_MAX_PAGE_SIZE"] == 7
    with serving(app) as http:
        assert http.get("/health").json()["status"] == "ok"
        assert http.get("/users").status_code == 403


def test_health_is_503_when_the_database_is_gone(tmp_path: Path) -> None:
    url = backends.create_template("postgresql", tmp_path)
    try:
        app = wsgi.create_app({"MPI_DB": url, "MPI_FILE_STORE": str(tmp_path / "files")})
        with serving(app) as http:
            assert http.get("/health").json()["status"] == "ok"
            app.extensions["meteorpi"].db.engine.dispose()
            backends.drop_template("postgresql", url)
            response = http.get("/health")
            assert response.status_code == 503
            assert response.json() == {"status": "unavailable", "message": "database does not answer"}
    finally:
        backends.drop_template("postgresql", url)


def _worker_pids(master_pid: int) -> set[int]:
    children = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master_pid:
                children.add(int(entry))
    return children


def test_gunicorn_with_two_workers_on_one_database(db_url: str, tmp_path: Path) -> None:
    store = tmp_path / "files"
    db = MeteorDatabase(db_url, str(store), installation_id=INSTALLATION_ID)
    try:
        make_status(db, INSTALLATION_ID, utc(2015, 1, 1))
        records = [make_file(db, tmp_path / "in", utc(2015, 1, 2, hour), content=bytes([hour]) * 1000)
                   for hour in range(6)]
        make_event(db, utc(2015, 1, 3), INSTALLATION_ID, files=records[:2])
        add_users(db)
    finally:
        db.close()
    port = free_port()
    process = start_gunicorn({"MPI_DB": db_url, "MPI_FILE_STORE": str(store),
                              "MPI_INSTALLATION_ID": INSTALLATION_ID, "MPI_ARGON2_PROFILE": "test",
                              "MPI_MAX_PAGE_SIZE": "4"}, port, workers=2)
    try:
        wait_for(f"http://127.0.0.1:{port}/health", process=process)
        assert len(_worker_pids(process.pid)) == 2
        http = Client(f"http://127.0.0.1:{port}")

        def search(i: int) -> tuple[int, int, int]:
            body = requests.get(http.url("/files/" + encode_search({"limit": 0, "skip": i % 3})),
                                timeout=30).json()
            return body["count"], len(body["files"]), i % 3

        with ThreadPoolExecutor(8) as pool:
            for count, page, skip in pool.map(search, range(60)):
                assert count == 6 and page == min(4, 6 - skip)
        assert http.get("/events/" + encode_search({})).json()["count"] == 1
        ranged = http.get(f"/files/content/{records[3].file_id.hex}", headers={"Range": "bytes=-10"})
        assert (ranged.status_code, ranged.content) == (206, bytes([3]) * 10)
        # A user created through one worker can log in through either.
        assert http.post("/users", json={"user_id": "new", "password": "password-1"}, auth=ADMIN).ok
        with ThreadPoolExecutor(4) as pool:
            logins = list(pool.map(lambda _: requests.get(http.url("/login"), auth=("new", "password-1"),
                                                           timeout=30).status_code, range(12)))
        assert logins == [200] * 12
        response = http.get("/events/" + encode_search({"lat_min": 5, "lat_max": 1}))
        assert response.status_code == 400 and "lat_max" in response.json()["message"]
    finally:
        stop_process(process)
