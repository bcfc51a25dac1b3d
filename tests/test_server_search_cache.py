"""Search answers over HTTP: the 2015 bytes, ETags and 304s, the cache, cursors.

A write by another process (its own MeteorDatabase on the same database) must invalidate both a
client's ETag and this process's cache of answers.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import meteorpi_model as model
from tests.conftest import INSTALLATION_ID
from tests.helpers import make_event, make_file, make_status, utc
from tests.server_helpers import (Client, cheap_password_hashing, client,  # noqa: F401
                                  encode_search, make_server, server)
from tests.test_wire import as_jsonify


@pytest.fixture
def data(server, tmp_path: Path) -> None:
    db = server.db
    make_status(db, INSTALLATION_ID, utc(2015, 1, 1))
    for hour in range(4):
        record = make_file(db, tmp_path, utc(2015, 1, 2, hour), meta=[model.Meta("meteorpi:x", hour / 3)],
                           file_name=f"f{hour}.bin")
        make_event(db, utc(2015, 1, 2, hour), files=[record], meta=[model.Meta("odd:\u00e9", "\u2603")])


def write_in_another_process(server, tmp_path: Path) -> None:
    """Register one more event from a separate Python process (its own engine and caches)."""
    script = textwrap.dedent(f"""
        import os, sys
        import meteorpi_model as model
        from meteorpi_fdb import MeteorDatabase
        from tests.helpers import make_event, utc
        db = MeteorDatabase({server.db.db_path!r}, {str(tmp_path / "files")!r}, installation_id={INSTALLATION_ID!r})
        make_event(db, utc(2015, 1, 3), meta=[model.Meta("meteorpi:from", "elsewhere")])
        db.close()
    """)
    subprocess.run([sys.executable, "-c", script], check=True, cwd=Path(__file__).parent.parent, timeout=120)


def test_answers_are_the_2015_bytes(server, client: Client, data) -> None:
    for search, key, method in ((model.EventSearch(), "events", server.db.search_events),
                                (model.FileRecordSearch(limit=2), "files", server.db.search_files)):
        response = client.get(f"/{key}/{encode_search(search)}")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/json"
        expected = method(search)
        body = response.content
        if key == "files":  # a full page carries the extra "cursor" key, last
            assert response.json()["cursor"]
            body = body[:body.rindex(b',"cursor"')] + b"}\n"
        assert body == as_jsonify(key, expected[key], expected["count"])


@pytest.mark.parametrize("key", ["events", "files"])
def test_an_unchanged_search_answers_304_until_another_process_writes(server, client: Client, data,
                                                                       tmp_path: Path, key: str) -> None:
    path = f"/{key}/{encode_search({'limit': 10})}"
    first = client.get(path)
    etag = first.headers["ETag"]
    assert first.status_code == 200 and etag and first.headers["Cache-Control"] == "no-cache"
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
    assert client.get(path).content == first.content  # from the cache: same bytes
    other = client.get(f"/{key}/{encode_search({'limit': 9})}")
    assert other.headers["ETag"] != etag  # another search, another tag
    write_in_another_process(server, tmp_path)
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    if key == "events":
        assert changed.json()["count"] == first.json()["count"] + 1
        assert changed.json()["events"][0]["meta"] == [{"type": "string", "key": "meteorpi:from",
                                                        "value": "elsewhere"}]
    assert client.get(path, headers={"If-None-Match": changed.headers["ETag"]}).status_code == 304


def test_a_write_in_this_process_invalidates_the_cache(server, client: Client, data, tmp_path: Path) -> None:
    path = f"/files/{encode_search({'limit': 100})}"
    before = client.get(path).json()["count"]
    make_file(server.db, tmp_path, utc(2015, 1, 4))
    assert client.get(path).json()["count"] == before + 1


def test_without_a_cache_answers_are_the_same(make_server, tmp_path: Path) -> None:
    meteor_server = make_server(settings={"MPI_SEARCH_CACHE_BYTES": 0})
    make_status(meteor_server.db, INSTALLATION_ID, utc(2015, 1, 1))
    make_event(meteor_server.db, utc(2015, 1, 2))
    http = Client(meteor_server.base_url())
    path = f"/events/{encode_search({})}"
    first = http.get(path)
    assert http.get(path).content == first.content
    assert http.get(path, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    http.close()


def test_cursor_pages_over_http(client: Client, data) -> None:
    everything = client.get(f"/events/{encode_search({})}").json()["events"]
    seen, cursor = [], None
    while True:
        search = {"limit": 3} if cursor is None else {"limit": 3, "cursor": cursor}
        page = client.get(f"/events/{encode_search(search)}").json()
        seen += page["events"]
        cursor = page.get("cursor")
        if cursor is None:
            break
    assert seen == everything and len(seen) == 4


@pytest.mark.parametrize("cursor", ["nonsense", 12, ["1.2"], "1.2.3"])
def test_a_bad_cursor_is_400(client: Client, data, cursor) -> None:
    response = client.get(f"/events/{encode_search({'cursor': cursor})}")
    assert response.status_code == 400
    assert "cursor" in response.json()["message"]


def test_the_wsgi_factory_freezes_start_up_objects_once(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import gc
        from meteorpi_server.wsgi import create_app
        assert gc.get_freeze_count() == 0
        create_app({{"MPI_DB": {str(tmp_path / "a.db")!r}, "MPI_FILE_STORE": {str(tmp_path / "files")!r},
                    "MPI_INSTALLATION_ID": "aabbccddeeff"}})
        from meteorpi_server.startup import freeze_startup_objects
        print(gc.get_freeze_count(), freeze_startup_objects())
    """)
    output = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True,
                            timeout=120).stdout.split()
    assert int(output[0]) > 10_000 and output[1] == "False"  # frozen by create_app, once


def test_searches_answered_before_flask_are_flasks_answers_byte_for_byte(server, data) -> None:
    """SearchShortcut answers plain searches before Flask routes them: 200 (cached or built) and
    304 must be what the Flask views answer, headers included; anything else reaches Flask."""
    from werkzeug.test import EnvironBuilder, run_wsgi_app

    app = server.meteor_app.app
    shortcut = app.wsgi_app
    flask_requests: list[str] = []

    def flask_only(environ, start_response):
        flask_requests.append(environ["PATH_INFO"])
        return shortcut.wsgi_app(environ, start_response)

    def answer(wsgi, path: str, headers: dict[str, str]) -> tuple[str, list, bytes]:
        environ = EnvironBuilder(path=path, headers=headers).get_environ()
        body, status, response_headers = run_wsgi_app(wsgi, environ, buffered=True)
        return status, sorted(response_headers.items()), b"".join(body)

    server.meteor_app.app.wsgi_app = type(shortcut)(flask_only, shortcut.answers)
    try:
        for kind, search in (("events", model.EventSearch(limit=2)), ("files", model.FileRecordSearch()),
                             ("events", model.EventSearch(camera_ids=[INSTALLATION_ID]))):
            path = f"/{kind}/{encode_search(search)}"
            for headers in ({}, {"Origin": "https://example.org"}):
                flask_requests.clear()
                fresh = answer(app, path, headers)  # built by the shortcut
                assert flask_requests == [] and fresh[0] == "200 OK"
                assert answer(flask_only, path, headers) == fresh  # Flask's view, from the cache
                assert answer(app, path, headers) == fresh  # the shortcut, from the cache
                etag = dict(fresh[1])["ETag"]
                not_modified = answer(app, path, {**headers, "If-None-Match": etag})
                assert not_modified[0] == "304 NOT MODIFIED"
                assert answer(flask_only, path, {**headers, "If-None-Match": etag}) == not_modified
                assert len(flask_requests) == 2
        for path in ("/events/{nonsense", "/files/content", f"/events/{encode_search(model.EventSearch())}/x"):
            flask_requests.clear()
            assert answer(app, path, {}) == answer(flask_only, path, {})
            assert len(flask_requests) == 2  # the shortcut passed it on
    finally:
        server.meteor_app.app.wsgi_app = shortcut
