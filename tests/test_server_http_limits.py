"""Oversized and malformed request heads get the JSON error shape from MeteorServer (Tornado),
never a silently closed connection or an empty 400."""

from __future__ import annotations

import json
import socket

import pytest

from meteorpi_server.http_limits import HEAD_READ_LIMIT, MAX_HEADER_BYTES, MAX_REQUEST_LINE
from tests.helpers import make_file, make_status, utc
from tests.server_helpers import cheap_password_hashing, make_server, server  # noqa: F401


def raw_request(port: int, head: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send a request head as given; return the answer's status, headers and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(head)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head_bytes, _, body = answer.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if line)
    return int(lines[0].split()[1]), headers, body


def request(target: bytes, *headers: bytes) -> bytes:
    return b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + b"".join(
        h + b"\r\n" for h in headers) + b"\r\n"


def test_a_request_line_over_64_kb_is_a_json_414(server):
    status, headers, body = raw_request(server.port, request(b"/cameras?" + b"a" * MAX_REQUEST_LINE))
    assert status == 414 and headers["Content-Type"] == "application/json"
    assert "request line too long" in json.loads(body)["message"]


def test_a_request_line_just_under_the_limit_is_served(server):
    status, _headers, body = raw_request(server.port, request(b"/cameras?" + b"a" * (MAX_REQUEST_LINE - 100)))
    assert status == 200 and json.loads(body) == {"cameras": []}


def test_headers_over_64_kb_are_a_json_431(server):
    filler = [b"X-Filler-%d: " % n + b"v" * 8000 for n in range(MAX_HEADER_BYTES // 8000 + 1)]
    status, headers, body = raw_request(server.port, request(b"/cameras", *filler))
    assert status == 431 and "headers too large" in json.loads(body)["message"]


@pytest.mark.parametrize("header", [b"Range: bytes=\x00", b"X-Anything: a\x00b"])
def test_a_control_character_in_a_header_is_a_json_400(server, header):
    make_status(server.db, None, utc(2015, 1, 1))
    record = make_file(server.db, server.db.file_store.root + "-in", utc(2015, 1, 2))
    status, headers, body = raw_request(server.port, request(b"/files/content/" + record.file_id.hex.encode(), header))
    assert status == 400 and headers["Content-Type"] == "application/json"
    assert "malformed HTTP request head" in json.loads(body)["message"]


@pytest.mark.parametrize("header, expected", [
    (b"Range: bytes=x-y", 416),  # RFC 9110 lets a server reject an invalid ranges-specifier
    (b"Range: bytes=", 416),
    (b"Range: lines=1-2", 200),  # a unit it does not know is ignored
])
def test_an_unusable_range_is_answered_in_json_or_ignored(server, header, expected):
    make_status(server.db, None, utc(2015, 1, 1))
    record = make_file(server.db, server.db.file_store.root + "-in", utc(2015, 1, 2), content=b"0123456789")
    status, _headers, body = raw_request(server.port, request(b"/files/content/" + record.file_id.hex.encode(), header))
    assert status == expected
    assert body == b"0123456789" if expected == 200 else "range" in json.loads(body)["message"].lower()


def test_the_documented_limits_are_the_real_ones():
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "http-api.md").read_text(encoding="utf-8")
    assert MAX_REQUEST_LINE == MAX_HEADER_BYTES == 64 * 1024 and HEAD_READ_LIMIT == 1024 * 1024
    assert "64 KiB" in text and "1 MiB" in text and "414" in text and "431" in text
