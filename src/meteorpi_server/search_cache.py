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
import threading
from collections import OrderedDict
from typing import Any, Callable

from flask import Response, request

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


def search_answer(db: Any, cache: ResultCache, kind: str, text: str,
                  build: Callable[[], bytes]) -> Response:
    """The answer to ``GET /<kind>/<text>``: 200 with the page (``build()`` parses, checks and
    runs the search, unless the answer is cached), or 304 if the client's copy
    (``If-None-Match``) is still current. Tags and cache entries are keyed by the search as
    sent, so a repeated search is not even parsed again."""
    stamp = db.change_stamp()
    key = f"{kind}/{text}"
    etag = hashlib.blake2b(f"{stamp}\n{key}".encode(), digest_size=16).hexdigest()
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        body = cache.get((stamp, key))
        if body is None:
            body = build()
            cache.put((stamp, key), body)
        response = Response(body, mimetype="application/json")
    response.set_etag(etag)
    response.headers["Cache-Control"] = "no-cache"  # may be stored, but revalidated every time
    return response
