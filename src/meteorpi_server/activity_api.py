"""The activity API: counts of events or files per camera and time bin, for any search. No auth.

``GET /activity/events/<search>`` and ``GET /activity/files/<search>`` take the search exactly as
``/events/<search>`` and ``/files/<search>`` do (its skip, limit and cursor are ignored), with
``bin=hour|night|day`` (default night: noon to noon UTC) and optionally ``mean=<metadata key>``.
The database does the counting (see ``meteorpi_fdb._activity``).
"""

from __future__ import annotations

from flask import Response, jsonify, request

from meteorpi_model import EventSearch, FileRecordSearch
from meteorpi_server.app import MeteorApp
from meteorpi_server.query_api import AnythingConverter, decode_search
from meteorpi_server.routing import blueprint
from meteorpi_server.search_cache import pop_cursor

_SEARCHES = {"events": EventSearch, "files": FileRecordSearch}


def add_routes(meteor_app: MeteorApp, url_path: str = "") -> None:
    """Add ``GET /activity/events/<search>`` and ``GET /activity/files/<search>``."""
    db = meteor_app.db
    meteor_app.app.url_map.converters.setdefault("anything", AnythingConverter)
    bp = blueprint("activity", url_path)

    def answer(kind: str, search: str) -> Response:
        search_dict = decode_search(search)
        pop_cursor(search_dict)
        parsed = _SEARCHES[kind].from_dict(search_dict)
        mean = request.args.get("mean") or None
        return jsonify(db.activity(kind, parsed, request.args.get("bin", "night"), mean))

    @bp.get("/activity/events/<anything:search>")
    def activity_events(search: str) -> Response:
        return answer("events", search)

    @bp.get("/activity/files/<anything:search>")
    def activity_files(search: str) -> Response:
        return answer("files", search)

    meteor_app.app.register_blueprint(bp)
