"""Search answers for the query API: conditional GET and a bounded cache of recent answers.

An answer is the JSON bytes ``MeteorDatabase.search_events_wire`` / ``search_files_wire`` build
(the exact wire format, without model objects). Its ``ETag`` is derived from the search and the
database's change counter (``MeteorDatabase.change_stamp``), which every committed write
advances, in whatever process or host it ran: a client repeating an unchanged search gets
``304 Not Modified``, and a repeated search is answered from this process's cache without
touching the tables. The stamp is read *before* the search, so an answer is never cached
under a stamp newer than the data it holds.
"""

from __future__ import annotations

import hashlib
import time
import threading
from collections import OrderedDict
from typing import Any, Callable

from flask import Response, request
from werkzeug.http import parse_etags

from meteorpi_server.errors import BadRequest


class ResultCache:
    """Least-recently-used answers, bounded by their total size in bytes; thread-safe."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> bytes | None:
        with self._lock:
            body = self._entries.get(key)
            if body is not None:
                self._entries.move_to_end(key)
            return body

    def put(self, key: tuple[str, str], body: bytes) -> None:
        if len(body) > self.max_bytes // 4:  # one huge answer must not flush everything else
            return
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = body
            self._bytes += len(body)
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= len(evicted)


def pop_cursor(search_dict: dict[str, Any]) -> str | None:
    """Remove and return the optional ``cursor`` of a search dict (see ``meteorpi_fdb._wire``)."""
    cursor = search_dict.pop("cursor", None)
    if cursor is not None and not isinstance(cursor, str):
        raise BadRequest("cursor must be the 'cursor' string of a previous page of this search")
    return cursor


class SearchAnswers:
    """The answers to ``GET /events/<text>`` and ``GET /files/<text>``.

    :param db: the database (its ``change_stamp``)
    :param cache: recent answers
    :param builders: for each kind (``"events"``, ``"files"``), a function of the search text
        that parses, checks and runs the search and returns the page's bytes (raising
        ``BadRequest`` / ``ValueError`` for a bad search)
    """

    def __init__(self, db: Any, cache: ResultCache, builders: dict[str, Callable[[str], bytes]]) -> None:
        self.db, self.cache, self.builders = db, cache, builders

    def current(self, kind: str, text: str, stamp: str | None = None) -> tuple[str, str, str]:
        """(stamp, cache key, ETag) of the search ``text`` of ``kind`` as of now (or ``stamp``)."""
        if stamp is None:
            stamp = self.db.change_stamp()
        key = f"{kind}/{text}"
        return stamp, key, hashlib.blake2b(f"{stamp}\n{key}".encode(), digest_size=16).hexdigest()

    def body(self, kind: str, text: str, stamp: str, key: str) -> bytes:
        """The page, from the cache or built (and then cached)."""
        body = self.cache.get((stamp, key))
        if body is None:
            body = self.builders[kind](text)
            self.cache.put((stamp, key), body)
        return body

    def flask_answer(self, kind: str, text: str) -> Response:
        """The answer as a Flask response: 200 with the page, or 304 if the client's copy
        (``If-None-Match``) is still current. The stamp is the one :class:`SearchShortcut`
        read for this request, if it passed the request on."""
        stamp, key, etag = self.current(kind, text, request.environ.get(_STAMP))
        if request.if_none_match.contains(etag):
            response = Response(status=304)
        else:
            response = Response(self.body(kind, text, stamp, key), mimetype="application/json")
        response.set_etag(etag)
        response.headers["Cache-Control"] = "no-cache"  # may be stored, but revalidated every time
        return response



def search_answer(db: Any, cache: ResultCache, kind: str, text: str,
                  build: Callable[[], bytes]) -> Response:
    """The conditional, cached answer of another search-like route (e.g. activity counts):
    ``build()`` makes the body when neither the client's copy nor the cache is current."""
    return SearchAnswers(db, cache, {kind: lambda _text: build()}).flask_answer(kind, text)


_STAMP = "meteorpi.change_stamp"


class SearchShortcut:
    """WSGI middleware answering plain ``GET`` searches before Flask routes them.

    It answers what needs no decision beyond the stamp and the search text: 304 to a current
    ``If-None-Match``, 200 from the cache, and 200 with a freshly built page. Everything else
    (other methods and paths, a search that fails to parse or to run) goes to the Flask app,
    which answers as it always does (with the stamp read here, so it is read once). The
    answers are the Flask views' answers byte for byte, headers included (CORS as configured
    by ``MeteorApp``: any origin); tests/test_server_search_cache.py compares them.
    """

    _HEADERS_304 = ("304 NOT MODIFIED", [("Cache-Control", "no-cache"), ("Access-Control-Allow-Origin", "*")])

    def __init__(self, wsgi_app: Callable, answers: SearchAnswers, url_path: str = "",
                 observers: list[Callable[[str, str, int, float], None]] | None = None) -> None:
        self.wsgi_app = wsgi_app
        self.answers = answers
        #: called with (URL rule, method, status, seconds) for each answer given here (metrics)
        self.observers = observers if observers is not None else []
        self._rules = {"events": f"{url_path}/events/<anything:search>",
                       "files": f"{url_path}/files/<anything:search>"}
        self._prefixes = [(f"{url_path}/events/", "events"), (f"{url_path}/files/", "files")]
        self._content = f"{url_path}/files/content/"

    def _search(self, environ: dict[str, Any]) -> tuple[str, str] | None:
        """(kind, search text) if this request is a plain search, as Flask's routing reads it."""
        if environ.get("REQUEST_METHOD") != "GET":
            return None
        path = environ.get("PATH_INFO") or ""
        if not path.isascii():  # the path as Werkzeug decodes it
            path = path.encode("latin1").decode(errors="replace")
        for prefix, kind in self._prefixes:
            if path.startswith(prefix) and not path.startswith(self._content):
                text = path[len(prefix):]
                if text and not text.startswith("/") and "//" not in text:
                    return kind, text
        return None

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        search = self._search(environ)
        if search is None:
            return self.wsgi_app(environ, start_response)
        kind, text = search
        started = time.perf_counter()
        stamp, key, etag = self.answers.current(kind, text)
        quoted = f'"{etag}"'
        client_copy = environ.get("HTTP_IF_NONE_MATCH")
        if client_copy and parse_etags(client_copy).contains(etag):
            status, headers = self._HEADERS_304
            start_response(status, [("ETag", quoted), *headers])
            self._observe(kind, 304, started)
            return []
        try:
            body = self.answers.body(kind, text, stamp, key)
        except Exception:  # a bad search or a failure: Flask answers (and logs) it
            environ[_STAMP] = stamp
            return self.wsgi_app(environ, start_response)
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                                  ("ETag", quoted), ("Cache-Control", "no-cache"),
                                  ("Access-Control-Allow-Origin", "*")])
        self._observe(kind, 200, started)
        return [body]

    def _observe(self, kind: str, status: int, started: float) -> None:
        for observer in self.observers:
            observer(self._rules[kind], "GET", status, time.perf_counter() - started)
