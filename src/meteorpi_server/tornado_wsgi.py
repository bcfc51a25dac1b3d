"""A WSGI container for Tornado's HTTP server that suits file downloads and uploads.

Compared with ``tornado.wsgi.WSGIContainer`` it runs the app on a thread pool (as Tornado 6.3+
allows), streams large responses to the client with flow control instead of assembling them in
memory (a slow client then holds no thread), reads files in large blocks, and spools request
bodies to a temporary file without parsing them (the WSGI app parses what it needs).
"""

from __future__ import annotations

import logging
import tempfile
from typing import Any, Callable

from tornado import httputil
from tornado.ioloop import IOLoop
from tornado.iostream import StreamClosedError
from tornado.wsgi import WSGIContainer
from werkzeug.wsgi import FileWrapper

from meteorpi_server.http_limits import json_error, oversized

logger = logging.getLogger("meteorpi.server")

#: Bodies larger than this (with a Content-Length) are streamed rather than buffered.
STREAM_THRESHOLD = 256 * 1024
#: Read size for file content (Werkzeug's default is 8 KiB: too many thread hops).
FILE_BLOCK_SIZE = 256 * 1024
#: Request bodies up to this size stay in memory; larger ones go to a temporary file.
SPOOL_IN_MEMORY = 1024 * 1024


def _file_wrapper(file: Any, buffer_size: int = 8192) -> FileWrapper:
    return FileWrapper(file, max(buffer_size, FILE_BLOCK_SIZE))


class _SpooledBodyDelegate(httputil.HTTPMessageDelegate):
    """Receives one request, spooling its body to a temporary file (in memory while small).

    Unlike Tornado's own adapter it does not parse form bodies: the WSGI app reads the raw
    body, and Tornado's parser would answer malformed multipart bodies with an empty 400.
    """

    def __init__(self, container: "StreamingWSGIContainer", connection: httputil.HTTPConnection) -> None:
        self.container = container
        self.connection = connection
        self.request: httputil.HTTPServerRequest | None = None
        self.body: tempfile.SpooledTemporaryFile | None = None
        self.refusal: tuple[int, str, str] | None = None

    def headers_received(self, start_line: Any, headers: httputil.HTTPHeaders) -> None:
        self.refusal = oversized(start_line, headers)
        self.request = httputil.HTTPServerRequest(connection=self.connection,
                                                  start_line=start_line, headers=headers)

    def data_received(self, chunk: bytes) -> None:
        if self.refusal is not None:
            return
        if self.body is None:
            self.body = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
        self.body.write(chunk)

    def finish(self) -> None:
        assert self.request is not None
        if self.refusal is not None:  # answered here: the app never sees an oversized head
            self.connection.write_headers(*json_error(*self.refusal))
            self.connection.finish()
            return
        if self.body is not None:
            self.body.seek(0)
        self.request.wsgi_input = self.body  # type: ignore[attr-defined]
        self.body = None  # handle_request closes it from now on
        self.container(self.request)

    def on_connection_close(self) -> None:
        if self.body is not None:
            self.body.close()


class StreamingWSGIContainer(WSGIContainer, httputil.HTTPServerConnectionDelegate):
    """A ``WSGIContainer`` (run on an executor) that spools request bodies and streams large
    responses to the client with flow control."""

    def start_request(self, server_conn: object,
                      request_conn: httputil.HTTPConnection) -> httputil.HTTPMessageDelegate:
        return _SpooledBodyDelegate(self, request_conn)

    def environ(self, request: httputil.HTTPServerRequest) -> dict[str, Any]:
        environ = super().environ(request)
        environ["wsgi.file_wrapper"] = _file_wrapper
        body = getattr(request, "wsgi_input", None)
        if body is not None:
            environ["wsgi.input"] = body
        return environ

    async def handle_request(self, request: httputil.HTTPServerRequest) -> None:
        state: dict[str, Any] = {"headers_sent": False}
        try:
            await self._respond(request, state)
        except StreamClosedError:
            logger.debug("Client closed the connection during %s %s", request.method, request.uri)
        except Exception:
            logger.exception("Error while serving %s %s", request.method, request.uri)
            if not state["headers_sent"]:
                await self._write_error(request)
            else:
                request.connection.close()  # type: ignore[attr-defined]
        finally:
            body = getattr(request, "wsgi_input", None)
            if body is not None:
                body.close()

    async def _respond(self, request: httputil.HTTPServerRequest, state: dict[str, Any]) -> None:
        buffered: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]],
                           exc_info: Any = None) -> Callable[[bytes], Any]:
            state["status"], state["headers"] = status, headers
            return buffered.append

        loop = IOLoop.current()
        app_response = await loop.run_in_executor(
            self.executor, self.wsgi_application, self.environ(request), start_response)
        try:
            chunks = iter(app_response)
            size = sum(len(c) for c in buffered)
            while True:
                chunk = await loop.run_in_executor(self.executor, next, chunks, None)
                if chunk is None:
                    break
                if state["headers_sent"]:
                    await request.connection.write(chunk)
                    continue
                buffered.append(chunk)
                size += len(chunk)
                if size >= STREAM_THRESHOLD and _has_length(state["headers"]):
                    await self._write_headers(request, state, b"".join(buffered))
                    buffered = []
            if not state["headers_sent"]:
                await self._write_headers(request, state, b"".join(buffered))
            request.connection.finish()
            self._log(int(state["status"].split(" ", 1)[0]), request)
        finally:
            close = getattr(app_response, "close", None)
            if close is not None:
                close()

    @staticmethod
    async def _write_headers(request: httputil.HTTPServerRequest, state: dict[str, Any],
                             body: bytes) -> None:
        status_code, reason = state["status"].split(" ", 1)
        headers = state["headers"]
        names = {name.lower() for name, _ in headers}
        if int(status_code) != 304:
            if "content-length" not in names:
                headers.append(("Content-Length", str(len(body))))
            if "content-type" not in names:
                headers.append(("Content-Type", "text/html; charset=UTF-8"))
        header_obj = httputil.HTTPHeaders()
        for name, value in headers:
            header_obj.add(name, value)
        start_line = httputil.ResponseStartLine("HTTP/1.1", int(status_code), reason)
        state["headers_sent"] = True
        await request.connection.write_headers(start_line, header_obj, chunk=body)

    @staticmethod
    async def _write_error(request: httputil.HTTPServerRequest) -> None:
        body = b'{"message": "Internal server error"}'
        headers = httputil.HTTPHeaders({"Content-Type": "application/json",
                                        "Content-Length": str(len(body))})
        start_line = httputil.ResponseStartLine("HTTP/1.1", 500, "Internal Server Error")
        await request.connection.write_headers(start_line, headers, chunk=body)
        request.connection.finish()


def _has_length(headers: list[tuple[str, str]]) -> bool:
    return any(name.lower() == "content-length" for name, _ in headers)
