"""Limits on the request line and headers of the Tornado server, answered in the JSON error shape.

Tornado closes the connection without a word when a request's head exceeds its
``max_header_size``, and answers a malformed head (e.g. a control character in a header value)
with a bare ``400`` and no body. ``MeteorServer`` instead reads heads up to
:data:`HEAD_READ_LIMIT`, answers a request line over :data:`MAX_REQUEST_LINE` with 414 and a
header block over :data:`MAX_HEADER_BYTES` with 431, and gives Tornado's bare 400 a JSON body.
Only a head over :data:`HEAD_READ_LIMIT` still ends in a closed connection.
"""

from __future__ import annotations

import json
from typing import Any

from tornado import httputil
from tornado.httpserver import HTTPServer

#: Longest request line (method, target, version) answered normally.
MAX_REQUEST_LINE = 64 * 1024
#: Largest header block (names and values) answered normally.
MAX_HEADER_BYTES = 64 * 1024
#: How much of a request's head Tornado reads before closing the connection unanswered.
HEAD_READ_LIMIT = 1024 * 1024

_TORNADO_BARE_400 = b"HTTP/1.1 400 Bad Request\r\n\r\n"


def json_error(status: int, reason: str, message: str) -> tuple[httputil.ResponseStartLine,
                                                                 httputil.HTTPHeaders, bytes]:
    """Start line, headers and body of a JSON error that closes the connection."""
    body = json.dumps({"message": message}).encode()
    headers = httputil.HTTPHeaders({"Content-Type": "application/json", "Connection": "close",
                                    "Content-Length": str(len(body))})
    return httputil.ResponseStartLine("HTTP/1.1", status, reason), headers, body


def oversized(start_line: Any, headers: httputil.HTTPHeaders) -> tuple[int, str, str] | None:
    """(status, reason, message) if the request's head is over the limits, else None."""
    line = len(start_line.method) + len(start_line.path) + len(start_line.version) + 2
    if line > MAX_REQUEST_LINE:
        return 414, "URI Too Long", (f"request line too long ({line} bytes, at most "
                                     f"{MAX_REQUEST_LINE}); send long searches with fewer or shorter terms")
    size = sum(len(name) + len(value) + 4 for name, value in headers.get_all())
    if size > MAX_HEADER_BYTES:
        return 431, "Request Header Fields Too Large", (f"request headers too large ({size} bytes, "
                                                        f"at most {MAX_HEADER_BYTES})")
    return None


class JsonErrorHTTPServer(HTTPServer):
    """Tornado's HTTPServer, with its bare 400 for a malformed request head given a JSON body."""

    def handle_stream(self, stream: Any, address: tuple) -> None:
        write = stream.write

        def write_json_errors(data: Any, *args: Any, **kwargs: Any) -> Any:
            if data == _TORNADO_BARE_400:
                start_line, headers, body = json_error(400, "Bad Request", "malformed HTTP request head "
                                                       "(a control character in a header, a bad request line, ...)")
                head = f"HTTP/1.1 {start_line.code} {start_line.reason}\r\n" + "".join(
                    f"{name}: {value}\r\n" for name, value in headers.get_all()) + "\r\n"
                data = head.encode("latin-1") + body
            return write(data, *args, **kwargs)

        stream.write = write_json_errors
        super().handle_stream(stream, address)
