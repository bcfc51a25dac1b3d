"""``MeteorServer``: a MeteorApp on Tornado's HTTP server, for development and tests.

Production deployments run ``meteorpi_server.wsgi:create_app()`` under gunicorn instead. Here the
WSGI app runs on a thread pool, so a slow download does not stall a search, and large bodies are
streamed to the client with flow control instead of being assembled in memory first.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Mapping

from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop
from tornado.netutil import bind_sockets

from meteorpi_server.app import MeteorApp
from meteorpi_server.http_limits import HEAD_READ_LIMIT, JsonErrorHTTPServer
from meteorpi_server.routing import optional_importer_api
from meteorpi_server.startup import freeze_startup_objects
from meteorpi_server.tornado_wsgi import StreamingWSGIContainer

logger = logging.getLogger("meteorpi.server")

#: Threads running the WSGI app.
DEFAULT_THREADS = 16
#: Extra body bytes Tornado reads beyond the app's cap, so the app can answer 413 in JSON.
BODY_SLACK = 1 << 20


class MeteorServer:
    """Tornado-based server exposing a :class:`MeteorApp` (all route sets by default).

    :param db_path: database URL or path (see ``meteorpi_fdb.MeteorDatabase``)
    :param file_store_path: directory of file content
    :param port: TCP port; 0 picks a free one when the server binds (``port`` then holds the
        real number). Constructing does not bind: :meth:`start`, :meth:`start_non_blocking` or
        :meth:`bind` do.
    :param add_routes: add every route set (query, admin, import, service) when True
    :param installation_id: this node's camera id (default: from the MAC address)
    :param settings: ``MPI_*`` settings for the app (see ``meteorpi_server.settings``)
    :param address: interface to listen on
    :param threads: size of the thread pool running the WSGI app
    :ivar db: the ``MeteorDatabase``
    :ivar meteor_app: the :class:`MeteorApp`
    :ivar server: the Tornado ``HTTPServer`` (None after a stop, until the next start)
    :ivar port: the port we listen on
    """

    class IOLoopThread(threading.Thread):
        """A thread running its own Tornado IOLoop, for serving without blocking (tests)."""

        def __init__(self) -> None:
            super().__init__(name="meteorpi-ioloop", daemon=True)
            self.io_loop: IOLoop | None = None
            self._loop: asyncio.AbstractEventLoop | None = None
            self._ready = threading.Event()
            self._stopped: asyncio.Event | None = None

        def run(self) -> None:
            asyncio.run(self._main())

        async def _main(self) -> None:
            self._loop = asyncio.get_running_loop()
            self._stopped = asyncio.Event()
            self.io_loop = IOLoop.current()
            self._ready.set()
            await self._stopped.wait()

        def wait_ready(self, timeout: float = 10) -> None:
            if not self._ready.wait(timeout):
                raise RuntimeError("IOLoop thread did not start")

        def call(self, coroutine_function: Callable[[], Any], timeout: float = 30) -> Any:
            """Run ``coroutine_function()`` on this loop and wait for its result."""
            assert self._loop is not None
            return asyncio.run_coroutine_threadsafe(coroutine_function(), self._loop).result(timeout)

        def stop(self) -> None:
            """Stop the loop; returns once the thread has finished."""
            if self._loop is not None and self._stopped is not None:
                self._loop.call_soon_threadsafe(self._stopped.set)
            self.join()

    def __init__(self, db_path: str, file_store_path: str, port: int, add_routes: bool = True,
                 *, installation_id: str | None = None, settings: Mapping[str, Any] | None = None,
                 address: str = "127.0.0.1", threads: int = DEFAULT_THREADS) -> None:
        from meteorpi_fdb import MeteorDatabase

        self.db = MeteorDatabase(db_path, file_store_path, installation_id=installation_id)
        self.meteor_app = MeteorApp(self.db, settings)
        if add_routes:
            MeteorServer.add_all_routes(self.meteor_app)
        self.address = address
        self.threads = threads
        self.port = port
        self._sockets: list | None = None
        self.server = self._make_server()

    @staticmethod
    def add_all_routes(meteor_app: MeteorApp) -> None:
        """Add the query, admin, import, browse (the website), coincidences and service (/health,
        /openapi.json) routes."""
        from meteorpi_server import admin_api, coincidences_api, query_api, service_api, website

        query_api.add_routes(meteor_app)
        admin_api.add_routes(meteor_app)
        importer = optional_importer_api()
        if importer is not None:
            importer.add_routes(meteor_app)
        website.add_routes(meteor_app)
        coincidences_api.add_routes(meteor_app)
        service_api.add_routes(meteor_app)

    def base_url(self) -> str:
        """The full URL of this server, ending in ``/``."""
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}/"

    def bind(self) -> None:
        """Reserve the port now (start() and start_non_blocking() do it when needed); with port 0
        this fixes ``port``, so the URL can be shown before serving."""
        if self._sockets is None:
            self._sockets = bind_sockets(self.port, address=self.address)
            self.port = self._sockets[0].getsockname()[1]

    def _make_server(self) -> HTTPServer:
        self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="meteorpi-wsgi")
        container = StreamingWSGIContainer(self.meteor_app.app, executor=self._executor)
        max_body = self.meteor_app.settings["MPI_MAX_UPLOAD_BYTES"] + BODY_SLACK
        return JsonErrorHTTPServer(container, max_body_size=max_body, max_buffer_size=max_body,
                                   max_header_size=HEAD_READ_LIMIT)

    async def _listen(self) -> None:
        self.bind()
        if self.server is None:  # stopped before: a stopped HTTPServer cannot serve again
            self.server = self._make_server()
        self.server.add_sockets(self._sockets)

    async def _shutdown(self) -> None:
        self.server.stop()
        self._sockets = None
        await self.server.close_all_connections()
        self.server = None

    def start(self) -> None:
        """Serve in the current thread until interrupted (blocks)."""

        async def serve() -> None:
            await self._listen()
            freeze_startup_objects()
            logger.info("Serving on %s", self.base_url())
            try:
                await asyncio.Event().wait()
            finally:
                await self._shutdown()

        try:
            asyncio.run(serve())
        except KeyboardInterrupt:
            pass
        finally:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def start_non_blocking(self) -> Callable[[], None]:
        """Serve from a background thread; returns a function that stops the server and frees
        the port (it returns once both are done)."""
        thread = MeteorServer.IOLoopThread()
        thread.start()
        thread.wait_ready()
        thread.call(self._listen)
        freeze_startup_objects()
        stopped = threading.Event()

        def stop() -> None:
            if stopped.is_set():
                return
            stopped.set()
            thread.call(self._shutdown)
            thread.stop()
            self._executor.shutdown(wait=False, cancel_futures=True)

        return stop
