"""The activity API: counts of events or files per camera and time bin, for any search. No auth.

``GET /activity/events/<search>`` and ``GET /activity/files/<search>`` take the search exactly as
``/events/<search>`` and ``/files/<search>`` do (its skip, limit and cursor are ignored), with
``bin=hour|night|day`` (default night: noon to noon UTC) and optionally ``mean=<metadata key>``.
The database does the counting (see ``meteorpi_fdb._activity``). Answers carry an ETag and are
cached like search answers (``search_cache``): unchanged data gives 304.
"""

from __future__ import annotations

import json

from flask import Response, request

from meteorpi_model import EventSearch, FileRecordSearch
from meteorpi_server.app import MeteorApp
from meteorpi_server.query_api import AnythingConverter, decode_search
from meteorpi_server.routing import blueprint
from meteorpi_server.search_cache import ResultCache, pop_cursor, search_answer

_SEARCHES = {"events": EventSearch, "files": FileRecordSearch}


def add_routes(meteor_app: MeteorApp, url_path: str = "") -> None:
    """Add ``GET /activity/events/<search>`` and ``GET /activity/files/<search>``."""
    db = meteor_app.db
    meteor_app.app.url_map.converters.setdefault("anything", AnythingConverter)
    bp = blueprint("activity", url_path)
    cache = ResultCache(meteor_app.settings["MPI_SEARCH_CACHE_BYTES"] // 4)

    def answer(kind: str, search: str) -> Response:
        bin_name, mean = request.args.get("bin", "night"), request.args.get("mean") or None

        def build() -> bytes:
            search_dict = decode_search(search)
            pop_cursor(search_dict)
            counts = db.activity(kind, _SEARCHES[kind].from_dict(search_dict), bin_name, mean)
            return json.dumps(counts, separators=(",", ":")).encode()

        key = json.dumps([bin_name, mean])  # the search text follows: no ambiguity
        return search_answer(db, cache, f"activity/{kind}/{key}", search, build)

    @bp.get("/activity/events/<anything:search>")
    def activity_events(search: str) -> Response:
        return answer("events", search)

    @bp.get("/activity/files/<anything:search>")
    def activity_files(search: str) -> Response:
        return answer("files", search)

    meteor_app.app.register_blueprint(bp)
