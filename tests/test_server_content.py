"""File content downloads: ranges, ETags, conditional GETs, names, missing content."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tests.conftest import INSTALLATION_ID
from tests.helpers import make_file, make_status, utc
from tests.server_helpers import Client, cheap_password_hashing, client, make_server, server  # noqa: F401

#: Downloads stream from either store (tests/object_store_helpers.py).
pytestmark = pytest.mark.both_stores

CONTENT = bytes(range(256)) * 4  # 1024 bytes, each position recognisable


@pytest.fixture
def stored(server, tmp_path: Path):
    make_status(server.db, INSTALLATION_ID, utc(2015, 1, 1))
    return make_file(server.db, tmp_path, utc(2015, 1, 2), content=CONTENT,
                     mime_type="image/png", file_name="meteor 1.png")


@pytest.fixture
def url(stored) -> str:
    return f"/files/content/{stored.file_id.hex}"


def test_whole_content_with_type_length_etag_and_name(client: Client, stored, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200
    assert response.content == CONTENT
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Content-Length"] == "1024"
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["ETag"] == f'"{hashlib.md5(CONTENT).hexdigest()}"' == f'"{stored.md5}"'
    assert response.headers["Content-Disposition"] == 'inline; filename="meteor 1.png"'


def test_content_can_never_run_as_a_page_of_this_origin(client: Client, server, tmp_path: Path) -> None:
    make_status(server.db, INSTALLATION_ID, utc(2015, 1, 1))
    page = make_file(server.db, tmp_path, utc(2015, 1, 2), content=b"<script>alert(1)</script>",
                     mime_type="text/html", file_name="x.html")
    response = client.get(f"/files/content/{page.file_id.hex}")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Content-Security-Policy"] == "sandbox"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_named_route_and_dashed_uuid(client: Client, stored) -> None:
    assert client.get(f"/files/content/{stored.file_id.hex}/meteor%201.png").content == CONTENT
    assert client.get(f"/files/content/{stored.file_id}").content == CONTENT


def test_head_gives_headers_without_body(client: Client, url: str) -> None:
    response = client.request("HEAD", url)
    assert response.status_code == 200
    assert response.headers["Content-Length"] == "1024" and response.content == b""


@pytest.mark.parametrize("range_header, content_range, body", [
    ("bytes=0-0", "bytes 0-0/1024", CONTENT[:1]),
    ("bytes=0-9", "bytes 0-9/1024", CONTENT[:10]),
    ("bytes=1000-", "bytes 1000-1023/1024", CONTENT[1000:]),
    ("bytes=-5", "bytes 1019-1023/1024", CONTENT[-5:]),
    ("bytes=1020-5000", "bytes 1020-1023/1024", CONTENT[1020:]),
    ("bytes=-5000", "bytes 0-1023/1024", CONTENT),
])
def test_single_ranges_are_206(client: Client, url: str, range_header: str, content_range: str,
                               body: bytes) -> None:
    response = client.get(url, headers={"Range": range_header})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == content_range
    assert response.headers["Content-Length"] == str(len(body))
    assert response.content == body


@pytest.mark.parametrize("range_header", ["bytes=1024-", "bytes=2000-3000", "bytes=5-2"])
def test_unsatisfiable_ranges_are_416(client: Client, url: str, range_header: str) -> None:
    response = client.get(url, headers={"Range": range_header})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == "bytes */1024"
    assert "message" in response.json()


@pytest.mark.parametrize("range_header", ["bytes=0-1,5-6", "items=0-5"])
def test_multi_ranges_and_other_units_get_the_whole_content(client: Client, url: str,
                                                            range_header: str) -> None:
    response = client.get(url, headers={"Range": range_header})
    assert response.status_code == 200
    assert response.content == CONTENT


def test_conditional_get(client: Client, stored, url: str) -> None:
    etag = f'"{stored.md5}"'
    not_modified = client.get(url, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified.headers["ETag"] == etag
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    last_modified = client.get(url).headers["Last-Modified"]
    assert client.get(url, headers={"If-Modified-Since": last_modified}).status_code == 304


def test_if_range(client: Client, stored, url: str) -> None:
    same = client.get(url, headers={"Range": "bytes=0-3", "If-Range": f'"{stored.md5}"'})
    assert (same.status_code, same.content) == (206, CONTENT[:4])
    changed = client.get(url, headers={"Range": "bytes=0-3", "If-Range": '"stale"'})
    assert (changed.status_code, changed.content) == (200, CONTENT)


def test_file_without_name_has_no_content_disposition(client: Client, server, tmp_path: Path) -> None:
    make_status(server.db, INSTALLATION_ID, utc(2015, 1, 1))
    record = make_file(server.db, tmp_path, utc(2015, 1, 2), content=b"abc", mime_type="text/plain")
    response = client.get(f"/files/content/{record.file_id.hex}")
    assert response.content == b"abc"
    assert "Content-Disposition" not in response.headers


def test_non_ascii_names_use_rfc_5987(client: Client, server, tmp_path: Path) -> None:
    make_status(server.db, INSTALLATION_ID, utc(2015, 1, 1))
    record = make_file(server.db, tmp_path, utc(2015, 1, 2), content=b"abc", file_name="météore.jpg")
    disposition = client.get(f"/files/content/{record.file_id.hex}").headers["Content-Disposition"]
    assert "filename*=UTF-8''m%C3%A9t%C3%A9ore.jpg" in disposition


@pytest.mark.parametrize("file_id, status", [
    ("not-a-uuid", 400), ("..%2F..%2Fetc%2Fpasswd", 400), ("0" * 31 + "g", 400),
    ("ab" * 16, 404),
])
def test_bad_or_unknown_ids(client: Client, stored, file_id: str, status: int) -> None:
    response = client.get(f"/files/content/{file_id}")
    assert response.status_code == status
    assert "message" in response.json()


def test_record_whose_content_is_gone_is_404(client: Client, server, stored, url: str) -> None:
    server.db.file_store.remove(stored.file_id)
    response = client.get(url)
    assert response.status_code == 404
    assert response.json() == {"message": "No content for this file", "entity_id": stored.file_id.hex}


def test_large_content_streams_intact(client: Client, server, tmp_path: Path) -> None:
    make_status(server.db, INSTALLATION_ID, utc(2015, 1, 1))
    content = os.urandom(5 * 1024 * 1024 + 17)
    record = make_file(server.db, tmp_path, utc(2015, 1, 2), content=content)
    response = client.get(f"/files/content/{record.file_id.hex}")
    assert hashlib.md5(response.content).hexdigest() == record.md5
    tail = client.get(f"/files/content/{record.file_id.hex}", headers={"Range": "bytes=-100"})
    assert tail.content == content[-100:]
